"""The gate decides what the numbers say: exact thresholds, p-values, Holm families,
undefined rates."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audits import Status, decide
from metrics import group_metrics, two_proportion_pvalue

from .bad_inputs_support import log_spec, write_yaml


def _exact_log(folder, selected):
    """A decision log with exactly ``selected[g]`` favourable decisions in 100 rows of ``g``."""
    frames = []
    for g, k in selected.items():
        d = np.r_[np.ones(k, int), np.zeros(100 - k, int)]
        frames.append(pd.DataFrame({"group": g, "outcome": d[::-1], "decision": d}))
    path = folder / "log.csv"
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("selected", "check", "float_value"),
    [
        ({"a": 32, "b": 40}, {"disparity": "ratio", "min": 0.8}, 0.32 / 0.40),
        ({"a": 30, "b": 40}, {"disparity": "difference", "max": 0.1}, 0.40 - 0.30),
    ],
    ids=["ratio-exactly-0.8", "difference-exactly-0.1"],
)
def test_a_disparity_exactly_at_the_threshold_passes(
    fairgate, tmp_path, selected, check, float_value
):
    # In floating point both sit on the wrong side of the threshold.
    assert float_value < 0.8 if check["disparity"] == "ratio" else float_value > 0.1
    spec = log_spec(
        _exact_log(tmp_path, selected),
        checks=[{"metric": "selection_rate", **check}],
    )
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow", "-q"
    )
    assert code == 0, stdout + stderr
    result = json.loads((out / "results.json").read_text())["checks"][0]
    assert result["status"] == "pass"
    assert result["value"] == pytest.approx(float_value, abs=0)  # displayed value unchanged


def test_exact_decision_one_count_away_still_fails():
    gm = group_metrics(
        np.ones(200, int),
        np.r_[np.ones(31), np.zeros(69), np.ones(40), np.zeros(60)].astype(int),
        pd.Series(np.repeat(["a", "b"], 100), name="g"),
        n_boot=10,
    )
    d = gm.disparity("selection_rate", view="g", kind="ratio")
    assert d.exact == Fraction(31, 40)
    assert decide(d.value, d.ci, low=0.8, high=None, decide_on="estimate", exact=d.exact) is (
        Status.FAIL
    )


def test_pvalues_do_not_underflow():
    """A COMPAS-sized gap: the survival function gives the tiny p-value, not 0.0."""
    k1, n1, k2, n2 = 805, 1795, 349, 2103
    p = two_proportion_pvalue(k1, n1, k2, n2)
    pooled = (k1 + k2) / (n1 + n2)
    z = (k1 / n1 - k2 / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert 0.0 < p < 1e-30
    assert p == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)


def _two_view_spec(path, family):
    return log_spec(
        path,
        data={"sensitive": ["group", "site"], "min_group_size": 11, "min_denominator": 11},
        checks=[
            {
                "metric": "selection_rate",
                "disparity": "difference",
                "max": 0.5,
                "reference": "most_favoured",
                "views": ["group", "site"],
                **({"family": family} if family else {}),
            }
        ],
    )


def test_holm_family_check_corrects_across_views(fairgate, tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "group": rng.choice(["a", "b", "c"], n),
            "site": rng.choice(["x", "y"], n),
            "outcome": rng.integers(0, 2, n),
        }
    )
    frame["decision"] = (rng.random(n) < np.where(frame.group == "a", 0.5, 0.4)).astype(int)
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    docs = {}
    for family in (None, "check"):
        out = tmp_path / f"out-{family}"
        spec = write_yaml(tmp_path / f"{family}.yaml", _two_view_spec(path, family))
        fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
        docs[family] = json.loads((out / "results.json").read_text())["checks"]
    raw = {}
    for check in docs[None]:
        assert check["details"]["holm_family"] == "view"
        for group, row in check["by_group"].items():
            raw[group] = row["p_holm"]
    per_view = [p for p in raw.values() if p is not None]
    pooled = {g: row["p_holm"] for c in docs["check"] for g, row in c["by_group"].items()}
    # Three comparisons with the most favoured group: two in view group, one in view site.
    # Corrected over both views, each p-value is at least its per-view adjustment.
    assert len(per_view) == 3
    for g, p in raw.items():
        if p is not None:
            assert pooled[g] >= p
    assert any(pooled[g] > raw[g] for g in raw if raw[g] is not None and raw[g] < 1)


def test_min_denominator_zero_never_makes_an_undefined_rate_zero():
    """Group b has no true positives at all: its TPR is undefined, not 0."""
    y = np.r_[np.ones(50), np.zeros(50), np.zeros(100)].astype(int)
    d = np.r_[np.ones(40), np.zeros(10), np.zeros(50), np.ones(20), np.zeros(80)].astype(int)
    g = pd.Series(np.repeat(["a", "b"], 100), name="g")
    gm = group_metrics(y, d, g, n_boot=20, min_denominator=0, min_group_size=1)
    table = gm.disparities().set_index(["view", "metric", "kind"])
    row = table.loc[("g", "true_positive_rate", "difference")]
    assert np.isnan(row.value) and np.isnan(row.ci_low) and row.n_insufficient == 1
    res = gm.disparity("true_positive_rate", view="g")
    assert res.insufficient == ("g=b",) and np.isnan(res.value)
    by = gm.by_group.set_index(["group", "metric"])
    assert not by.loc[("g=b", "true_positive_rate"), "sufficient"]
    assert np.isnan(by.loc[("g=b", "true_positive_rate"), "value"])
