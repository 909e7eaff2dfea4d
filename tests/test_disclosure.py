"""The disclosure rule (issue 10, item 9), everywhere a person can read the results.

A count of people under 11, or a rate from which such a count (its numerator or its
complement) can be recovered with its denominator, is never shown in report.html, summary.md,
junit.xml or the MLflow metrics. The reference audits and small-group fixtures are rendered,
and every number in the renderings is scanned, independently of the renderers' own code.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from reports import disclose, render_html, render_junit, render_markdown

from .bad_inputs_support import ROOT, decision_log, log_spec, write_yaml
from .conftest import policy_inlined

SPECS = sorted((ROOT / "audits" / "specs").glob("*.yaml"))
MIN = 11
#: Score metrics that are not shares of people (only their group's size matters).
_NOT_COUNTS = {"mean_score", "roc_auc", "brier_score", "calibration_error"}


def _small(count: float) -> bool:
    return 0 < round(count) < MIN


def _rate_discloses(rate: float | None, denominator: float | None) -> bool:
    """Independent restatement of the rule: the rate, with its denominator, gives a small
    count (or its complement), or the denominator itself is small."""
    if rate is None or denominator is None:
        return False
    k = rate * denominator
    return _small(denominator) or _small(k) or _small(denominator - k)


def _sensitive(doc: dict[str, Any]) -> tuple[list[float], list[int]]:
    """Rates that must not appear, and small counts that must not appear."""
    rates, counts = [], []
    for check in doc["checks"]:
        for g in check["by_group"].values():
            n, value = g.get("n"), g.get("value")
            if n is not None and _small(n):
                counts.append(n)
            if "numerator" in g:
                k, d = g["numerator"], g["denominator"]
                counts += [c for c in (k, d - k, d) if _small(c)]
                if _rate_discloses(value, d):
                    rates.append(value)
            elif check["type"] == "score_metric" and check["metric"] in _NOT_COUNTS:
                if n is not None and _small(n) and value is not None:
                    rates.append(value)
            elif _rate_discloses(None if value is None else abs(value), n):
                rates.append(value)
            for share in (g.get("top_reasons") or {}).values():
                if _rate_discloses(share, n):
                    rates.append(share)
    for g in doc["groups"].values():
        if _small(g["n"]):
            counts.append(g["n"])
    return [r for r in rates if r is not None], counts


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


class _Text(HTMLParser):
    """The text of a page, and the cells of every table column by header."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.columns: dict[str, list[str]] = {}
        self._headers: list[str] = []
        self._row: list[str] = []
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "thead":
            self._in_head, self._headers = True, []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            (self._headers if self._in_head else self._row).append(text)
            self._cell = None
        elif tag == "tr" and not self._in_head:
            for header, cell in zip(self._headers, self._row, strict=False):
                self.columns.setdefault(header, []).append(cell)

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.(\d+))?)(\s?%)?")
_COUNT_WORDS = re.compile(  # "groups under 30 people" is a threshold, "class index 1" a class
    r"(?<!under )(?<!index )(?<![\w.])(\d+) "
    r"(?:of|people|adverse|decisions|missing|rows|cases|files)\b"
)
#: Table columns that hold counts of people.
COUNT_COLUMNS = ("People", "Cases counted", "Adverse decisions", "Unexpected rows")


def scan(doc: dict[str, Any], texts: dict[str, str], tables: dict[str, list[str]]) -> list[str]:
    """Every disclosed small count or recoverable rate in the rendered texts."""
    rates, counts = _sensitive(doc)
    # Numbers the document legitimately shows (values, intervals, thresholds, shown rates):
    # a sensitive rate is flagged only where no shown number explains the printed one.
    shown = set(_numbers({k: v for k, v in doc.items() if k != "checks"}))
    for check in doc["checks"]:
        shown.update(_numbers([check["value"], check["ci"], check["threshold"]]))
        shown.update(_numbers(check["details"]))
        for g in check["by_group"].values():
            if g.get("value") not in rates:
                shown.update(_numbers({k: v for k, v in g.items() if k != "top_reasons"}))
            for share in (g.get("top_reasons") or {}).values():
                if not _rate_discloses(share, g.get("n")):
                    shown.add(share)
    found = []
    for name, text in texts.items():
        for match in _NUMBER.finditer(text):
            printed, decimals, pct = float(match[1]), len(match[2] or ""), bool(match[3])
            x = printed / 100 if pct else printed
            tol = 0.5 * 10 ** -(decimals + (2 if pct else 0)) + 1e-12
            if x >= 1.0 and not pct:
                continue  # counts are checked below; rates are at most 1
            hit = [r for r in rates if abs(r - x) <= tol]
            if hit and not any(abs(s - x) <= tol for s in shown):
                context = text[max(0, match.start() - 80) : match.end() + 20]
                found.append(f"{name}: {match[0]!r} discloses the rate {hit[0]:.4f}: {context!r}")
        for match in _COUNT_WORDS.finditer(text):
            if _small(int(match[1])) and int(match[1]) in counts:
                found.append(f"{name}: {match[0]!r} states a small count")
    for column in COUNT_COLUMNS:
        for cell in tables.get(column, []):
            if cell.isdigit() and _small(int(cell)):
                found.append(f"report.html: a {column!r} cell shows {cell}")
    return found


