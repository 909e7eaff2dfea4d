"""NYC Local Law 144 with a tiny top category: the category with the highest selection rate
has under 11 people. No output a person reads names it as the highest or lets its rate be
recovered (its impact ratio of 1.0, other ratios with their rates, the lowest ratio with the
lowest category's rate); results.json keeps the exact aggregates."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from audits import ExitCode

from .test_policies import _log, _run, _spec

# (sex, race, n, selected): nonbinary has the highest rate (5 of 6) and 6 people.
CELLS = [
    ("female", "white", 150, 50),
    ("female", "black", 150, 40),
    ("male", "white", 150, 65),
    ("male", "black", 150, 55),
    ("nonbinary", "white", 3, 3),
    ("nonbinary", "black", 3, 2),
    ("unknown", "white", 8, 3),
    ("unknown", "black", 7, 2),
]
TOP = "sex=nonbinary"
TOP_RATE = 5 / 6


def _cells(factor: int) -> list[tuple[str, str, int, int]]:
    """CELLS with the nonbinary cells ``factor`` times as large (the same rates)."""
    return [
        (s, r, n * factor, k * factor) if s == "nonbinary" else (s, r, n, k) for s, r, n, k in CELLS
    ]


def _audit(tmp_path, write_spec, fairgate, cells=CELLS, **data):
    log = _log(tmp_path / "log.csv", [({"sex": s, "race": r}, n, k) for s, r, n, k in cells])
    spec = _spec(log, "nyc-ll144", ["sex", "race"], roles={"race_ethnicity": "race"})
    spec["data"].update(data)
    code, doc, _ = _run(fairgate, write_spec(spec), tmp_path / "out")
    return code, doc


def _outputs(folder) -> dict[str, str]:
    return {
        name: (folder / name).read_text()
        for name in ("report.html", "summary.md", "junit.xml", "ll144_disclosure.csv")
        if (folder / name).is_file()
    }


def _table(folder, view: str) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO((folder / "ll144_disclosure.csv").read_text())))
    return {r[0]: r for r in rows[1:] if r[5] == view}


def _never_shown(texts: dict[str, str], ratios: list[float]) -> None:
    """No text names the tiny category as the highest or shows its rate or a ratio over it."""
    for name, text in texts.items():
        assert f"against {TOP}" not in text and f"({TOP})" not in text, name
        for shown in (f"{TOP_RATE:.3f}", f"{TOP_RATE:.2f}", f"{100 * TOP_RATE:.0f}%"):
            assert shown not in text, (name, shown)
        for ratio in ratios:  # any ratio times a shown rate would give the top rate back
            assert f"{ratio:.3f}" not in text, (name, ratio)


@pytest.mark.parametrize("judged", [False, True], ids=["too-small-to-judge", "judged"])
def test_a_suppressed_top_category_is_not_named_nor_its_rate_recoverable(
    tmp_path, write_spec, fairgate, judged
):
    # Judged, the top category has 12 people (a spec's min_group_size is at least 11, the
    # smallest count a report shows), still under 11 of them selected (10) and not (2).
    top_n = 12 if judged else 6
    data = {"min_group_size": 11} if judged else {}
    code, doc = _audit(tmp_path, write_spec, fairgate, _cells(top_n // 6), **data)
    out = tmp_path / "out"
    sex = next(c for c in doc["checks"] if c["view"] == "sex")
    # The intersections' top (nonbinary and white, 3 or 6 people) is too small to judge in both.
    assert code == ExitCode.UNDECIDED
    # results.json keeps the exact aggregates: the tiny category is the highest.
    assert sex["details"]["highest_group"] == TOP and sex["by_group"][TOP]["n"] == top_n
    assert sex["by_group"][TOP]["impact_ratio"] == 1.0
    female, male = 90 / 300, 120 / 300
    if judged:
        assert sex["status"] == "pass"
        assert sex["value"] == pytest.approx(female / TOP_RATE)
        assert sex["details"]["lowest_group"] == "sex=female"
    else:
        assert sex["status"] == "insufficient_evidence"
        assert sex["value"] is None
    # Its message (shown by every report) does not name it.
    assert TOP not in sex["message"] and "not named" in sex["message"]
    texts = _outputs(out)
    assert set(texts) == {"report.html", "summary.md", "junit.xml", "ll144_disclosure.csv"}
    _never_shown(texts, [male / TOP_RATE] + ([] if judged else [female / TOP_RATE]))
    table = _table(out, "sex")
    # its size is shown once it is 11 or more; its selected count and rate never
    assert table[TOP][1:5] == [
        str(top_n) if judged else "suppressed",
        "suppressed",
        "suppressed",
        "",
    ]
    # A second rate is hidden with the top's: the lowest ratio's category when the ratios
    # are judged (the lowest ratio is shown), else the runner-up: the top is never the only
    # category whose rate is hidden.
    hidden = {g for g, r in table.items() if r[2] == "suppressed" and g != "unknown"}
    assert hidden == {TOP, "sex=female" if judged else "sex=male"}
    assert all(r[3] in ("suppressed", "") for r in table.values())  # no ratio over the top
    assert all(r[4] != "highest rate" for r in table.values())
    # The views whose highest category is large enough still name it, with ratios.
    race = _table(out, "race")
    assert race["race=white"][3:5] == ["1.000", "highest rate"]
    black, white = (
        sum(k for _, r, _, k in cells) / sum(n for _, r, n, _ in cells)
        for cells in (
            [c for c in _cells(top_n // 6) if c[1] == race] for race in ("black", "white")
        )
    )
    assert (black, white) == ((99 / 310, 121 / 311) if not judged else (101 / 313, 124 / 314))
    assert race["race=black"][3] == f"{black / white:.3f}"
    html = texts["report.html"]
    assert html.count("highest rate") == sum(
        r[4] == "highest rate" for v in ("sex", "race", "sex|race") for r in _table(out, v).values()
    )
    # MLflow: the group rates logged follow the same rule.
    from reports import log_audit, metric_key, tracking_client

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    logged = log_audit(doc, {"results.json": out / "results.json"}, tracking_uri=uri)
    metrics = tracking_client(uri).get_run(logged["run_id"]).data.metrics
    for group in hidden:
        assert metric_key("group", "selection_rate", group) not in metrics
    kept = {"sex=male", "sex=female"} - hidden
    assert all(metric_key("group", "selection_rate", g) in metrics for g in kept)
    assert not any(
        v == pytest.approx(TOP_RATE) or v == pytest.approx(male / TOP_RATE)
        for v in metrics.values()
    )
    # The report's sentence for the check: no name, and the reason stated without it.
    assert re.search(r"not named", html)
    assert json.loads((out / "results.json").read_text())["checks"] == doc["checks"]
