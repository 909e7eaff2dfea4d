"""Score histograms: what a stream of rows keeps per cell for the score metrics.

A decision log too large to hold in memory is summarised batch by batch: for every
intersection cell of the sensitive attributes and each label (negative, positive), a
histogram of the score in ``bins`` bins of [0, 1] (:func:`fine_bins`: scores of exactly 0 and
exactly 1 have a bin of their own), which bins hold more than one distinct score, and per
calibration bin the count and the sums of ``d = score - outcome``, ``d²`` and ``d⁴``. Memory
is bounded by the cells and bins, never by the rows. The metrics computed from these
summaries, and their stated errors, are in :mod:`._histogram_metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._scores import _bins

__all__ = [
    "DEFAULT_SCORE_BINS",
    "ScoreHistograms",
    "choose_bins",
    "compiled_kernel",
    "fine_bins",
    "score_histograms",
]

#: Score bins per cell and label unless the memory budget asks for fewer (never under 2^12).
DEFAULT_SCORE_BINS = 1 << 16
_MIN_BINS = 1 << 12
_BUDGET = 1 << 24  # histogram entries (cells × 2 labels × bins): 128 MiB of int64


def choose_bins(n_cells: int, bins: int = DEFAULT_SCORE_BINS) -> int:
    """``bins`` halved until ``n_cells × 2 × bins`` fits the budget, but never under 2^12."""
    while bins > _MIN_BINS and n_cells * 2 * bins > _BUDGET:
        bins //= 2
    return bins


@dataclass(frozen=True)
class ScoreHistograms:
    """Score summaries per intersection cell and label, laid out like a count table.

    Attributes
    ----------
    hist : ndarray of int64, shape (*levels, 2, bins)
        ``hist[..., y, b]``: rows of the cell with outcome ``y`` (1: the favourable label)
        whose score is in bin ``b`` of :func:`fine_bins` (scores of exactly 0 and exactly 1
        have a bin of their own).
    calib : ndarray of float64, shape (*levels, 2, calibration_bins, 4)
        Per calibration bin (the bins of :func:`._scores.expected_calibration_error`:
        ``np.digitize(s, np.linspace(0, 1, calibration_bins + 1)[1:-1], right=True)``): the
        count, and the sums of ``d``, ``d²`` and ``d⁴`` with ``d = score - outcome``.

    Another engine (e.g. Spark) builds the same sums per cell (levels sorted as in the count
    table), label, :func:`fine_bins` bin and calibration bin, and hands them with the count
    table to :func:`~metrics.metrics_from_counts`.
    first : ndarray of float64, shape (bins,), optional
        One score seen in each bin (``NaN`` for an empty bin), over every cell.
    mixed : ndarray of bool, shape (bins,), optional
        Whether a bin holds two different scores (in any cells). A bin that does not holds
        exact ties, which the binned AUC counts exactly. Without ``first`` and ``mixed``
        every bin is taken to mix scores (the error bound is then the widest).
    """

    hist: np.ndarray
    calib: np.ndarray
    first: np.ndarray | None = None
    mixed: np.ndarray | None = None

    def mixing(self) -> np.ndarray:
        """Which bins may hold different scores."""
        if self.mixed is None:
            return np.ones(self.bins, dtype=bool)
        return self.mixed

    @property
    def bins(self) -> int:
        """Score bins of :attr:`hist`."""
        return int(self.hist.shape[-1])

    @property
    def calibration_bins(self) -> int:
        """Bins of the calibration error."""
        return int(self.calib.shape[-2])

    def __add__(self, other: ScoreHistograms) -> ScoreHistograms:
        return ScoreHistograms(
            self.hist + other.hist, self.calib + other.calib, *self._ties_with(other)
        )

    def _ties_with(self, other: ScoreHistograms) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``first`` and ``mixed`` of the union of both summaries' rows."""
        if self.first is None or other.first is None:
            return None, None
        a, b = self.first, other.first
        differ = ~np.isnan(a) & ~np.isnan(b) & (a != b)
        return np.where(np.isnan(a), b, a), self.mixing() | other.mixing() | differ

    def reorder(self, orders: list[list[int]]) -> ScoreHistograms:
        """The cells with each attribute's levels taken in its order (one copy; the bins'
        ties are unchanged)."""
        grid = np.ix_(*orders)
        return ScoreHistograms(self.hist[grid], self.calib[grid], self.first, self.mixed)