def render_all(doc: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    html = _Text()
    html.feed(render_html(doc))
    junit = render_junit(doc)
    import xml.etree.ElementTree as ET

    messages = " ".join(
        " ".join(e.attrib.values()) + " " + (e.text or "") for e in ET.fromstring(junit).iter()
    )
    texts = {
        "report.html": " ".join(html.text),
        "summary.md": render_markdown(doc),
        "junit.xml": messages,
    }
    return texts, html.columns


@pytest.fixture(scope="module")
def reference_docs(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Every reference audit, run once in this process (no MLflow), with fewer bootstrap
    replicates and explained rows than the specs ask, to run in CI time."""
    import os

    import yaml

    from audits.cli import main

    root = tmp_path_factory.mktemp("reference")
    docs = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for spec_path in SPECS:
            spec = policy_inlined(yaml.safe_load(spec_path.read_text()), keep_others=True)
            spec["n_boot"] = 200
            spec["explain"] = {**spec.get("explain", {}), "rows": 200, "background": 20}
            for check in spec["checks"]:
                if check.get("type") == "explanation_stability":
                    check["resamples"] = 30
            out = root / spec_path.stem
            path = write_yaml(root / spec_path.name, spec)
            code = main(["run", str(path), "--out", str(out), "--no-mlflow", "-q"])
            assert code in (0, 1), spec_path.stem
            docs[spec_path.stem] = json.loads((out / "results.json").read_text())
    finally:
        os.chdir(cwd)
    return docs


def _small_groups_doc(tmp_path: Path, fairgate) -> dict[str, Any]:
    """A decision log with the issue's cases: 6 of 39, 5 of 5, and large groups."""
    data = decision_log(
        tmp_path,
        groups={
            "big": (400, 0.5, 0.55),
            "other": (300, 0.5, 0.5),
            "young": (39, 0.5, 0.15),
            "tiny": (5, 1.0, 1.0),
            "single": (1, 1.0, 0.0),
        },
        seed=4,
    )
    spec = log_spec(
        data,
        data={"min_group_size": 11, "min_denominator": 11},
        checks=[
            {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
            {"metric": "selection_rate", "disparity": "difference", "max": 0.05},
            {"metric": "false_negative_rate", "disparity": "difference", "max": 0.05},
            {"metric": "true_positive_rate", "disparity": "ratio", "min": 0.9},
        ],
    )
    out = tmp_path / "out"
    fairgate("run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow", "-q")
    return json.loads((out / "results.json").read_text())


def test_the_rule():
    assert disclose(numerator=6, denominator=39).rate is None  # the 6 of 39
    assert disclose(numerator=5, denominator=5, rate=1.0).denominator is None  # 5 of 5
    assert disclose(rate=33 / 39, denominator=39).rate is None  # the complement is 6
    assert disclose(numerator=0, denominator=40, rate=0.0).rate == 0.0  # nobody singled out
    shown = disclose(numerator=20, denominator=40, rate=0.5)
    assert (shown.numerator, shown.denominator, shown.rate) == (20, 40, 0.5)


def test_small_group_fixture_discloses_nothing(tmp_path, fairgate):
    doc = _small_groups_doc(tmp_path, fairgate)
    rates, counts = _sensitive(doc)
    assert 6 in counts and 5 in counts and 1 in counts and rates  # the fixture is hostile
    texts, tables = render_all(doc)
    assert scan(doc, texts, tables) == []
    cells = tables["People"] + tables["Rate"]
    assert "suppressed" in cells and "<11" in cells


@pytest.mark.parametrize("name", [s.stem for s in SPECS])
def test_reference_audit_renderings_disclose_nothing(reference_docs, name):
    doc = reference_docs[name]
    texts, tables = render_all(doc)
    assert scan(doc, texts, tables) == []


def test_the_scan_finds_what_an_unsuppressed_rendering_shows(reference_docs):
    """The scanner is not blind: the raw numbers of the documents are found."""
    doc = reference_docs["credit_scoring_v1"]
    rates, counts = _sensitive(doc)
    raw = " ".join(f"{r:.3f} {100 * r:.0f}%" for r in rates)
    assert rates and scan(doc, {"raw": raw}, {"People": [str(c) for c in counts]})


def test_mlflow_metrics_disclose_nothing(reference_docs, tmp_path, fairgate):
    from mlflow.tracking import MlflowClient

    from reports import log_audit, metric_key

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    docs = {**reference_docs, "small": _small_groups_doc(tmp_path, fairgate)}
    problems = []
    for name, doc in docs.items():
        logged = log_audit(doc, {}, tracking_uri=uri)
        metrics = MlflowClient(tracking_uri=uri).get_run(logged["run_id"]).data.metrics
        assert any(k.startswith("check/") for k in metrics)
        for group in doc["groups"]:
            key = metric_key("n", group)
            if key in metrics and _small(metrics[key]):
                problems.append(f"{name}: {key} = {metrics[key]}")
        for check in doc["checks"]:
            for group, g in check["by_group"].items():
                key = metric_key("group", check["metric"], group)
                if key not in metrics:
                    continue
                value = metrics[key]
                if "numerator" in g:
                    bad = _rate_discloses(value, g["denominator"])
                elif check["type"] == "score_metric" and check["metric"] in _NOT_COUNTS:
                    bad = g.get("n") is not None and _small(g["n"])
                else:
                    bad = _rate_discloses(abs(value), g.get("n"))
                if bad:
                    problems.append(f"{name}: {key} = {value}")
    assert problems == []
