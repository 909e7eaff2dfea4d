"""Score metrics from per-cell score histograms (:mod:`._histogram_scores`).

A :class:`~._histogram_scores.ScoreHistograms` holds, per intersection cell and label, a
histogram of the score and per calibration bin the count and the sums of ``d = score -
outcome``, ``d²`` and ``d⁴``. Those sums are exact, so these metrics equal the row-level ones
of :mod:`._scores` up to floating point rounding:

* mean score and Brier score (``d²``), and their Student t intervals;
* the expected calibration error, its bias bound and its bootstrap. The bootstrap is the
  multinomial-and-normal draw of bin sums that :func:`._scores._ece_replicates` makes above
  ``_EXACT_ROWS`` rows × replicates, drawn from the same seed in the same order, so the two
  paths give the same interval whenever every group is that large.

Two metrics are approximated, each with a stated bound that widens its interval and is reported
in the ``error`` column (the disparity interval widens by it too, see
:func:`._score_disparity.score_range_interval`):

* ROC AUC: pairs of a positive and a negative in the same bin count one half, as ties. The
  exact AUC differs by at most ``Σ_b P_b N_b / (2 n₁ n₀)`` (each such pair counts 0, ½ or 1
  exactly; a bin holding one score only, e.g. scores clipped to exactly 0 or 1 or a tree's
  leaf probabilities, holds exact ties and is left out).
  At 2^16 bins the bound is under 1e-4 for score distributions with a density (it is about
  ``∫ f₁ f₀ / (2 · 2^16)``); scores piled in one bin (adversarial) show a large bound, which
  widens the interval, rather than a silently wrong value. The DeLong variance treats each
  bin as one tied score.
* scoring rate (share of a group above the overall median): the median is known to its bin;
  rows of that bin are split by the overall share above the median, and the error is at most
  the group's share of rows in that bin.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from ._counts import CountTable
from ._histogram_scores import ScoreHistograms
from ._intervals import wilson_interval
from ._quantiles import t_ppf

__all__ = ["histogram_score_metrics"]


def _t(total: float, square: float, n: float, confidence: float):
    """Mean, t interval and standard error from a sum and a sum of squares."""
    m = total / n if n else float("nan")
    if n < 2:
        return m, float("nan"), float("nan"), float("nan")
    var = max(square - total * total / n, 0.0) / (n - 1)
    se = float(np.sqrt(var / n))
    half = t_ppf(0.5 + confidence / 2, n - 1) * se
    return m, m - half, m + half, se


def _auc_parts(hist: np.ndarray, mixed: np.ndarray, chunk: int = 8) -> np.ndarray:
    """:func:`_auc_group_parts` over ``chunk`` groups at a time (bounded temporaries)."""
    return np.concatenate(
        [_auc_group_parts(hist[i : i + chunk], mixed) for i in range(0, len(hist), chunk)]
        or [np.zeros((0, 5))]
    )


def _auc_group_parts(hist: np.ndarray, mixed: np.ndarray) -> np.ndarray:
    """Per group of ``hist`` (groups, 2, bins): the binned AUC (bins as ties), the mean of
    the negatives' placements, the sums of squared placements of positives and negatives
    (for DeLong's variance) and the error bound; shape (groups, 5).

    A positive in bin ``b`` is placed at ``v10 = a_b / (2 n0)`` with ``a = 2·cumsum(neg) -
    neg`` (the negatives below it, ties halved), a negative at ``v01 = c_b / (2 n1)`` with
    ``c = 2 n1 - 2·cumsum(pos) + pos``: ``a`` and ``c`` are exact integers, and every sum is
    one pass over the bins (no per-bin quotient or square is stored).
    """
    neg, pos = hist[:, 0].astype(float), hist[:, 1].astype(float)
    n0, n1 = neg.sum(axis=1), pos.sum(axis=1)
    a = np.cumsum(neg, axis=1)
    a *= 2
    a -= neg
    c = np.cumsum(pos, axis=1)
    c *= -2
    c += pos
    c += 2 * n1[:, None]
    # Pairs in a bin of one score are ties and count one half exactly.
    weight = None if mixed.all() else mixed.astype(float)
    tied = (
        np.einsum("gb,gb->g", pos, neg)
        if weight is None
        else np.einsum("gb,gb,b->g", pos, neg, weight)
    )
    sums = np.stack(
        [
            np.einsum("gb,gb->g", pos, a),
            np.einsum("gb,gb->g", neg, c),
            np.einsum("gb,gb,gb->g", pos, a, a),
            np.einsum("gb,gb,gb->g", neg, c, c),
            tied,
        ],
        axis=1,
    )
    return _scaled(sums, n0, n1)


def _scaled(sums: np.ndarray, n0: np.ndarray, n1: np.ndarray) -> np.ndarray:
    """The sums of :func:`_auc_group_parts` divided to the AUC, the mean placement, the
    mean squares and the error bound (in place)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sums[:, :2] /= (2 * n0 * n1)[:, None]
        sums[:, 2] /= 4 * n0 * n0
        sums[:, 3] /= 4 * n1 * n1
        sums[:, 4] /= 2 * n0 * n1
    return sums


def _auc(parts: np.ndarray, n1: int, n0: int, z: float, confidence: float):
    """(value, low, high, se, error bound) of the binned ROC AUC with DeLong's interval."""
    auc, m01, sq10, sq01, error = (float(x) for x in parts)
    nan = float("nan")
    if n1 == 0 or n0 == 0:
        return nan, nan, nan, nan, nan
    if n1 < 2 or n0 < 2:
        return auc, nan, nan, nan, error
    var10 = max(sq10 - n1 * auc * auc, 0.0) / (n1 - 1)
    var01 = max(sq01 - n0 * m01 * m01, 0.0) / (n0 - 1)
    var = var10 / n1 + var01 / n0
    if var > 0:
        se = float(np.sqrt(var))
        low, high = auc - z * se, auc + z * se
    else:
        k = min(n1, n0)
        lo, hi = wilson_interval(np.asarray(auc * k), np.asarray(k), confidence=confidence)
        low, high = float(lo), float(hi)
        se = (high - low) / (2 * z)
    return auc, max(0.0, low - error), min(1.0, high + error), se, error


def _ece(cal: np.ndarray, n: float, z: float, n_boot: int, rng: np.random.Generator):
    """(value, low, high, se, bias) of the calibration error from per-bin sums (labels summed).

    The bootstrap draws what :func:`._scores._ece_replicates` draws for a large group.
    """
    count, sd1, sd2 = cal[:, 0], cal[:, 1], cal[:, 2]
    nan = float("nan")
    if n == 0:
        return nan, nan, nan, nan, nan
    ece = float(np.abs(sd1).sum() / n)
    if n < 2 or n_boot < 2:
        return ece, nan, nan, nan, nan
    mean = sd1 / np.maximum(count, 1)
    sq = sd2 / np.maximum(count, 1)
    var = np.maximum(sq - mean**2, 0)
    bias = float(np.sum(np.sqrt(var * count)) * np.sqrt(2 / np.pi) / max(n, 1))
    sd = np.sqrt(np.maximum(sq - mean**2, 0.0))
    draws = rng.multinomial(int(n), count / n, size=n_boot).astype(float)
    total = draws * mean + np.sqrt(draws) * sd * rng.standard_normal((n_boot, len(count)))
    se = float(np.std(np.abs(total).sum(axis=1) / n, ddof=1))
    return ece, max(0.0, ece - bias - z * se), ece + z * se, se, bias


def _median_split(total: np.ndarray, mixed: np.ndarray) -> tuple[int, float]:
    """The bin holding the overall median, and the share of that bin's rows above it (0
    when the bin holds one score: the median itself, or when the median falls between bins)."""
    n = int(total.sum())
    cum = np.cumsum(total)
    half = n / 2.0
    m = int(np.searchsorted(cum, half, side="left"))  # first bin where cum >= n/2
    if not mixed[m]:  # every row of the bin is the median, or below it
        return m, 0.0
    in_bin = float(total[m])
    below = float(cum[m] - total[m])
    return m, (max(in_bin - max(half - below, 0.0), 0.0) / in_bin) if in_bin else 0.0


def histogram_score_metrics(
    table: CountTable,
    histograms: ScoreHistograms,
    *,
    confidence: float = 0.95,
    min_group_size: int = 30,
    min_denominator: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    engine: str = "numpy",
) -> pd.DataFrame:
    """Score metrics per group of each view of ``table`` (binary decisions), as a long table.

    The same table as :func:`._scores.score_metrics` (one row per view, group and metric),
    with an ``error`` column: the bound on the approximation error of the binned value (0
    where the value is exact up to rounding), already included in ``ci_low``/``ci_high``.

    ``engine`` sums the histograms to the views by numpy's passes or by one compiled pass
    (:mod:`._histogram_views_kernel`, as :func:`~._histogram_scores.score_histograms`' engine);
    both give the same values to 1e-12.
    """
    if not table.binary:
        raise ValueError("The 'table' parameter must be a binary count table for score histograms.")
    shape = table.counts.shape[:-2]
    if histograms.hist.shape[:-2] != shape or histograms.calib.shape[:-3] != shape:
        raise ValueError(
            f"The 'histograms' parameter must have one cell per cell of the table {shape}. "
            f"Got {histograms.hist.shape[:-2]} instead."
        )
    if engine not in ("numba", "numpy"):
        raise ValueError(
            "The 'engine' parameter of histogram_score_metrics must be 'numba' or 'numpy'. "
            f"Got {engine!r} instead."
        )
    _refuse_unlike_counts(histograms)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rng = np.random.default_rng(seed)
    mixed = histograms.mixing()
    summarise = _compiled_summaries if engine == "numba" else _numpy_summaries
    median_bin, share_above, summaries = summarise(table, histograms, mixed)
    rows = []
    for attrs, (keep, aucs, labels, above_bins, splits) in zip(
        table.views(), summaries, strict=True
    ):
        groups = table.view(attrs)
        calib = _groups(_to_view(table, histograms.calib, attrs), keep)
        for key, c, parts, (n0, n1), beyond, split in zip(
            groups.keys,
            calib,
            aucs,
            labels.tolist(),
            above_bins.tolist(),
            splits.tolist(),
            strict=True,
        ):
            n = n1 + n0
            moments = c.sum(axis=1)  # (label, 4): count, Σd, Σd², Σd⁴
            sum_s = moments[0, 1] + moments[1, 1] + moments[1, 0]  # s = d + y
            sum_s2 = moments[0, 2] + moments[1, 2] + 2 * moments[1, 1] + moments[1, 0]
            brier = (moments[:, 2].sum(), moments[:, 3].sum())
            above = float(beyond) + split * share_above
            lo, hi = wilson_interval(np.asarray(above), np.asarray(n), confidence=confidence)
            err = 0.0 if not mixed[median_bin] else split / n if n else float("nan")
            lo, hi = max(0.0, float(lo) - err), min(1.0, float(hi) + err)
            auc = _auc(parts, n1, n0, z, confidence)
            values = {
                "mean_score": (*_t(sum_s, sum_s2, n, confidence), 0.0, 0.0),
                "roc_auc": (*auc[:4], 0.0, auc[4]),
                "brier_score": (*_t(*brier, n, confidence), 0.0, 0.0),
                "calibration_error": (*_ece(c.sum(axis=0), n, z, n_boot, rng), 0.0),
                "scoring_rate": (
                    above / n if n else float("nan"),
                    lo,
                    hi,
                    (float(hi) - float(lo)) / (2 * z),
                    0.0,
                    err,
                ),
            }
            for metric, (v, low, high, se, bias, error) in values.items():
                enough = n >= min_group_size and np.isfinite(v) and np.isfinite(se)
                if metric == "roc_auc":
                    enough = enough and min(n1, n0) >= max(min_denominator, 1)
                rows.append(
                    {
                        "view": "|".join(attrs),
                        "group": key,
                        "metric": metric,
                        "value": v,
                        "n": n,
                        "positives": n1,
                        "negatives": n0,
                        "ci_low": low,
                        "ci_high": high,
                        "se": se,
                        "bias": bias,
                        "error": error,
                        "sufficient": bool(enough),
                    }
                )
    return pd.DataFrame(rows)


#: Rows a histogram may hold: its sums of products stay exact integers in int64 and float64.
_MAX_ROWS = 1 << 40


def _refuse_unlike_counts(histograms: ScoreHistograms) -> None:
    """Raise ``ValueError`` unless the histograms are counts of rows (integers, none
    negative, at most ``_MAX_ROWS`` in all, at least one bin) and ``mixed`` says of each bin
    whether it mixes scores: a negative count gave an AUC and its interval, and either engine
    read them differently (``mixed`` of integers weighted the numpy path's ties)."""
    hist, mixed = histograms.hist, histograms.mixing()
    if not (np.issubdtype(hist.dtype, np.integer) or hist.dtype == np.bool_) or not hist.shape[-1]:
        raise ValueError(
            "The 'histograms' parameter must hold integer counts in at least one bin. Got "
            f"{hist.dtype} with the shape {hist.shape} instead."
        )
    if hist.size and (hist.min() < 0 or hist.sum(dtype=float) > _MAX_ROWS):
        raise ValueError(
            "The 'histograms' parameter must hold counts of rows: none negative, at most "
            f"{_MAX_ROWS:,} in all. Got {int(hist.min())} to {int(hist.max())} instead."
        )
    if mixed.dtype != np.bool_ or mixed.shape != (hist.shape[-1],):
        raise ValueError(
            "The 'mixed' attribute of the 'histograms' parameter must say of each of its "
            f"{hist.shape[-1]} bins whether it mixes scores (booleans). Got {mixed.dtype} with "
            f"the shape {mixed.shape} instead."
        )


def _numpy_summaries(table: CountTable, histograms: ScoreHistograms, mixed: np.ndarray):
    """The median's bin and the share of it above the median; per view: the groups kept
    (present in the table), their AUC parts, rows per label, rows above the median's bin and
    rows in it."""
    overall = histograms.hist.reshape(-1, histograms.bins).sum(axis=0)
    median_bin, share_above = _median_split(overall, mixed)
    views = []
    for attrs in table.views():
        keep = _present(table, attrs)
        hist = _groups(_to_view(table, histograms.hist, attrs), keep)
        views.append(
            (
                keep,
                _auc_parts(hist, mixed),
                hist.sum(axis=2),
                hist[:, :, median_bin + 1 :].sum(axis=(1, 2)),
                hist[:, :, median_bin].sum(axis=1),
            )
        )
    return median_bin, share_above, views


def _compiled_summaries(table: CountTable, histograms: ScoreHistograms, mixed: np.ndarray):
    """:func:`_numpy_summaries` by the compiled pass over every view at once."""
    from ._histogram_views_kernel import view_sums, view_totals

    shape = table.counts.shape[:-2]
    grid = np.indices(shape).reshape(len(shape), -1)
    numbers, offsets, n_groups = [], [], 0
    for attrs in table.views():
        axes = [table.attributes.index(a) for a in attrs]
        numbers.append(
            n_groups + np.ravel_multi_index(tuple(grid[i] for i in axes), [shape[i] for i in axes])
        )
        offsets.append(n_groups)
        n_groups += int(np.prod([shape[i] for i in axes]))
    groups = np.stack(numbers) if numbers else np.zeros((0, grid.shape[1]), np.int64)
    cells = histograms.hist.reshape(-1, 2, histograms.bins)
    labels, overall = view_totals(cells, groups, n_groups)
    median_bin, share_above = _median_split(overall, mixed)
    sums, below, split = view_sums(
        cells, groups, n_groups, labels=labels, mixed=mixed, median_bin=median_bin
    )
    views = []
    for attrs, offset in zip(table.views(), offsets, strict=True):
        own = offset + _present(table, attrs)
        n0, n1 = labels[own, 0].astype(float), labels[own, 1].astype(float)
        parts = _scaled(sums[own], n0, n1)
        views.append(
            (own - offset, parts, labels[own], labels[own].sum(axis=1) - below[own], split[own])
        )
    return median_bin, share_above, views


def _present(table: CountTable, attrs: tuple[str, ...]) -> np.ndarray:
    """The groups of the view that hold rows in the table."""
    return np.flatnonzero(_to_view(table, table.counts, attrs).sum(axis=(-2, -1)) > 0)


def _groups(view: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The rows ``keep`` of ``view``: ``view`` itself when that is all of them (the finest
    view of a large histogram is not copied)."""
    return view if len(keep) == len(view) else view[keep]


def _to_view(table: CountTable, cells: np.ndarray, attrs: tuple[str, ...]) -> np.ndarray:
    """``cells`` (one axis per attribute, then any) summed to the view's attributes, in their
    order, and flattened to one group axis (C order, as :meth:`CountTable.view` numbers)."""
    k = len(table.attributes)
    drop = tuple(i for i, a in enumerate(table.attributes) if a not in attrs)
    summed = cells.sum(axis=drop) if drop else cells
    kept = [a for a in table.attributes if a in attrs]
    summed = np.moveaxis(summed, [kept.index(a) for a in attrs], list(range(len(attrs))))
    return summed.reshape(-1, *cells.shape[k:])
