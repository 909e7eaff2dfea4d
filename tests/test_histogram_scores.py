"""Score metrics from score histograms against scikit-learn and the row-level engine, on real
and adversarial score distributions: the binned ROC AUC is within 1e-4 of the exact one at
2^16 bins on real scores, and on any distribution within its stated error bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from metrics import (
    DEFAULT_SCORE_BINS,
    auc_delong,
    count_table,
    group_metrics,
    metrics_from_counts,
    score_histograms,
)

DATA = Path(__file__).parent / "data" / "adult_sample.csv"


def _binned(y: np.ndarray, s: np.ndarray, groups: np.ndarray, *, bins=DEFAULT_SCORE_BINS, parts=3):
    """The histogram path's score table, the histograms summed over ``parts`` batches."""
    d = (s > 0.5).astype(int)
    table = count_table(y, d, pd.DataFrame({"g": groups}))
    codes = pd.Categorical(groups, categories=list(table.levels[0])).codes.astype(np.int64)
    hist = None
    for idx in np.array_split(np.arange(len(y)), parts):
        part = score_histograms(
            codes[idx], y[idx] == 1, s[idx], shape=table.counts.shape[:-2], bins=bins
        )
        hist = part if hist is None else hist + part
    gm = metrics_from_counts(table, score_histograms=hist, n_boot=200, seed=0, min_group_size=5)
    return gm.scores.set_index(["group", "metric"])


def _real_scores() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A logistic regression's probabilities on the Adult sample (real data), 4x resampled."""
    frame = pd.read_csv(DATA)
    y = (frame.income == ">50K").to_numpy().astype(int)
    x = frame[["age", "education_num", "hours_per_week"]].to_numpy(float)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(y), 40_000)
    noise = rng.normal(0, 0.3, (len(idx), 3))  # jitter: a log of many people, not 400
    s = model.predict_proba(x[idx] + noise)[:, 1]
    return y[idx], s, frame.sex.to_numpy()[idx]


def _check_against_exact(y, s, groups, *, within_1e4: bool):
    table = _binned(y, s, groups)
    for g in np.unique(groups):
        rows = groups == g
        exact = roc_auc_score(y[rows], s[rows])
        row = table.loc[(f"g={g}", "roc_auc")]
        assert abs(row.value - exact) <= row.error + 1e-12, (g, row.value, exact, row.error)
        if within_1e4:
            assert row.error <= 1e-4 and abs(row.value - exact) <= 1e-4
        assert row.ci_low <= exact <= row.ci_high
        brier = table.loc[(f"g={g}", "brier_score")]
        assert brier.value == pytest.approx(brier_score_loss(y[rows], s[rows]), abs=1e-12)
        assert table.loc[(f"g={g}", "mean_score")].value == pytest.approx(s[rows].mean(), abs=1e-12)
    return table


def test_real_scores_auc_within_1e4_of_sklearn():
    y, s, groups = _real_scores()
    table = _check_against_exact(y, s, groups, within_1e4=True)
    # DeLong from the histogram ≈ DeLong from the rows.
    for g in np.unique(groups):
        rows = groups == g
        _, var = auc_delong(y[rows] == 1, s[rows])
        se = table.loc[(f"g={g}", "roc_auc")].se
        assert se == pytest.approx(np.sqrt(var), rel=1e-3)


def test_engine_row_table_matches_histogram_table():
    """The whole score table (every group, every metric) agrees with group_metrics on rows."""
    y, s, groups = _real_scores()
    gm = group_metrics(
        y,
        (s > 0.5).astype(int),
        pd.DataFrame({"g": groups}),
        scores=s,
        n_boot=200,
        seed=0,
        min_group_size=5,
    )
    exact = gm.scores.set_index(["group", "metric"])
    binned = _binned(y, s, groups)
    for metric in ("mean_score", "brier_score", "calibration_error"):
        assert np.allclose(
            exact.xs(metric, level=1).value, binned.xs(metric, level=1).value, rtol=0, atol=1e-12
        )
    gap = (exact.value - binned.value).abs()
    assert (gap <= binned.error + 1e-12).all()


@pytest.mark.parametrize(
    "case",
    ["one_bin", "interleaved", "leaf_ties", "clipped", "separated", "sub_bin_shift"],
)
def test_adversarial_scores_stay_within_stated_error(case):
    rng = np.random.default_rng(1)
    n = 20_000
    y = (rng.random(n) < 0.3).astype(int)
    groups = rng.choice(["a", "b"], n)
    if case == "one_bin":  # every score within one bin: the bound must say so
        s = 0.5 + 1e-7 * rng.random(n) + 1e-8 * y
    elif case == "interleaved":  # positives just above negatives, at every bin
        s = np.round(rng.random(n), 5) + 1e-9 * y
    elif case == "leaf_ties":  # a tree's leaf probabilities: ties only, exact
        s = rng.choice([0.1, 0.25, 0.4, 0.7, 0.9], n) + 0.0 * y
        s = np.where(y == 1, np.minimum(s + rng.choice([0, 0.15], n), 0.9), s)
    elif case == "clipped":  # probabilities clipped to exactly 0 and 1
        s = np.clip(rng.normal(0.3 + 0.5 * y, 0.4), 0, 1)
    elif case == "separated":  # perfect separation, scores within 1e-9 of 0 and 1
        s = np.where(y == 1, 1 - 1e-9 * rng.random(n), 1e-9 * rng.random(n))
    else:  # positives a quarter bin above otherwise identical negatives
        s = np.clip(rng.random(n) + y * 0.25 / DEFAULT_SCORE_BINS, 0, 1)
    table = _check_against_exact(y, s, groups, within_1e4=False)
    error = table.xs("roc_auc", level=1).error
    if case in ("leaf_ties", "clipped", "separated"):
        assert (error <= 1e-4).all()
    if case == "leaf_ties":
        assert (error == 0).all()
    if case == "one_bin":
        assert (error > 0.1).all()  # honest: no claim to precision it does not have