def compiled_kernel() -> bool:
    """Whether ``score_histograms(..., engine="numba")`` can run here: numba imports and its
    kernel compiles, or loads from its cache (importing numba costs about 0.5 s, once). When
    it cannot (numba missing, nowhere to cache machine code), numpy gives the same sums."""
    try:
        from . import _histogram_kernel  # noqa: F401
    except Exception:  # any failure: the numpy passes are always there
        return False
    return True


def fine_bins(scores: np.ndarray, bins: int) -> np.ndarray:
    """Each score's histogram bin: 0 holds exactly 0, ``bins - 1`` exactly 1, and bin
    ``k`` in between holds ``((k - 1) / (bins - 2), k / (bins - 2)]``. Scores clipped to 0 or 1
    are then exact ties, never mixed with scores near them."""
    out = np.ceil(scores * (bins - 2)).astype(np.int64)
    out[scores >= 1] = bins - 1
    return out


def score_histograms(
    cells: np.ndarray,
    positive: np.ndarray,
    scores: np.ndarray,
    *,
    shape: tuple[int, ...],
    bins: int = DEFAULT_SCORE_BINS,
    calibration_bins: int = 10,
    into: ScoreHistograms | None = None,
    engine: str = "numpy",
) -> ScoreHistograms:
    """Summarise one batch of rows (sum the batches' results with ``+``, or pass ``into``).

    Parameters
    ----------
    cells : ndarray of int
        Each row's flat intersection cell (C order over ``shape``).
    positive : ndarray of bool
        Whether each row's outcome is the favourable label.
    scores : ndarray of float in [0, 1]
        The probability of the favourable label.
    shape : tuple of int
        Levels per sensitive attribute.
    bins, calibration_bins : int
        Score bins of the histogram; bins of the calibration error.
    into : ScoreHistograms, optional
        A running total of earlier batches (of the same shape and bins), which nothing else
        holds: this batch is added to its arrays in place (no histogram-sized array per
        batch) and the total is returned.
    engine : {"numpy", "numba"}, default "numpy"
        numpy's passes over the rows, or one compiled pass (:mod:`._histogram_kernel`: 2.4
        times faster, measured, after about 0.5 s of importing numba once per process: worth
        it for tens of millions of rows). Both give the same histograms, calibration sums (bit
        for bit) and mixed bins.
    """
    if engine not in ("numba", "numpy"):
        raise ValueError(
            f"The 'engine' parameter of score_histograms must be 'numba' or 'numpy'. "
            f"Got {engine!r} instead."
        )
    if not bins >= 3 or not calibration_bins >= 1:
        raise ValueError(
            "The 'bins' and 'calibration_bins' parameters of score_histograms must be at least "
            f"3 and 1. Got {bins!r} and {calibration_bins!r} instead."
        )
    if engine == "numba":
        return _compiled(cells, positive, scores, shape, bins, calibration_bins, into)
    n_cells = int(np.prod(shape))
    y = np.asarray(positive, dtype=bool)
    s = np.asarray(scores, dtype=float)
    key = np.asarray(cells, dtype=np.int64) * 2 + y
    fine = fine_bins(s, bins)
    # Rows in bins a running total already knows to mix scores cannot change its ties.
    known = into.mixed if into is not None and into.first is not None else None
    first, mixed = _ties(fine, s, bins, known=known)
    calibration = _calibration_bins(fine, s, bins, calibration_bins)
    fine += key * bins
    if into is None:
        hist = np.bincount(fine, minlength=n_cells * 2 * bins)
    else:
        hist = into.hist.reshape(-1)
        if not np.may_share_memory(hist, into.hist):
            raise ValueError("The 'into' parameter must hold C-contiguous histograms.")
        np.add.at(hist, fine, 1)
    del fine
    ck = key * calibration_bins + calibration
    d = s - y
    d2 = d * d
    size = n_cells * 2 * calibration_bins
    calib = np.stack(
        [
            np.bincount(ck, minlength=size).astype(float),
            np.bincount(ck, weights=d, minlength=size),
            np.bincount(ck, weights=d2, minlength=size),
            np.bincount(ck, weights=d2 * d2, minlength=size),
        ],
        axis=-1,
    )
    part = ScoreHistograms(
        hist.reshape(*shape, 2, bins),
        calib.reshape(*shape, 2, calibration_bins, 4),
        first,
        mixed,
    )
    if into is None:
        return part
    np.add(into.calib, part.calib, out=into.calib)
    return ScoreHistograms(into.hist, into.calib, *into._ties_with(part))


