"""Intervals that hold their promise: Wilson, the count-table bootstrap, Holm, power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audits import Status, decide
from metrics import (
    between_groups,
    bootstrap_counts,
    group_metrics,
    holm,
    minimum_detectable_difference,
    percentile_interval,
    rate_values,
    wilson_interval,
)
from metrics._rates import RATES


@pytest.mark.parametrize(("k", "n"), [(0, 10), (4, 10), (10, 10), (37, 120), (1, 3)])
def test_wilson_equals_scipy(k, n):
    low, high = wilson_interval(np.array([k]), np.array([n]))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low[0] == pytest.approx(ci.low, abs=1e-12)
    assert high[0] == pytest.approx(ci.high, abs=1e-12)


def test_wilson_of_empty_group_is_nan():
    low, high = wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])


def test_count_table_bootstrap_matches_row_level_bootstrap():
    """Same distribution of a disparity: two-sample KS test does not reject."""
    rng = np.random.default_rng(11)
    sizes, p_sel, p_pos = (60, 45), (0.55, 0.35), (0.5, 0.6)
    rows = []
    for g, (n, ps, pp) in enumerate(zip(sizes, p_sel, p_pos, strict=True)):
        y = rng.random(n) < pp
        d = rng.random(n) < ps
        rows.append(pd.DataFrame({"g": g, "y": y.astype(int), "d": d.astype(int)}))
    data = pd.concat(rows, ignore_index=True)
    gm = group_metrics(data.y, data.d, data[["g"]], n_boot=4000, seed=5, min_group_size=1)
    boot = gm.replicates("g")
    table_reps = between_groups(rate_values(boot, RATES["selection_rate"]), "ratio")
    # Row-level bootstrap, stratified by group, the slow way.
    row_rng = np.random.default_rng(6)
    groups = [data[data.g == g].d.to_numpy() for g in (0, 1)]
    row_reps = []
    for _ in range(4000):
        rates = [row_rng.choice(x, size=len(x), replace=True).mean() for x in groups]
        row_reps.append(min(rates) / max(rates))
    result = stats.ks_2samp(table_reps, np.array(row_reps))
    assert result.pvalue > 0.01, result
    # and the test has power: a different statistic is told apart.
    assert stats.ks_2samp(table_reps, np.array(row_reps) * 0.97).pvalue < 0.01


def test_coverage_of_group_rates_and_of_a_two_group_difference():
    """Nominal 95 %: Wilson for a group rate, percentile bootstrap for the difference."""
    rng = np.random.default_rng(2024)
    n1, n2, p1, p2 = 300, 250, 0.30, 0.42
    sims, n_boot = 1500, 1000
    rate_hits = diff_hits = 0
    for _ in range(sims):
        k1, k2 = rng.binomial(n1, p1), rng.binomial(n2, p2)
        low, high = wilson_interval(np.array([k1]), np.array([n1]))
        rate_hits += low[0] <= p1 <= high[0]
        counts = np.array([[[0, 0], [n1 - k1, k1]], [[0, 0], [n2 - k2, k2]]])  # y=1 rows
        reps = bootstrap_counts(counts, n_boot=n_boot, rng=rng)
        values = rate_values(reps, RATES["selection_rate"])
        lo, hi = percentile_interval(between_groups(values, "difference"))
        diff_hits += lo <= abs(p2 - p1) <= hi
    assert 0.93 <= rate_hits / sims <= 0.97
    assert 0.93 <= diff_hits / sims <= 0.97


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    g = rng.choice(["a", "b"], 500)
    a = group_metrics(y, p, pd.Series(g, name="g"), seed=3)
    b = group_metrics(y, p, pd.Series(g, name="g"), seed=3)
    c = group_metrics(y, p, pd.Series(g, name="g"), seed=4)
    np.testing.assert_array_equal(a.replicates("g"), b.replicates("g"))
    assert a.disparity("selection_rate", view="g").ci == b.disparity("selection_rate", view="g").ci
    assert not np.array_equal(a.replicates("g"), c.replicates("g"))
    # every replicate keeps each group's size
    sizes = a.table.counts.sum(axis=(-2, -1))
    np.testing.assert_array_equal(
        a.replicates("g").sum(axis=(-2, -1)), np.broadcast_to(sizes, (1000, 2))
    )


def test_holm_by_hand():
    adjusted = holm(np.array([0.01, 0.04, 0.03, np.nan]))
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[3])


def test_minimum_detectable_difference_by_hand():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert minimum_detectable_difference(100, 400, 0.5) == pytest.approx(
        z * np.sqrt(0.25 * (1 / 100 + 1 / 400))
    )
    assert np.isnan(minimum_detectable_difference(0, 10, 0.5))


def test_reference_groups_and_impact_ratio():
    g = pd.Series(["a"] * 100 + ["b"] * 200 + ["c"] * 50, name="g")
    sel = np.r_[np.ones(60), np.zeros(40), np.ones(100), np.zeros(100), np.ones(20), np.zeros(30)]
    y = np.ones(350, dtype=int)
    gm = group_metrics(y, sel.astype(int), g, n_boot=200)
    impact = gm.disparity("selection_rate", view="g", kind="ratio", reference="most_favoured")
    assert impact.reference == "g=a"
    assert impact.value == pytest.approx(0.4 / 0.6)  # c against a: the LL144 impact ratio
    per = impact.per_group.set_index("group")
    assert per.loc["g=b", "vs_reference"] == pytest.approx(0.5 / 0.6)
    assert per.loc["g=a", "status"] == "reference"
    assert per.loc["g=c", "p_holm"] >= per.loc["g=c", "p_value"]
    largest = gm.disparity("selection_rate", view="g", kind="difference", reference="largest")
    assert largest.reference == "g=b" and largest.value == pytest.approx(0.1)
    named = gm.disparity("selection_rate", view="g", kind="difference", reference="g=c")
    assert named.value == pytest.approx(0.2)
    with pytest.raises(ValueError, match="reference"):
        gm.disparity("selection_rate", view="g", reference="g=zz")


def test_small_groups_are_left_out_and_named():
    g = pd.Series(["a"] * 100 + ["b"] * 10, name="g")
    gm = group_metrics(
        np.ones(110, dtype=int),
        np.r_[np.ones(50), np.zeros(50), np.ones(10)].astype(int),
        g,
        n_boot=100,
        min_group_size=30,
    )
    d = gm.disparity("selection_rate", view="g", kind="ratio")
    assert d.insufficient == ("g=b",) and np.isnan(d.value)


@pytest.mark.parametrize(
    ("value", "ci", "decide_on", "expected"),
    [
        (0.85, (0.70, 0.95), "estimate", Status.PASS),
        (0.75, (0.70, 0.95), "estimate", Status.FAIL),
        (0.85, (0.70, 0.95), "interval", Status.INCONCLUSIVE),
        (0.90, (0.82, 0.95), "interval", Status.PASS),
        (0.70, (0.60, 0.78), "interval", Status.FAIL),
        (float("nan"), None, "estimate", Status.INSUFFICIENT),
    ],
)
def test_decide_on_estimate_or_interval(value, ci, decide_on, expected):
    assert decide(value, ci, low=0.8, high=None, decide_on=decide_on) is expected
