"""A decision-log audit on a hand-made table whose every rate was computed by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

# Group a (60 people): tp=18 fp=6 tn=24 fn=12.  Group b (48 people): tp=12 fp=12 tn=18 fn=6.
# (Six times a table of 10 and 8 people: every group, and every rate's denominator, at least
# the 11 people a report shows, so min_group_size and min_denominator can be at least 11; the
# rates are those of the small table.)
CELLS = {
    "a": {(1, 1): 18, (0, 1): 6, (0, 0): 24, (1, 0): 12},
    "b": {(1, 1): 12, (0, 1): 12, (0, 0): 18, (1, 0): 6},
}


@pytest.fixture
def decision_log(tmp_path):
    rows = [
        {"group": g, "outcome": y, "decision": d}
        for g, cells in CELLS.items()
        for (y, d), k in cells.items()
        for _ in range(k)
    ]
    path = tmp_path / "log.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def spec_for(path, checks):
    return {
        "name": "hand-made-log",
        "model": {"kind": "predictions", "column": "decision"},
        "data": {
            "path": str(path),
            "label": "outcome",
            "sensitive": ["group"],
            "min_group_size": 11,
            "min_denominator": 11,
        },
        "checks": checks,
    }


def test_every_rate_matches_hand_computation(decision_log, write_spec, fairgate, tmp_path):
    checks = [
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
        {"metric": "false_negative_rate", "disparity": "difference", "max": 0.1},
        {"metric": "true_positive_rate", "disparity": "difference", "max": 0.1},
        {"metric": "false_positive_rate", "disparity": "difference", "max": 0.1},
        {"metric": "precision", "disparity": "difference", "max": 0.3},
        {"metric": "accuracy", "disparity": "ratio", "min": 0.85},
    ]
    out = tmp_path / "out"
    code, _, _ = fairgate(
        "run", write_spec(spec_for(decision_log, checks)), "--out", out, "--no-mlflow", "-q"
    )
    doc = json.loads((out / "results.json").read_text())
    assert doc["groups"] == {
        "group=a": {"n": 60, "tp": 18, "fp": 6, "tn": 24, "fn": 12},
        "group=b": {"n": 48, "tp": 12, "fp": 12, "tn": 18, "fn": 6},
    }
    by = {c["metric"]: c for c in doc["checks"]}
    hand = {  # metric: (a, b, disparity)
        "selection_rate": (12 / 30, 12 / 24, (12 / 30) / (12 / 24)),
        "false_negative_rate": (6 / 15, 3 / 9, 6 / 15 - 3 / 9),
        "true_positive_rate": (9 / 15, 6 / 9, 6 / 9 - 9 / 15),
        "false_positive_rate": (3 / 15, 6 / 15, 6 / 15 - 3 / 15),
        "precision": (9 / 12, 6 / 12, 9 / 12 - 6 / 12),
        "accuracy": (21 / 30, 15 / 24, (15 / 24) / (21 / 30)),
    }
    for metric, (a, b, disparity) in hand.items():
        assert by[metric]["by_group"]["group=a"]["value"] == pytest.approx(a, abs=1e-12)
        assert by[metric]["by_group"]["group=b"]["value"] == pytest.approx(b, abs=1e-12)
        assert by[metric]["value"] == pytest.approx(disparity, abs=1e-12)
    # Wilson 95 % interval of 24 / 60, from the closed form.
    assert by["selection_rate"]["by_group"]["group=a"]["ci"] == pytest.approx(
        [0.285695, 0.526339], abs=1e-5
    )
    statuses = {m: by[m]["status"] for m in hand}
    assert statuses == {
        "selection_rate": "pass",
        "false_negative_rate": "pass",
        "true_positive_rate": "pass",
        "false_positive_rate": "fail",
        "precision": "pass",
        "accuracy": "pass",
    }
    assert doc["verdict"] == "fail" and code == 1 == doc["exit_code"]


def test_small_group_is_insufficient_evidence_never_pass(
    decision_log, write_spec, fairgate, tmp_path
):
    spec = spec_for(decision_log, [{"metric": "selection_rate", "disparity": "ratio", "min": 0.8}])
    spec["data"]["min_group_size"] = 49  # group b has 48 people
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    check = doc["checks"][0]
    assert check["status"] == "insufficient_evidence"
    assert check["details"]["insufficient_groups"] == ["group=b"]
    assert check["by_group"]["group=b"]["status"] == "insufficient"
    assert code == 2 and doc["verdict"] == "inconclusive"


def test_excluding_a_small_group_needs_and_keeps_a_justification(
    decision_log, write_spec, fairgate, tmp_path
):
    spec = spec_for(
        decision_log,
        [
            {
                "metric": "selection_rate",
                "disparity": "ratio",
                "min": 0.8,
                "exclude_groups": [
                    {
                        "group": "group=b",
                        "justification": "Group b is under 2% of the people served; reported only.",
                    }
                ],
            }
        ],
    )
    spec["data"]["min_group_size"] = 49
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    check = json.loads((out / "results.json").read_text())["checks"][0]
    # One group left: no disparity can be computed, so still no pass.
    assert check["details"]["excluded_groups"][0]["justification"].startswith("Group b")
    assert check["by_group"]["group=b"]["status"] == "excluded"
    assert check["status"] == "insufficient_evidence" and code == 2
