"""Red team 2 of the render refusals: evidence fairgate itself wrote must render again.

An impact ratio the committee gave no ``min`` (NYC LL144 sets no pass mark) passes with no
bound by design; the refusal of a pass "under a threshold that bounds nothing" refused that
genuine evidence (``fairgate render``, ``verify`` and ``register`` share the check).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from audits._document import contradictions

from .bad_inputs_support import decision_log, log_spec, write_yaml

FAIR = {"a": (400, 0.5, 0.5), "b": (400, 0.5, 0.5)}


@pytest.fixture
def impact_audit(fairgate, tmp_path) -> Path:
    """A fair decision log's signed evidence with an impact ratio that has no 'min'."""
    private = tmp_path / "k.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private], check=True)
    subprocess.run(
        ["openssl", "pkey", "-in", private, "-pubout", "-out", tmp_path / "k.pub.pem"],
        check=True,
    )
    checks = [
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.5},
        {"type": "impact_ratio"},  # reported, blocking nothing: no 'min'
    ]
    spec = write_yaml(
        tmp_path / "spec.yaml", log_spec(decision_log(tmp_path, groups=FAIR), checks=checks)
    )
    out = tmp_path / "out"
    code, stdout, err = fairgate(
        "run",
        spec,
        "--out",
        out,
        "--no-mlflow",
        "-q",
        "--ledger",
        tmp_path / "ledger.jsonl",
        "--signing-key",
        private,
    )
    assert code == 0, stdout + err
    return out


def test_an_impact_ratio_without_a_committee_bound_renders_again(impact_audit, fairgate, tmp_path):
    document = json.loads((impact_audit / "results.json").read_text(encoding="utf-8"))
    (ratio,) = [c for c in document["checks"] if c["type"] == "impact_ratio"]
    assert ratio["status"] == "pass" and ratio["threshold"] == {}
    assert contradictions(document) == []
    code, stdout, err = fairgate("render", impact_audit / "results.json", "--out", tmp_path / "re")
    assert code == 0, stdout + err
    assert (tmp_path / "re" / "report.html").is_file()


def test_an_impact_ratio_without_a_committee_bound_verifies(impact_audit, fairgate, tmp_path):
    """verify printed 'NOT VERIFIED' for this genuine, signed evidence (exit 1)."""
    code, stdout, err = fairgate("verify", impact_audit, "--key", tmp_path / "k.pub.pem")
    assert code == 0, stdout + err
    assert "verified: everything matches" in stdout
    # authentic evidence is not a release: what it decided is said beside it
    blocked = json.loads((impact_audit / "results.json").read_text())["exit_code"] != 0
    assert ("the release was BLOCKED" in stdout) == blocked
    assert ("the release may proceed" in stdout) == (not blocked)


@pytest.mark.parametrize(
    ("index", "threshold"),
    [(1, {"min": "0.8"}), (1, {"min": None}), (0, {})],
)
def test_a_bound_that_bounds_nothing_is_still_refused(impact_audit, index, threshold):
    """Only an empty threshold of a check that passes unbounded by design is kept; a text
    bound, or a group check's bound removed, is still a contradiction."""
    document = json.loads((impact_audit / "results.json").read_text(encoding="utf-8"))
    document["checks"][index]["threshold"] = threshold
    assert any("bounds nothing" in p for p in contradictions(document))


def test_a_named_expectation_s_observed_value_is_not_shown(fairgate, tmp_path):
    """Red team 2: report.html printed a named expectation's observed value as it was: the
    sum of the label column (10 people with the favourable outcome, a count under 11) and
    its mean over the rows (10/600, from which the count comes back). results.json keeps
    them, as it keeps every exact aggregate."""
    log = decision_log(tmp_path, groups={"a": (300, 0.012, 0.5), "b": (300, 0.012, 0.5)})
    positives = int((pd.read_csv(log).outcome == 1).sum())
    assert 0 < positives < 11
    named = [
        {
            "expectation": "expect_column_sum_to_be_between",
            "kwargs": {"column": "outcome", "min_value": 0},
        },
        {
            "expectation": "expect_column_mean_to_be_between",
            "kwargs": {"column": "outcome", "min_value": 0},
        },
    ]
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(log, data={"expectations": named}))
    out = tmp_path / "out"
    code, stdout, err = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    assert code == 0, stdout + err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    observed = {
        r["expectation"]: r["observed_value"]
        for r in results["data_validation"]["results"]
        if r["kind"] == "named"
    }
    assert observed["expect_column_sum_to_be_between"] == positives
    html = (out / "report.html").read_text(encoding="utf-8")
    for name, value in observed.items():
        row = re.search(rf"<th scope=\"row\">{name}</th>(.*?)</tr>", html, re.S).group(1)
        assert "suppressed" in row and str(value) not in row, row
