"""The compiled one-pass kernel of ``score_histograms`` equals numpy's passes exactly: the
same histograms, the same calibration sums bit for bit, the same bins known to mix scores, on
real, tied and adversarial scores, summed over batches; and it refuses rows it cannot count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from metrics import ScoreHistograms, score_histograms

DATA = Path(__file__).parent / "data" / "adult_sample.csv"
SHAPE = (2, 3)


def _real(n: int, rng: np.random.Generator) -> np.ndarray:
    """A logistic regression's probabilities on the Adult sample (real data), resampled."""
    frame = pd.read_csv(DATA)
    y = (frame.income == ">50K").to_numpy()
    x = frame[["age", "education_num", "hours_per_week"]].to_numpy(float)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    idx = rng.integers(0, len(y), n)
    return model.predict_proba(x[idx] + rng.normal(0, 0.3, (n, 3)))[:, 1]


def _adversarial(n: int, rng: np.random.Generator, bins: int) -> np.ndarray:
    """Scores on and beside every edge the two binnings have (calibration tenths, histogram
    bin edges), exactly 0 and 1, and a pile of one repeated score."""
    tenths = np.linspace(0, 1, 11)
    edges = rng.integers(0, bins - 1, 200) / (bins - 2)
    points = np.concatenate([tenths, edges, [0.0, 1.0, 0.3, 0.3]])
    near = np.concatenate([points, np.nextafter(points, 0), np.nextafter(points, 1)])
    near = np.clip(near, 0, 1)
    return np.concatenate([rng.choice(near, n // 2), np.full(n - n // 2, 0.25)])


def _scores(kind: str, n: int, rng: np.random.Generator, bins: int) -> np.ndarray:
    if kind == "real":
        return _real(n, rng)
    if kind == "tied":  # a tree's leaf probabilities, and clipped scores
        return np.clip(np.round(rng.normal(0.5, 0.4, n), 2), 0, 1)
    return rng.permutation(_adversarial(n, rng, bins))


def _summed(cells, y, s, *, engine: str, bins: int, parts: int) -> ScoreHistograms:
    total = None
    for idx in np.array_split(np.arange(len(s)), parts):
        total = score_histograms(
            cells[idx], y[idx], s[idx], shape=SHAPE, bins=bins, into=total, engine=engine
        )
    return total


@pytest.mark.parametrize("kind", ["real", "tied", "adversarial"])
@pytest.mark.parametrize("bins", [4096, 1 << 16])
def test_the_kernel_equals_numpy_exactly(kind, bins):
    rng = np.random.default_rng(7)
    n = 30_000
    s = _scores(kind, n, rng, bins)
    cells = rng.integers(0, int(np.prod(SHAPE)), n)
    y = rng.random(n) < s  # labels that follow the scores
    numpy_ = _summed(cells, y, s, engine="numpy", bins=bins, parts=3)
    compiled = _summed(cells, y, s, engine="numba", bins=bins, parts=3)
    assert compiled.hist.dtype == np.int64 and compiled.hist.shape == (*SHAPE, 2, bins)
    np.testing.assert_array_equal(compiled.hist, numpy_.hist)
    np.testing.assert_array_equal(compiled.calib, numpy_.calib)  # bit for bit, not approx
    np.testing.assert_array_equal(compiled.mixed, numpy_.mixed)
    alone = ~numpy_.mixed  # a bin of one score: that score, or empty (NaN) either way
    np.testing.assert_array_equal(compiled.first[alone], numpy_.first[alone])
    assert compiled.hist.sum() == n and compiled.calib[..., 0].sum() == n
    if kind != "real":
        assert (numpy_.hist.reshape(-1, bins).sum(axis=0)[~numpy_.mixed] > 1).any()


def test_a_running_total_without_ties_stays_without():
    """Histograms another engine built without ties (every bin may mix) stay so."""
    rng = np.random.default_rng(1)
    s = rng.random(1000)
    cells = rng.integers(0, 6, 1000)
    y = rng.random(1000) < 0.5
    for engine in ("numpy", "numba"):
        first = score_histograms(cells, y, s, shape=SHAPE, bins=4096, engine=engine)
        bare = ScoreHistograms(first.hist.copy(), first.calib.copy())
        total = score_histograms(cells, y, s, shape=SHAPE, bins=4096, into=bare, engine=engine)
        assert total.first is None and total.mixed is None and total.mixing().all()
        assert total.hist.sum() == 2000


@pytest.mark.parametrize(
    ("score", "cell"),
    [(float("nan"), 0), (1.5, 0), (-0.01, 0), (0.5, 6), (0.5, -1)],
)
def test_the_kernel_refuses_what_it_cannot_count(score, cell):
    """numba does not check indices: the kernel must, and say which row."""
    s = np.full(5000, 0.5)
    cells = np.zeros(5000, dtype=np.int64)
    s[4321], cells[4321] = score, cell
    with pytest.raises(ValueError, match="at row 4321"):
        score_histograms(cells, np.zeros(5000, bool), s, shape=SHAPE, bins=4096, engine="numba")


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="'engine' parameter of score_histograms"):
        score_histograms(np.zeros(1, int), np.zeros(1, bool), np.zeros(1), shape=(1,), engine="c")


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize(("bins", "calibration_bins"), [(4096, 0), (4096, -1), (2, 10)])
def test_bins_that_leave_nothing_to_count_into_are_refused(engine, bins, calibration_bins):
    """Red team: ``calibration_bins=0`` gave the kernel a calibration table of no entries,
    into which it wrote every row (numba does not check indices: the heap was corrupted)."""
    s = np.full(100, 0.5)
    with pytest.raises(ValueError, match="'bins' and 'calibration_bins' parameters"):
        score_histograms(
            np.zeros(100, int),
            np.zeros(100, bool),
            s,
            shape=SHAPE,
            bins=bins,
            calibration_bins=calibration_bins,
            engine=engine,
        )


def test_the_kernel_refuses_an_empty_calibration_table():
    """The kernel's own guard, whatever its caller checked."""
    from metrics._histogram_kernel import accumulate

    bins = 8
    with pytest.raises(ValueError, match="at least one calibration bin"):
        accumulate(
            np.zeros(3, np.int64),
            np.zeros(3, bool),
            np.full(3, 0.5),
            n_cells=1,
            bins=bins,
            codes=np.zeros(bins, np.int8),
            edges=np.array([0.0]),
            hist=np.zeros(2 * bins, np.int64),
            calib=np.zeros(0),
            first=np.full(bins, np.nan),
            mixed=np.zeros(bins, bool),
        )


def test_a_running_total_with_first_scores_but_no_mixed_bins():
    """``first`` without ``mixed``: both engines take every bin to mix (numba raised
    TypeError)."""
    rng = np.random.default_rng(2)
    s, cells, y = rng.random(1000), rng.integers(0, 6, 1000), rng.random(1000) < 0.5
    totals = []
    for engine in ("numpy", "numba"):
        part = score_histograms(cells, y, s, shape=SHAPE, bins=4096, engine=engine)
        odd = ScoreHistograms(part.hist.copy(), part.calib.copy(), part.first.copy(), None)
        totals.append(
            score_histograms(cells, y, s, shape=SHAPE, bins=4096, into=odd, engine=engine)
        )
    np.testing.assert_array_equal(totals[0].hist, totals[1].hist)
    np.testing.assert_array_equal(totals[0].calib, totals[1].calib)
    assert totals[0].mixing().all() and totals[1].mixing().all()
