"""The compiled pass over score histograms (``metrics._histogram_views_kernel``) gives the
score metrics of every view that numpy's passes give: the same groups, the same counts, the
same values and intervals to 1e-12, on random, tied, one-sided and adversarial histograms,
with groups absent from the table, and for one, two and three attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics import (
    ScoreHistograms,
    count_table,
    histogram_score_metrics,
    metrics_from_counts,
    score_histograms,
)


def _log(rng, n, shape, scores):
    codes = [rng.integers(0, k, n) for k in shape]
    y = rng.random(n) < 0.4
    s = scores(rng, y, codes)
    frame = pd.DataFrame({f"a{i}": c for i, c in enumerate(codes)})
    return frame, y, s


def _both(frame, y, s, *, bins=1 << 12):
    table = count_table(y.astype(int), (s > 0.5).astype(int), frame)
    # The cells over the table's own levels (sorted; a level without rows is not one).
    levels = [np.asarray(lv) for lv in table.levels]
    codes = [
        np.searchsorted(lv, frame[a].to_numpy())
        for lv, a in zip(levels, frame.columns, strict=True)
    ]
    own = tuple(len(lv) for lv in levels)
    hist = score_histograms(np.ravel_multi_index(codes, own), y, s, shape=own, bins=bins)
    out = [
        histogram_score_metrics(table, hist, n_boot=50, seed=3, min_group_size=5, engine=e)
        for e in ("numpy", "numba")
    ]
    return table, hist, out


def _assert_same(a: pd.DataFrame, b: pd.DataFrame):
    assert len(a) == len(b) > 0
    text = [c for c in a.columns if not pd.api.types.is_float_dtype(a[c])]
    pd.testing.assert_frame_equal(a[text], b[text])
    for column in a.columns.difference(text):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-12, atol=1e-15, err_msg=column)


SCORES = {
    "separated": lambda rng, y, c: np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1),
    "tied (a tree's leaves)": lambda rng, y, c: rng.choice([0.1, 0.25, 0.5, 0.8], len(y)),
    "one bin (adversarial)": lambda rng, y, c: np.full(len(y), 0.5) + rng.random(len(y)) * 1e-6,
    "clipped to 0 and 1": lambda rng, y, c: np.clip(rng.normal(0.5, 0.6, len(y)), 0, 1),
    "by group": lambda rng, y, c: rng.beta(2 + c[0], 2 + y, len(y)),
}


@pytest.mark.parametrize("scores", list(SCORES), ids=list(SCORES))
@pytest.mark.parametrize("shape", [(3,), (2, 4), (2, 3, 4)], ids=["1 attr", "2 attrs", "3 attrs"])
def test_compiled_views_equal_numpys(scores, shape):
    rng = np.random.default_rng(len(shape) * 7 + len(scores))
    frame, y, s = _log(rng, 6000, shape, SCORES[scores])
    _, _, (numpy_, numba_) = _both(frame, y, s)
    _assert_same(numpy_, numba_)


def test_groups_with_one_label_or_absent():
    """A group of negatives only, a group of positives only, and a level combination with no
    rows (left out of the view by both paths)."""
    rng = np.random.default_rng(5)
    frame, y, s = _log(rng, 4000, (3, 3), SCORES["separated"])
    y[(frame.a0 == 0).to_numpy()] = False
    y[(frame.a0 == 1).to_numpy()] = True
    gone = ((frame.a0 == 2) & (frame.a1 == 2)).to_numpy()
    frame, y, s = frame[~gone].reset_index(drop=True), y[~gone], s[~gone]
    _, _, (numpy_, numba_) = _both(frame, y, s)
    _assert_same(numpy_, numba_)
    assert not numba_.group.str.contains("a0=2|a1=2", regex=False).any()
    assert numba_.query("metric == 'roc_auc' and group == 'a0=0'").value.isna().all()


def test_metrics_from_counts_passes_the_engine():
    rng = np.random.default_rng(11)
    frame, y, s = _log(rng, 3000, (2, 3), SCORES["by group"])
    table, hist, _ = _both(frame, y, s)
    out = [
        metrics_from_counts(table, score_histograms=hist, n_boot=30, engine=e).scores
        for e in ("numpy", "numba")
    ]
    _assert_same(*out)


def test_an_unknown_engine_is_refused():
    rng = np.random.default_rng(1)
    frame, y, s = _log(rng, 500, (2,), SCORES["separated"])
    table, hist, _ = _both(frame, y, s)
    with pytest.raises(ValueError, match="'engine' parameter of histogram_score_metrics"):
        histogram_score_metrics(table, hist, engine="cuda")


def test_the_kernel_refuses_groups_out_of_range():
    """numba does not check indices: the wrapper does, before the kernel runs."""
    from metrics._histogram_views_kernel import view_sums, view_totals

    hist = np.ones((4, 2, 8), np.int64)
    with pytest.raises(ValueError, match="a group in \\[0, 2\\)"):
        view_totals(hist, np.array([[0, 1, 2, 1]]), 2)
    with pytest.raises(ValueError, match="one value per bin"):
        view_sums(
            hist,
            np.array([[0, 1, 1, 0]]),
            2,
            labels=np.zeros((2, 2), np.int64),
            mixed=np.ones(7, bool),
            median_bin=3,
        )


def test_without_ties_known_every_bin_mixes_in_both():
    """Histograms from another engine (no ``first``/``mixed``): both take every bin to mix."""
    rng = np.random.default_rng(2)
    frame, y, s = _log(rng, 3000, (2, 2), SCORES["tied (a tree's leaves)"])
    table, hist, _ = _both(frame, y, s)
    bare = ScoreHistograms(hist.hist, hist.calib)
    out = [
        histogram_score_metrics(table, bare, n_boot=20, min_group_size=5, engine=e)
        for e in ("numpy", "numba")
    ]
    _assert_same(*out)
    assert (out[1].query("metric == 'roc_auc'").error > 0).all()
