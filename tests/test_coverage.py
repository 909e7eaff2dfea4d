"""Intervals that mean what they say: coverage of disparity intervals with known truth.

Seeded simulations on the engine (nominal 95 %): the share of samples whose interval holds the
true disparity must lie within [93 %, 99.5 %]. The simulations call the engine's interval
functions vectorized over samples; ``test_engine_uses_the_simulated_intervals`` checks that
``GroupMetrics.disparity`` returns exactly those intervals, so what is simulated is what the
gate decides on. With 4,000 samples the Monte-Carlo standard error of a coverage near 95 %
is 0.34 points, so the bounds sit at least 5 standard errors from the nominal level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audits import Status, decide
from metrics import group_metrics, range_interval, reference_interval

LOW, HIGH = 0.93, 0.995
SIMS = 4000


def _binomial_counts(rates, sizes, *, sims=SIMS, seed=0):
    rng = np.random.default_rng(seed)
    rates, sizes = np.asarray(rates, float), np.asarray(sizes)
    k = rng.binomial(sizes, rates, size=(sims, len(rates))).astype(float)
    return k, np.broadcast_to(sizes, k.shape).astype(float)


def _truth(rates, kind):
    rates = np.asarray(rates, float)
    return rates.max() - rates.min() if kind == "difference" else rates.min() / rates.max()


def _coverage(num, den, truth, kind):
    lo, hi = range_interval(num, den, np.ones(num.shape, bool), kind, 0.95)
    assert np.isfinite(lo).all() and np.isfinite(hi).all()
    return float(np.mean((lo <= truth) & (truth <= hi))), lo, hi


def _sample(rates, sizes, seed=0):
    """One sample as rows: group ``g`` with ``sizes[g]`` rows, decisions at ``rates[g]``."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(len(sizes)), sizes)
    d = (rng.random(len(g)) < np.repeat(rates, sizes)).astype(int)
    return np.ones(len(g), int), d, pd.Series(g, name="g")


@pytest.mark.parametrize("kind", ["difference", "ratio"])
@pytest.mark.parametrize("reference", [None, "g=0"])
def test_engine_uses_the_simulated_intervals(kind, reference):
    y, d, g = _sample([0.3, 0.4, 0.35], [120, 80, 60], seed=3)
    gm = group_metrics(y, d, g, n_boot=50)
    res = gm.disparity("selection_rate", view="g", kind=kind, reference=reference)
    counts = gm.counts("g")
    num = (counts.tp + counts.fp).to_numpy(float)
    den = counts.n.to_numpy(float)
    ok = np.ones(3, bool)
    if reference is None:
        expected = range_interval(num, den, ok, kind, 0.95)
    else:
        expected = reference_interval(num, den, ok, 0, kind, 0.95)
    assert res.ci == pytest.approx(tuple(map(float, expected)), abs=1e-15)
    assert res.ci[0] <= res.value <= res.ci[1]


def test_each_view_is_resampled_on_its_own():
    """The view ``sex`` has the same numbers whether or not ``age_band`` is audited."""
    rng = np.random.default_rng(5)
    n = 3000
    sex = rng.choice(["f", "m"], n)
    age = np.where(rng.random(n) < np.where(sex == "f", 0.7, 0.3), "young", "old")
    d = (rng.random(n) < np.where(age == "young", 0.2, 0.5)).astype(int)
    y = rng.integers(0, 2, n)
    both = group_metrics(y, d, pd.DataFrame({"sex": sex, "age_band": age}), n_boot=300, seed=9)
    alone = group_metrics(y, d, pd.DataFrame({"sex": sex}), n_boot=300, seed=9)
    np.testing.assert_array_equal(both.replicates("sex"), alone.replicates("sex"))
    for metric in ("selection_rate", "true_positive_rate", "equalized_odds"):
        for kind in ("difference", "ratio"):
            a = both.disparity(metric, view="sex", kind=kind)
            b = alone.disparity(metric, view="sex", kind=kind)
            assert (a.value, a.ci) == (b.value, b.ci)
    pd.testing.assert_frame_equal(
        both.disparities().query("view == 'sex'").reset_index(drop=True),
        alone.disparities().reset_index(drop=True),
    )
    # the replicates are those of the sex view (the age_band view's differ)
    assert not np.array_equal(both.replicates("sex"), both.replicates("age_band")[:, :2])


