"""The committee's report as a person sees it, small-cell suppression, and the PDF."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from reports._suppress import suppressed

from .conftest import CREDIT, ROOT, SPECS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def v1_report(tmp_path_factory):
    import os

    from audits.cli import main

    out = tmp_path_factory.mktemp("report")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = main(
            [
                "run",
                str(SPECS / "credit_scoring_v1.yaml"),
                "--out",
                str(out),
                "--no-mlflow",
                "-q",
                "--pdf",
            ]
        )
    finally:
        os.chdir(cwd)
    assert code == 1
    return out


def test_report_renders_in_chromium_without_errors_or_network(v1_report):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Debian's chromium must be installed (.ci/setup installs it)"
    console, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: console.append(m) if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(e))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((v1_report / "report.html").as_uri())
        banner = page.get_by_role("banner")
        assert banner.is_visible()
        assert "BLOCKED" in banner.inner_text()
        assert "For the group age band <25, the rate of favourable decisions is 70%" in (
            banner.inner_text()
        )
        tables = page.locator("table")
        assert tables.count() >= 10 and tables.first.is_visible()
        assert page.get_by_role("heading", name="Data validation").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report_credit_v1.png"), full_page=True)
        text = page.inner_text("body")
        browser.close()
    assert console == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert (ARTIFACTS / "report_credit_v1.png").stat().st_size > 50_000
    # No row of the audit data: no applicant's credit amount, nor age-and-amount pair.
    data = pd.read_csv(CREDIT / "data" / "audit.csv")
    html = (v1_report / "report.html").read_text()
    for amount in data.credit_amount[data.credit_amount >= 1000]:
        assert not re.search(rf"(?<![\w.]){amount}(?![\w.])", text), amount
    for age, amount in zip(data.age, data.credit_amount, strict=True):
        assert f"{age}, {amount}" not in html and f"{age} {amount}" not in html


def test_pdf_export(v1_report):
    pdf = v1_report / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000


def test_summary_mirrors_the_verdict_and_failed_checks(v1_report):
    summary = (v1_report / "summary.md").read_text()
    assert summary.startswith("# BLOCKED")
    assert "For the group age band <25, the rate of favourable decisions is 70%" in summary
    assert "sensitive_attribution" in summary


def test_suppression_hides_a_small_cell_and_its_complement():
    # A line of three groups adding up to the row count: hiding 7 alone would reveal it.
    assert suppressed({"g=a": 40, "g=b": 35, "g=c": 7}) == {"g=c", "g=b"}
    assert suppressed({"g=a": 40, "g=b": 35, "g=c": 12}) == set()
    # Intersections add up to the single-attribute groups: hide a second cell in each line.
    counts = {
        "s=f": 50,
        "s=m": 60,
        "a=y": 30,
        "a=o": 80,
        "s=f|a=y": 7,
        "s=f|a=o": 43,
        "s=m|a=y": 23,
        "s=m|a=o": 37,
    }
    hidden = suppressed(counts)
    assert {"s=f|a=y", "s=f|a=o", "s=m|a=y"} <= hidden
    for line in (["s=f|a=y", "s=f|a=o"], ["s=f|a=y", "s=m|a=y"], ["s=m|a=y", "s=m|a=o"]):
        assert sum(k in hidden for k in line) != 1


def test_a_group_of_seven_never_shows_its_count(tmp_path, write_spec, fairgate):
    rows = (
        [("a", 1, 1)] * 25
        + [("a", 0, 0)] * 15
        + [("b", 1, 1)] * 20
        + [("b", 0, 1)] * 15
        + [("c", 1, 0)] * 4
        + [("c", 0, 0)] * 3
    )
    pd.DataFrame(rows, columns=["g", "y", "d"]).to_csv(tmp_path / "log.csv", index=False)
    spec = {
        "name": "small-cell",
        "model": {"kind": "predictions", "column": "d"},
        "data": {
            "path": str(tmp_path / "log.csv"),
            "label": "y",
            "sensitive": ["g"],
            "min_group_size": 11,
            "min_denominator": 11,
        },
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.5}],
    }
    out = tmp_path / "out"
    fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    assert doc["groups"]["g=c"]["n"] == 7  # the machine evidence keeps exact aggregates
    html = (out / "report.html").read_text()
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<tr><th scope="row">g (\w)</th><td class="num">([^<]*)</td>', html)
    }
    # c (7) is under 11; b (35) is hidden only so that c cannot be recovered from the total
    # (complementary suppression): it is marked as withheld, never "<11" (it is not small).
    assert rows["c"] == "&lt;11" and rows["a"] == "40"
    assert rows["b"] == "withheld to protect a smaller group"
    assert ">7<" not in html and ">35<" not in html
