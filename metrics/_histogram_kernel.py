"""One pass over a batch's rows for :func:`._histogram_scores.score_histograms` (numba).

The numpy path of :func:`~._histogram_scores.score_histograms` makes about thirty passes over
a batch (bin codes, tie detection, calibration bins, five ``np.bincount`` calls and their
temporaries): 5 to 12 times one ``np.bincount``. This kernel makes one, compiled by numba
(already installed with shap; its machine code is cached beside this module, so only the first
audit on a machine compiles it, about a second). Its results equal the numpy path's exactly:
the same histogram, the same calibration sums (added row by row in the same order, so the
floating point sums are bit for bit the same), the same bins known to mix scores
(``tests/test_histogram_kernel.py`` checks all three on real, tied and adversarial scores).

It works through the rows 2048 at a time: it checks and bins them (histogram, calibration and
tie codes), then adds them to the histogram in a loop of its own (the histogram, 2^16 bins per
cell and label, does not fit in a core's own caches: a tight loop keeps many of its misses in
flight, as ``np.bincount`` does), then to the ties and the calibration sums. numba does not check
indices: the kernel checks every row's cell and score before it counts any row of its chunk,
and returns the first row out of range (:func:`accumulate` then raises; the rows of earlier
chunks are counted).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["accumulate"]


#: Rows binned at a time: their codes stay in the first-level cache between the passes.
_CHUNK = 2048


@numba.njit(cache=True, nogil=True)
def _pass(cells, positive, scores, n_cells, bins, codes, edges, hist, calib, first, mixed):
    calibration_bins = len(edges) - 1
    inner = bins - 2
    fine = np.empty(_CHUNK, np.int64)
    key = np.empty(_CHUNK, np.int64)
    slot = np.empty(_CHUNK, np.int64)
    dev = np.empty(_CHUNK, np.float64)
    n = len(scores)
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        for j in range(m):  # check and bin the chunk's rows
            i = start + j
            cell = cells[i]
            v = scores[i]
            if cell < 0 or cell >= n_cells or not (v >= 0.0 and v <= 1.0):
                return i
            y = 1 if positive[i] else 0
            b = bins - 1 if v >= 1.0 else math.ceil(v * inner)
            fine[j] = b
            key[j] = ((cell * 2 + y) * bins) + b
            c = np.int64(codes[b])
            if c < 0:  # may straddle an edge: as _bins, arithmetic, then the float edges decide
                c = math.ceil(v * calibration_bins) - 1
                c = min(max(c, 0), calibration_bins - 1)
                if c > 0 and v <= edges[c]:
                    c -= 1
                if c < calibration_bins - 1 and v > edges[c + 1]:
                    c += 1
            slot[j] = ((cell * 2 + y) * calibration_bins + c) * 4
            dev[j] = v - y
        for j in range(m):  # the histogram alone: its cache misses overlap, as in np.bincount
            hist[key[j]] += 1
        for j in range(m):
            b = fine[j]
            if not mixed[b]:
                v = scores[start + j]
                seen = first[b]
                if seen != seen:  # NaN: the bin's first score
                    first[b] = v
                elif seen != v:
                    mixed[b] = True
        for j in range(m):  # row order, as np.bincount adds its weights
            k = slot[j]
            d = dev[j]
            d2 = d * d
            calib[k] += 1.0
            calib[k + 1] += d
            calib[k + 2] += d2
            calib[k + 3] += d2 * d2
    return -1


def accumulate(
    cells: np.ndarray,
    positive: np.ndarray,
    scores: np.ndarray,
    *,
    n_cells: int,
    bins: int,
    codes: np.ndarray,
    edges: np.ndarray,
    hist: np.ndarray,
    calib: np.ndarray,
    first: np.ndarray,
    mixed: np.ndarray,
) -> None:
    """Add one batch's rows to ``hist`` (flat int64), ``calib`` (flat float64, this batch's
    sums only: the caller adds them to a running total, as the numpy path does), ``first``
    and ``mixed`` (per bin), in place.

    ``codes`` holds each histogram bin's calibration bin, or -1 where the bin may straddle a
    calibration edge (its scores are then binned one by one); an int8 table (64 KiB at 2^16
    bins) stays in a core's caches where an int64 one would not.

    Raises
    ------
    ValueError
        A row's cell is not in ``[0, n_cells)`` or its score is not in [0, 1].
    """
    cells = np.ascontiguousarray(cells, dtype=np.int64)
    positive = np.ascontiguousarray(positive, dtype=np.bool_)
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    if not len(cells) == len(positive) == len(scores):
        raise ValueError(
            "The 'cells', 'positive' and 'scores' parameters of accumulate must have one "
            f"value per row. Got {len(cells)}, {len(positive)} and {len(scores)} instead."
        )
    calibration_bins = len(edges) - 1
    if (
        calibration_bins < 1
        or len(codes) == 0
        or not -1 <= codes.min() <= codes.max() < (calibration_bins)
    ):
        raise ValueError(
            "The 'edges' and 'codes' parameters of accumulate must give at least one "
            f"calibration bin, and only bins in [-1, {calibration_bins}). Got {len(edges)} "
            "edges instead."
        )
    if hist.size != n_cells * 2 * bins or calib.size != n_cells * 2 * calibration_bins * 4:
        raise ValueError("The 'hist' and 'calib' parameters of accumulate do not fit the cells.")
    if bins < 3 or not len(codes) == len(first) == len(mixed) == bins:
        raise ValueError(
            "The 'codes', 'first' and 'mixed' parameters of accumulate must have one value per "
            f"bin ({bins}, at least 3)."
        )
    bad = _pass(cells, positive, scores, n_cells, bins, codes, edges, hist, calib, first, mixed)
    if bad >= 0:
        raise ValueError(
            f"Every score must be in [0, 1] and every cell in [0, {n_cells}). Got the score "
            f"{scores[bad]!r} in cell {cells[bad]} at row {bad} instead."
        )