@pytest.mark.parametrize("kind", ["difference", "ratio"])
def test_two_attribute_audit_viewed_per_attribute(kind):
    """age_band drives decisions and sex is correlated with it; view sex (sizes vary)."""
    rng = np.random.default_rng(11)
    n = 400
    female = rng.random((SIMS, n)) < 0.5
    young = rng.random((SIMS, n)) < np.where(female, 0.7, 0.3)
    chosen = rng.random((SIMS, n)) < np.where(young, 0.2, 0.5)
    num = np.stack([(chosen & female).sum(1), (chosen & ~female).sum(1)], axis=1).astype(float)
    den = np.stack([female.sum(1), (~female).sum(1)], axis=1).astype(float)
    p_f, p_m = 0.7 * 0.2 + 0.3 * 0.5, 0.3 * 0.2 + 0.7 * 0.5
    cov, _, _ = _coverage(num, den, _truth([p_f, p_m], kind), kind)
    assert LOW <= cov <= HIGH, cov


@pytest.mark.parametrize(
    ("k", "n", "p"), [(2, 1000, 0.3), (2, 100, 0.5), (5, 200, 0.3), (5, 50, 0.3), (10, 100, 0.3)]
)
@pytest.mark.parametrize("kind", ["difference", "ratio"])
def test_equal_rates(k, n, p, kind):
    """True difference 0, true ratio 1: the bootstrap of the sample range covered 0-3 %."""
    num, den = _binomial_counts([p] * k, [n] * k, seed=k * n)
    cov, _, _ = _coverage(num, den, _truth([p] * k, kind), kind)
    assert LOW <= cov <= HIGH, cov


@pytest.mark.parametrize("kind", ["difference", "ratio"])
def test_five_groups_of_fifty_with_a_gap_of_ten_points(kind):
    rates = [0.30, 0.30, 0.35, 0.35, 0.40]
    num, den = _binomial_counts(rates, [50] * 5, seed=7)
    cov, _, _ = _coverage(num, den, _truth(rates, kind), kind)
    assert LOW <= cov <= HIGH, cov


@pytest.mark.parametrize("kind", ["difference", "ratio"])
def test_a_group_at_zero_successes(kind):
    """p = 0.02 against 0.12 at n = 50: a third of samples have 0 of 50 in the first group."""
    rates = [0.02, 0.12]
    num, den = _binomial_counts(rates, [50, 50], seed=13)
    assert (num[:, 0] == 0).mean() > 0.3
    cov, lo, hi = _coverage(num, den, _truth(rates, kind), kind)
    assert LOW <= cov <= HIGH, cov
    assert (hi - lo > 0.05).all()  # never a zero-width interval from a zero count


def test_zero_count_carries_its_wilson_interval():
    """0 of 50 against 10 of 50: the difference interval reaches down by 0 of 50's Wilson
    upper limit (0.071), the ratio interval is not [0, 0]."""
    num, den = np.array([0.0, 10.0]), np.array([50.0, 50.0])
    ok = np.ones(2, bool)
    lo, hi = range_interval(num, den, ok, "difference", 0.95)
    assert lo < 0.2 - 0.071 and hi > 0.2
    lo, hi = range_interval(num, den, ok, "ratio", 0.95)
    assert lo == 0.0 and hi > 0.2


def _fail_rate(rates, sizes, seed, high=0.1):
    num, den = _binomial_counts(rates, sizes, sims=2000, seed=seed)
    lo, hi = range_interval(num, den, np.ones(num.shape, bool), "difference", 0.95)
    value = num.max(1) / sizes[0] - num.min(1) / sizes[0]
    status = [
        decide(v, (a, b), low=None, high=high, decide_on="interval")
        for v, a, b in zip(value, lo, hi, strict=True)
    ]
    return np.mean([s is Status.FAIL for s in status])


