"""Two disparity checks of one rate over one view (a ratio and a difference): each hides the
two group rates its value is made of when one of them would give back a count under 11, but
together their values would give both back (q = a / b and d = b - a give b = d / (1 - q)).
The second kind of value is withheld in every output a person reads; the groups hidden in one
check are hidden in all."""

from __future__ import annotations

import json
import re

import pytest

from .bad_inputs_support import log_spec, write_yaml
from .test_policies import _log

CHECKS = [
    {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
    {"metric": "selection_rate", "disparity": "difference", "max": 0.1},
]


def _audit(tmp_path, fairgate, young: tuple[int, int]):
    """big: 220 of 400 selected, other: 150 of 300, young: ``young`` (n, selected)."""
    cells = [({"group": "big"}, 400, 220), ({"group": "other"}, 300, 150)]
    data = _log(tmp_path / "log.csv", [*cells, ({"group": "young"}, *young)])
    spec = log_spec(data, checks=CHECKS)
    out = tmp_path / "out"
    _, _, err = fairgate("run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow")
    doc = json.loads((out / "results.json").read_text())
    ratio, difference = doc["checks"]
    assert (ratio["disparity"], difference["disparity"]) == ("ratio", "difference")
    return doc, out, err, ratio, difference


def test_a_ratio_and_a_difference_never_give_back_the_hidden_rates_together(tmp_path, fairgate):
    from reports import (
        diff_documents,
        group_values,
        log_audit,
        metric_key,
        tracking_client,
        withheld_values,
    )

    doc, out, err, ratio, difference = _audit(tmp_path, fairgate, (39, 6))
    young, big = 6 / 39, 220 / 400
    # The hostile case: both checks are made of young (6 of 39) and big; each alone hides
    # both rates, and their two values would give both back.
    for check in (ratio, difference):
        assert {check["details"]["worst_group"], check["details"]["best_group"]} == {
            "group=young",
            "group=big",
        }
        shown = group_values(check, document=doc)
        assert shown["group=young"].rate is None and shown["group=big"].rate is None
    q, d = ratio["value"], difference["value"]
    assert q == pytest.approx(young / big) and d == pytest.approx(big - young)
    assert d / (1 - q) == pytest.approx(big)  # what a reader of both values could do
    assert withheld_values(doc) == {difference["name"]}
    # summary.md: the ratio's value is shown, the difference's is not.
    md = (out / "summary.md").read_text()
    rows = {r.split(" | ")[0].strip("| "): r.split(" | ") for r in md.splitlines() if "|" in r}

    def row(name: str) -> list[str]:
        return rows[name.replace("[", "\\[").replace("]", "\\]")]

    assert row(ratio["name"])[2] == f"{q:.3f}"
    assert row(difference["name"])[2:4] == ["suppressed", "suppressed to suppressed"]
    shown_d = [f"{d:.3f}", f"{d:.2f}", f"{100 * d:.1f} points", f"{100 * d:.0f} points"]
    # report.html, junit.xml, summary.md and the CLI's messages: the difference's value in
    # no form (its value is the check's headline everywhere else).
    html = (out / "report.html").read_text()
    junit = (out / "junit.xml").read_text()
    for name, text in {"html": html, "junit": junit, "md": md, "stderr": err}.items():
        assert not any(s in text for s in shown_d), name
    assert "suppressed (a count under 11 could be recovered from it)" in html
    assert f"{q:.3f}" in html  # the ratio is still shown
    assert "Its value and interval are suppressed" in junit  # the failure's message
    assert re.search(rf"{re.escape(difference['name'])}: fail\. Its value", err)
    # MLflow: the ratio's value is logged, not the difference's; no group rate of the pair.
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    logged = log_audit(doc, {}, tracking_uri=uri)
    metrics = tracking_client(uri).get_run(logged["run_id"]).data.metrics
    assert metrics[metric_key("check", ratio["name"])] == pytest.approx(q)
    assert metric_key("check", difference["name"]) not in metrics
    for group in ("group=young", "group=big"):
        assert metric_key("group", "selection_rate", group) not in metrics
    assert metrics[metric_key("group", "selection_rate", "group=other")] == pytest.approx(0.5)
    # The register's trend and diff pages (from the same documents) hide it too.
    compared = {c["name"]: c for c in diff_documents(doc, doc)["checks"]}
    assert compared[difference["name"]]["after"]["suppressed"] is True
    assert compared[difference["name"]]["after"]["value"] is None
    assert compared[ratio["name"]]["after"]["value"] == pytest.approx(q)


def test_values_are_all_shown_when_no_rate_is_hidden(tmp_path, fairgate):
    from reports import withheld_values

    doc, out, _, ratio, difference = _audit(tmp_path, fairgate, (60, 20))
    assert withheld_values(doc) == set()
    md = (out / "summary.md").read_text()
    assert f"| {difference['value']:.3f} |" in md and f"| {ratio['value']:.3f} |" in md


def test_the_family_run_in_mlflow_does_not_log_a_withheld_value(tmp_path, fairgate):
    """The audit's MLflow run withheld the difference's value, but its child run per check
    family ("fairness") logged every check's value again: the ratio and the difference
    together gave back both hidden rates (young's 6 of 39)."""
    from reports import log_audit, metric_key, tracking_client

    doc, _, _, ratio, difference = _audit(tmp_path, fairgate, (39, 6))
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    logged = log_audit(doc, {}, tracking_uri=uri)
    client = tracking_client(uri)
    (child,) = client.search_runs(
        [logged["experiment_id"]], filter_string=f"tags.mlflow.parentRunId = '{logged['run_id']}'"
    )
    assert child.data.tags["fairgate.family"] == "fairness"
    metrics = child.data.metrics
    assert metrics[metric_key("check", ratio["name"])] == pytest.approx(ratio["value"])
    assert metric_key("check", difference["name"]) not in metrics