def test_stated_auc_error_is_the_pairs_sharing_a_mixed_bin():
    """The bound is Σ P_b N_b / (2 n1 n0) over bins holding different scores: pairs in a bin
    of one score (a tree's leaf) are exact ties and add nothing."""
    rng = np.random.default_rng(4)
    n = 30_000
    y = (rng.random(n) < 0.4).astype(int)
    groups = rng.choice(["a", "b", "c"], n)
    leaf = rng.random(n) < 0.5
    s = np.where(leaf, rng.choice([0.125, 0.375, 0.625], n), rng.random(n) ** (1 + y))
    table = count_table(y, (s > 0.5).astype(int), pd.DataFrame({"g": groups}))
    codes = pd.Categorical(groups, categories=list(table.levels[0])).codes.astype(np.int64)
    hist = score_histograms(codes, y == 1, s, shape=table.counts.shape[:-2])
    mixed = hist.mixing()
    assert mixed.any() and not mixed.all()
    gm = metrics_from_counts(table, score_histograms=hist, n_boot=200, seed=0)
    error = gm.scores.set_index(["group", "metric"]).error
    for code, g in enumerate(table.levels[0]):
        neg, pos = hist.hist[code].astype(float)
        expected = (pos[mixed] * neg[mixed]).sum() / (2 * pos.sum() * neg.sum())
        assert expected > 0
        assert error[(f"g={g}", "roc_auc")] == pytest.approx(expected, rel=1e-12)


def test_scoring_rate_within_stated_error():
    y, s, groups = _real_scores()
    table = _binned(y, s, groups)
    above = s > np.median(s)
    for g in np.unique(groups):
        row = table.loc[(f"g={g}", "scoring_rate")]
        assert abs(row.value - above[groups == g].mean()) <= row.error + 1e-12
        assert row.error <= 1e-3


@pytest.mark.parametrize("bins", [4096, DEFAULT_SCORE_BINS])
@pytest.mark.parametrize("calibration_bins", [7, 10, 20])
def test_calibration_bins_equal_digitize_on_every_edge(bins, calibration_bins):
    """The calibration bin of each score, computed arithmetically (rows) or looked up from its
    histogram bin (streams), is np.digitize's, also for scores on or beside a float edge."""
    from metrics._histogram_scores import _calibration_bins, fine_bins
    from metrics._scores import _bins

    rng = np.random.default_rng(0)
    edges = np.linspace(0.0, 1.0, calibration_bins + 1)
    s = np.concatenate(
        [
            rng.random(200_000),
            edges,
            np.nextafter(edges, 2),
            np.nextafter(edges, -1),
            np.round(rng.random(50_000), 3),
        ]
    ).clip(0, 1)
    expected = np.clip(np.digitize(s, edges[1:-1], right=True), 0, calibration_bins - 1)
    assert (_bins(s, calibration_bins) == expected).all()
    looked_up = _calibration_bins(fine_bins(s, bins), s, bins, calibration_bins)
    assert (looked_up == expected).all()


def test_metrics_from_counts_equals_group_metrics_on_rows():
    """The entry point for counts summed elsewhere (a stream, Spark): every rate, interval and
    disparity of a count table equals group_metrics' on the rows it counts."""
    y, s, groups = _real_scores()
    d = (s > 0.5).astype(int)
    sensitive = pd.DataFrame({"g": groups, "h": np.where(s > 0.3, "x", "y")})
    rows = group_metrics(y, d, sensitive, n_boot=200, seed=4)
    counted = metrics_from_counts(count_table(y, d, sensitive), n_boot=200, seed=4)
    pd.testing.assert_frame_equal(rows.by_group, counted.by_group)
    for view in rows.views:
        a = rows.disparity("false_negative_rate", view=view, kind="difference")
        b = counted.disparity("false_negative_rate", view=view, kind="difference")
        assert (a.value, a.ci, a.exact) == (b.value, b.ci, b.exact)
    assert counted.scores is None


def test_bench_score_part_runs_and_prints_its_ratio(capsys):
    """The score-part benchmark at a tiny size, so it cannot rot (timings are not asserted)."""
    import importlib.util

    path = Path(__file__).parent / "benchmarks" / "bench_score_part.py"
    spec = importlib.util.spec_from_file_location("fairgate_bench_score_part", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ratio = bench.main(["--rows", "20000", "--repeats", "1", "--rows-exact"])
    out = capsys.readouterr().out
    assert "score part/bincount at 20,000 rows:" in out and "row-level score_metrics" in out
    assert ratio > 0
