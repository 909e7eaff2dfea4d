"""One pass over score histograms for every view's groups (numba), for
:mod:`._histogram_metrics`.

The numpy path sums the cells' histograms to each view (a pass over every histogram per view),
converts them to floats, takes cumulative sums and five ``einsum`` products per group, and sums
the labels and the bins above the median in passes of their own: about 0.08 s for 40 cells of
2^16 bins. This kernel reads the histograms twice (the totals, then everything else) and works
through the bins a block at a time: it adds each cell's block to its group in every view (the
groups' blocks, 4 KiB each, stay in a core's own caches), then walks each group's block once,
keeping the running counts below it. The placements are exact integers, as in the numpy path;
each block's sums are added to the totals, so they differ from ``einsum``'s in the last bits
only (``tests/test_histogram_views_kernel.py`` checks both paths agree to 1e-12).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["view_sums", "view_totals"]

#: Bins per block: every group's block of counts stays in a core's own caches.
_BLOCK = 256


@numba.njit(cache=True, nogil=True)
def _totals(hist, groups, n_groups):
    """Rows per group and label, and rows per bin over every cell and label."""
    n_cells, _, bins = hist.shape
    labels = np.zeros((n_groups, 2), np.int64)
    overall = np.zeros(bins, np.int64)
    for c in range(n_cells):
        for y in range(2):
            row = hist[c, y]
            total = 0
            for b in range(bins):
                total += row[b]
                overall[b] += row[b]
            for v in range(groups.shape[0]):
                labels[groups[v, c], y] += total
    return labels, overall


@numba.njit(cache=True, nogil=True)
def _sums(hist, groups, n_groups, labels, mixed, median_bin):
    n_cells, _, bins = hist.shape
    parts = np.zeros((n_groups, 5))
    below = np.zeros(n_groups, np.int64)  # rows in bins up to the median's
    split = np.zeros(n_groups, np.int64)  # rows in the median's bin
    cum = np.zeros((n_groups, 2), np.int64)
    block = np.zeros((n_groups, 2, _BLOCK), np.int64)
    for start in range(0, bins, _BLOCK):
        m = min(_BLOCK, bins - start)
        block[:, :, :m] = 0
        for c in range(n_cells):
            for v in range(groups.shape[0]):
                g = groups[v, c]
                for y in range(2):
                    for j in range(m):
                        block[g, y, j] += hist[c, y, start + j]
        for g in range(n_groups):
            neg_below, pos_below = cum[g, 0], cum[g, 1]
            n1 = labels[g, 1]
            s0 = s1 = s2 = s3 = s4 = 0.0  # this block's sums (then added: fewer roundings)
            for j in range(m):
                neg = block[g, 0, j]
                pos = block[g, 1, j]
                if start + j == median_bin:
                    split[g] = neg + pos
                    below[g] = neg_below + pos_below + neg + pos
                if neg == 0 and pos == 0:
                    continue
                a = float(2 * neg_below + neg)  # 2·cumsum(neg) - neg
                c = float(2 * (n1 - pos_below) - pos)  # 2·n1 - 2·cumsum(pos) + pos
                p, q = float(pos), float(neg)
                s0 += p * a
                s1 += q * c
                s2 += p * a * a
                s3 += q * c * c
                if mixed[start + j]:
                    s4 += p * q
                neg_below += neg
                pos_below += pos
            cum[g, 0], cum[g, 1] = neg_below, pos_below
            parts[g, 0] += s0
            parts[g, 1] += s1
            parts[g, 2] += s2
            parts[g, 3] += s3
            parts[g, 4] += s4
    return parts, below, split


def view_totals(hist: np.ndarray, groups: np.ndarray, n_groups: int):
    """Rows per group (of every view) and label, shape (n_groups, 2), and rows per bin over
    every cell and label, shape (bins,).

    Parameters
    ----------
    hist : ndarray of int64, shape (cells, 2, bins)
        The cells' score histograms by label (C-contiguous).
    groups : ndarray of int64, shape (views, cells)
        Each cell's group in each view, numbered across views (in ``[0, n_groups)``).
    """
    return _totals(_cells(hist), _groups(groups, hist.shape[0], n_groups), n_groups)


def view_sums(
    hist: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    *,
    labels: np.ndarray,
    mixed: np.ndarray,
    median_bin: int,
):
    """Per group: the five AUC sums of :func:`._histogram_metrics._auc_group_parts` (before
    their division), the rows in bins up to ``median_bin`` and the rows in that bin.

    ``labels`` is :func:`view_totals`' first result; ``mixed`` says which bins hold two
    different scores.
    """
    hist = _cells(hist)
    groups = _groups(groups, hist.shape[0], n_groups)
    mixed = np.ascontiguousarray(mixed, dtype=np.bool_)
    if len(mixed) != hist.shape[2] or labels.shape != (n_groups, 2):
        raise ValueError(
            "The 'mixed' and 'labels' parameters of view_sums must have one value per bin and "
            f"one row per group. Got {len(mixed)} and {labels.shape} instead."
        )
    return _sums(hist, groups, n_groups, np.ascontiguousarray(labels), mixed, int(median_bin))


def _cells(hist: np.ndarray) -> np.ndarray:
    if hist.ndim != 3 or hist.shape[1] != 2:
        raise ValueError(
            f"The 'hist' parameter must have the shape (cells, 2, bins). Got {hist.shape} instead."
        )
    return np.ascontiguousarray(hist, dtype=np.int64)


def _groups(groups: np.ndarray, n_cells: int, n_groups: int) -> np.ndarray:
    groups = np.ascontiguousarray(groups, dtype=np.int64)
    fits = groups.ndim == 2 and groups.shape[1] == n_cells
    if not fits or (groups.size and (groups.min() < 0 or groups.max() >= n_groups)):
        raise ValueError(
            f"The 'groups' parameter must give each of the {n_cells} cells a group in "
            f"[0, {n_groups}) per view. Got the shape {groups.shape} instead."
        )
    return groups