def _compiled(cells, positive, scores, shape, bins, calibration_bins, into):
    """:func:`score_histograms` by the one-pass kernel of :mod:`._histogram_kernel`."""
    from ._histogram_kernel import accumulate  # numba: imported by the first batch only

    n_cells = int(np.prod(shape))
    if into is None:
        hist = np.zeros((*shape, 2, bins), dtype=np.int64)
    else:
        hist = into.hist
        if not hist.flags.c_contiguous or hist.shape != (*shape, 2, bins):
            raise ValueError("The 'into' parameter must hold C-contiguous histograms.")
    ties = into is None or (into.first is not None and into.mixed is not None)
    first = into.first if ties and into is not None else np.full(bins, np.nan)
    mixed = into.mixed if ties and into is not None else np.zeros(bins, dtype=bool)
    calib = np.zeros((*shape, 2, calibration_bins, 4))
    accumulate(
        cells,
        positive,
        scores,
        n_cells=n_cells,
        bins=bins,
        codes=_calibration_codes(bins, calibration_bins),
        edges=np.linspace(0.0, 1.0, calibration_bins + 1),
        hist=hist.reshape(-1),
        calib=calib.reshape(-1),
        first=first,
        mixed=mixed,
    )
    if into is not None:
        np.add(into.calib, calib, out=into.calib)
        calib = into.calib
    return ScoreHistograms(hist, calib, *((first, mixed) if ties else (None, None)))


@lru_cache(maxsize=8)
def _calibration_codes(bins: int, calibration_bins: int) -> np.ndarray:
    """:func:`_calibration_lookup` as one table of the kernel: each bin's calibration bin, or
    -1 where it may straddle an edge (int8 while the bins fit, so it stays in the caches)."""
    lookup, straddle = _calibration_lookup(bins, calibration_bins)
    dtype = np.int8 if calibration_bins <= np.iinfo(np.int8).max else np.int64
    return np.where(straddle, -1, lookup).astype(dtype)


@lru_cache(maxsize=8)
def _calibration_lookup(bins: int, calibration_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per histogram bin: its calibration bin, and whether it may straddle a calibration
    edge (then each of its scores is binned on its own)."""
    width = 1.0 / (bins - 2)
    upper = np.arange(bins) * width
    lower = upper - width
    margin = 1e-9  # beyond any rounding of ``ceil(s * (bins - 2))``
    low = _bins(np.clip(lower - margin, 0, 1), calibration_bins)
    high = _bins(np.clip(upper + margin, 0, 1), calibration_bins)
    low[0], high[0] = 0, 0  # exactly 0
    low[-1] = high[-1] = _bins(np.array([1.0]), calibration_bins)[0]  # exactly 1
    return high, low != high


def _calibration_bins(fine: np.ndarray, s: np.ndarray, bins: int, calibration_bins: int):
    """:func:`._scores._bins` of the scores, looked up from their histogram bins (bins that
    may straddle a calibration edge are binned score by score)."""
    lookup, straddle = _calibration_lookup(bins, calibration_bins)
    out = lookup[fine]
    odd = np.flatnonzero(straddle[fine])
    if len(odd):
        out[odd] = _bins(s[odd], calibration_bins)
    return out


def _ties(
    fine: np.ndarray, s: np.ndarray, bins: int, *, known: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One score of each bin, and whether a bin holds another (exactly compared); rows in
    bins ``known`` to mix scores are left out (they change nothing in a total that knows)."""
    if known is not None and known.any():
        keep = np.flatnonzero(~known[fine])
        fine, s = fine[keep], s[keep]
    first = np.full(bins, np.nan)
    first[fine] = s  # one of each bin's scores (the last written)
    mixed = np.bincount(fine[s != first[fine]], minlength=bins) > 0
    return first, mixed