def test_gate_error_rates():
    """Fair models rarely fail the interval rule; a real gap of 0.15 almost always does."""
    assert _fail_rate([0.3, 0.3], [500, 500], seed=1) <= 0.05
    assert _fail_rate([0.3] * 5, [200] * 5, seed=2) <= 0.05
    assert _fail_rate([0.30, 0.45], [5000, 5000], seed=3) >= 0.90


def _clustered(rng, *, clusters=12, rows=40, icc=0.15, rates=(0.3, 0.3)):
    frames = []
    for g, p in enumerate(rates):
        a, b = p * (1 - icc) / icc, (1 - p) * (1 - icc) / icc
        p_c = rng.beta(a, b, size=clusters)
        d = rng.random((clusters, rows)) < p_c[:, None]
        ids = np.repeat(np.arange(clusters) + 1000 * g, rows)
        frames.append(pd.DataFrame({"g": g, "speaker": ids, "d": d.ravel().astype(int)}))
    return pd.concat(frames, ignore_index=True)


def test_cluster_bootstrap_coverage():
    """12 speakers × 40 recordings per group, intraclass correlation 0.15: intervals that
    treat rows as independent under-cover; the cluster bootstrap's design effect does not."""
    rng = np.random.default_rng(21)
    sims, row_hits, cluster_hits = 300, 0, 0
    for s in range(sims):
        df = _clustered(rng)
        y = np.ones(len(df), int)
        rows = group_metrics(y, df.d, df[["g"]], n_boot=100, seed=s)
        clus = group_metrics(y, df.d, df[["g"]], n_boot=100, seed=s, clusters=df.speaker)
        a = rows.disparity("selection_rate", view="g").ci
        b = clus.disparity("selection_rate", view="g").ci
        row_hits += a[0] <= 0 <= a[1]
        cluster_hits += b[0] <= 0 <= b[1]
    assert row_hits / sims < 0.90
    assert cluster_hits / sims >= 0.93


def test_too_few_clusters_is_insufficient():
    rng = np.random.default_rng(4)
    df = _clustered(rng, clusters=3)
    df.loc[df.g == 1, "speaker"] = np.where(df.speaker[df.g == 1] % 2 == 0, 1000, 1001)
    gm = group_metrics(np.ones(len(df), int), df.d, df[["g"]], clusters=df.speaker, n_boot=50)
    np.testing.assert_array_equal(gm.clusters_per_group("g"), [3, 2])
    d = gm.disparity("selection_rate", view="g")
    assert d.insufficient == ("g=1",) and np.isnan(d.value)
    gm3 = group_metrics(
        np.ones(len(df), int), df.d, df[["g"]], clusters=df.speaker, n_boot=50, min_clusters=2
    )
    assert np.isfinite(gm3.disparity("selection_rate", view="g").value)
    # The cluster bootstrap keeps each replicate made of whole clusters of the group.
    sizes = gm.replicates("g").sum(axis=(-2, -1))
    assert set(np.unique(sizes[:, 1])) <= {0, 40, 80, 120, 160}


@pytest.mark.parametrize("kind", ["difference", "ratio"])
def test_comparisons_with_a_reference_group(kind):
    """Four equal groups of 200, each against group 0 (Šidák over the three comparisons)."""
    num, den = _binomial_counts([0.3] * 4, [200] * 4, sims=2000, seed=17)
    ok = np.ones(4, bool)
    truth = 0.0 if kind == "difference" else 1.0
    hits = [
        lo <= truth <= hi
        for lo, hi in (
            reference_interval(n, d, ok, 0, kind, 0.95) for n, d in zip(num, den, strict=True)
        )
    ]
    assert LOW <= np.mean(hits) <= HIGH
