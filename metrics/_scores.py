"""Group metrics of a score (a credit score, a distress probability).

Per group: mean score, ROC AUC, Brier score, expected calibration error and the NYC Local Law
144 *scoring rate*, the share of the group scoring above the overall median. For multiclass
models each class is scored one-vs-rest: the outcome is "this class", the score is the
probability of that class.

Intervals
---------
* mean score, Brier score: Student t.
* ROC AUC: DeLong, DeLong & Clarke-Pearson (1988), computed with the midrank algorithm of Sun
  & Xu (2014): ``var(A) = var(V10)/n1 + var(V01)/n0`` from the placement values of the
  positives and negatives. Where that variance is zero (perfect or no separation) the interval
  is the Wilson interval of ``A`` over ``min(n1, n0)`` trials, the score interval of van
  Dantzig's bound ``A (1 - A) / min(n1, n0)`` on the variance, so that an AUC of 1 is never
  reported as certain.
* calibration error: ``[E − B − z·se, E + z·se]``, ``se`` the standard deviation of a seeded
  bootstrap of the group's rows and ``B`` a bound on the estimate's upward bias (each bin's
  ``|sum of score − outcome|`` is biased up by at most ``σ_b sqrt(2 n_b / π)``, most for a
  calibrated bin): the sample error of a well-calibrated group is about 0.05 at 300 rows, and
  an interval around it alone would not contain the true 0.
* scoring rate: Wilson.

Each row also carries a standard error (``se``), which :mod:`._score_disparity` uses for the
simultaneous intervals of the disparity, and ``sufficient``: a group needs ``min_group_size``
rows, and for the ROC AUC ``min_denominator`` positives *and* negatives (an AUC from one
positive is 0 or 1 and says nothing about the model).

The calibration error, its bootstrap and bias bound are computed in :mod:`._calibration`.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from ._calibration import _bins, _ece_bias_bound, _ece_replicates, expected_calibration_error
from ._counts import CountTable, _as_frame, group_key
from ._intervals import wilson_interval
from ._quantiles import t_ppf

__all__ = ["SCORE_METRICS", "auc_delong", "expected_calibration_error", "score_metrics"]

SCORE_METRICS = ("mean_score", "roc_auc", "brier_score", "calibration_error", "scoring_rate")


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based average ranks of the sorted array ``x`` (ties share their mean rank)."""
    n = len(x)
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    ends = np.r_[starts[1:], n]  # each tie block holds positions starts..ends-1
    return np.repeat((starts + 1 + ends) / 2.0, ends - starts)


def auc_delong(
    y: np.ndarray, s: np.ndarray, *, order: np.ndarray | None = None
) -> tuple[float, float]:
    """ROC AUC and DeLong's estimate of its variance.

    Parameters
    ----------
    y : ndarray of bool
        Whether each row is a positive.
    s : ndarray of float
        The score; ties count one half.
    order : ndarray of int, optional
        ``np.argsort(s, kind="stable")`` when already known (e.g. from one sort of every
        group's scores).

    Returns
    -------
    auc, variance : float
        ``NaN`` without positives or negatives; the variance is ``NaN`` with fewer than two
        of either.
    """
    y = np.asarray(y, dtype=bool)
    s = np.asarray(s, dtype=float)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan"), float("nan")
    # One stable sort gives every midrank (the same values as scipy's rankdata, exactly): in
    # score order, the positives' and negatives' scores are sorted subsequences.
    order = np.argsort(s, kind="stable") if order is None else order
    xs, ys = s[order], y[order]
    both = _midranks(xs)
    v10 = np.empty(n1)
    v01 = np.empty(n0)
    # per positive: share of negatives scored below; per negative: share of positives above
    v10[(np.cumsum(y) - 1)[order[ys]]] = (both[ys] - _midranks(xs[ys])) / n0
    v01[(np.cumsum(~y) - 1)[order[~ys]]] = 1.0 - (both[~ys] - _midranks(xs[~ys])) / n1
    auc = float(v10.mean())
    if n1 < 2 or n0 < 2:
        return auc, float("nan")
    return auc, float(np.var(v10, ddof=1) / n1 + np.var(v01, ddof=1) / n0)


def _auc(y: np.ndarray, s: np.ndarray, z: float, confidence: float, order=None):
    a, var = auc_delong(y, s, order=order)
    if not np.isfinite(var):
        return a, float("nan"), float("nan"), float("nan")
    if var > 0:
        se = float(np.sqrt(var))
        return a, max(0.0, a - z * se), min(1.0, a + z * se), se
    k = min(int(y.sum()), int((~y).sum()))
    low, high = wilson_interval(np.asarray(a * k), np.asarray(k), confidence=confidence)
    return a, float(low), float(high), float((high - low) / (2 * z))


def _t_interval(x: np.ndarray, confidence: float):
    m = float(np.mean(x)) if len(x) else float("nan")
    if len(x) < 2:
        return m, float("nan"), float("nan"), float("nan")
    se = float(np.std(x, ddof=1) / np.sqrt(len(x)))
    half = t_ppf(0.5 + confidence / 2, len(x) - 1) * se
    return m, m - half, m + half, se


def _view_codes(frame: pd.DataFrame, attrs: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group number in the view (groups in sorted order) and the groups' levels.

    Categorical columns without missing values (e.g. dictionary-encoded Parquet columns) are
    combined from their codes; any other column is grouped by pandas. Both number the
    observed groups in the order of ``groupby(sort=True, observed=True)``.
    """
    columns = [frame[a] for a in attrs]
    if all(isinstance(c.dtype, pd.CategoricalDtype) for c in columns):
        codes = [c.cat.codes.to_numpy() for c in columns]
        if all(len(c) == 0 or c.min() >= 0 for c in codes):
            sizes = [len(c.cat.categories) for c in columns]
            flat = np.zeros(len(frame), dtype=np.int64)
            for code, size in zip(codes, sizes, strict=True):
                flat *= size
                flat += code
            present = np.flatnonzero(np.bincount(flat, minlength=int(np.prod(sizes))))
            number = np.zeros(int(np.prod(sizes)), dtype=np.int64)
            number[present] = np.arange(len(present))
            cells = np.unravel_index(present, sizes)
            keys = pd.DataFrame(
                {a: c.cat.categories[i] for a, c, i in zip(attrs, columns, cells, strict=True)}
            )
            return number[flat], keys
    codes = frame.groupby(attrs, sort=True, observed=True).ngroup().to_numpy()
    keys = frame.loc[:, attrs].drop_duplicates().sort_values(attrs)
    return codes, keys


def _group_rows(y, s, above, *, z, confidence, bins, n_boot, rng, binned=None, order=None):
    """Per metric: (value, ci_low, ci_high, se, bias bound) of one group and class."""
    n = len(s)
    rate = float(above.mean()) if n else float("nan")
    low, high = wilson_interval(np.asarray(above.sum()), np.asarray(n), confidence=confidence)
    ece = expected_calibration_error(y, s, bins=bins, binned=binned)
    ece_ci = (float("nan"),) * 4
    if n >= 2 and n_boot >= 2:
        draws = _ece_replicates(y, s, bins=bins, n_boot=n_boot, rng=rng, binned=binned)
        se = float(np.std(draws, ddof=1))
        bias = _ece_bias_bound(y, s, bins=bins, binned=binned)
        ece_ci = (max(0.0, ece - bias - z * se), ece + z * se, se, bias)
    return {
        "mean_score": (*_t_interval(s, confidence), 0.0),
        "roc_auc": (*_auc(y, s, z, confidence, order), 0.0),
        "brier_score": (*_t_interval((s - y) ** 2, confidence), 0.0),
        "calibration_error": (ece, *ece_ci),
        "scoring_rate": (rate, float(low), float(high), float((high - low) / (2 * z)), 0.0),
    }


def score_metrics(
    y_true: object,
    scores: object,
    sensitive_features: object,
    *,
    views: Sequence[tuple[str, ...]],
    classes: Sequence[object] | None = None,
    bins: int = 10,
    confidence: float = 0.95,
    min_group_size: int = 30,
    min_denominator: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Score metrics per group of each view (and class), as a long table.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        With 1-D ``scores``: whether each row's true outcome is the favourable one (bool).
        With 2-D ``scores``: the true class labels.
    scores : array-like of float in [0, 1], shape (n_rows,) or (n_rows, n_classes)
        The probability of the favourable outcome, or of each class in ``classes``.
    sensitive_features : DataFrame, Series, mapping or array-like
    views : sequence of tuple of str
        The attribute combinations to group by.
    classes : sequence, optional
        The class of each column of 2-D ``scores``; each is scored one-vs-rest.
    bins : int, default=10
        Equal-width bins of the expected calibration error (see
        :func:`expected_calibration_error`).
    confidence : float, default=0.95
    min_group_size, min_denominator : int
        Evidence rules: see the module docstring.
    n_boot, seed : int
        Replicates and seed of the calibration error's bootstrap.

    Returns
    -------
    DataFrame
        One row per view, group, (class,) and metric: ``value``, ``n``, ``positives``,
        ``negatives``, ``ci_low``, ``ci_high``, ``se``, ``bias`` (a bound on the estimate's
        upward bias: the calibration error's, 0 for the others) and ``sufficient``; a
        ``class`` column with 2-D ``scores``.
    """
    s = np.asarray(scores, dtype=float)
    multiclass = s.ndim == 2
    n_rows = len(np.asarray(y_true))
    if multiclass:
        if classes is None or s.shape != (n_rows, len(classes)):
            raise ValueError(
                f"The 'scores' parameter must have one column per class of 'classes' and one "
                f"row per label: shape ({n_rows}, {len(classes or [])}). Got {s.shape} instead."
            )
        labels = np.asarray(y_true).astype(str)
        ys = [labels == str(c) for c in classes]
        columns = [s[:, i] for i in range(len(classes))]
        klasses: list[object] = list(classes)
    else:
        if s.shape != (n_rows,):
            raise ValueError(
                f"The 'scores' parameter must have shape ({n_rows},). Got {s.shape} instead."
            )
        ys, columns, klasses = [np.asarray(y_true, dtype=bool)], [s], [None]
    if np.isnan(s).any():
        raise ValueError(f"The 'scores' parameter must not hold NaN. Got {int(np.isnan(s).sum())}.")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rng = np.random.default_rng(seed)
    frame = _as_frame(sensitive_features)
    rows = []
    for y, col, klass in zip(ys, columns, klasses, strict=True):
        above = col > np.median(col)
        binned = _bins(col, bins)  # each score's calibration bin, once for every group
        by_score = np.argsort(col, kind="stable")  # one sort of the scores for every group
        for attrs in views:
            codes, keys = _view_codes(frame, list(attrs))
            # One stable sort by group: each group's rows, in their original order, are one
            # slice (not a boolean mask over every row per group).
            small = codes.astype(np.int16) if len(keys) < 2**15 else codes  # radix sort
            by_group = np.argsort(small, kind="stable")
            ends = np.cumsum(np.bincount(codes, minlength=len(keys)))
            # Each row's position within its group, and every group's rows in score order
            # (ties in row order): what a stable sort of each group's scores gives.
            local = np.empty(len(codes), dtype=np.int64)
            local[by_group] = np.arange(len(codes)) - np.r_[0, ends[:-1]][codes[by_group]]
            score_order = local[by_score[np.argsort(small[by_score], kind="stable")]]
            for g, levels in enumerate(keys.itertuples(index=False)):
                rows_g = by_group[ends[g - 1] if g else 0 : ends[g]]
                yg, n = y[rows_g], len(rows_g)
                pos = int(yg.sum())
                values = _group_rows(
                    yg,
                    col[rows_g],
                    above[rows_g],
                    z=z,
                    confidence=confidence,
                    bins=bins,
                    n_boot=n_boot,
                    rng=rng,
                    binned=binned[rows_g],
                    order=score_order[ends[g - 1] if g else 0 : ends[g]],
                )
                for metric, (v, lo, hi, se, bias) in values.items():
                    enough = n >= min_group_size and np.isfinite(v) and np.isfinite(se)
                    if metric == "roc_auc":
                        enough = enough and min(pos, n - pos) >= max(min_denominator, 1)
                    rows.append(
                        {
                            "view": "|".join(attrs),
                            "group": group_key(attrs, levels),
                            "class": klass,
                            "metric": metric,
                            "value": v,
                            "n": n,
                            "positives": pos,
                            "negatives": n - pos,
                            "ci_low": lo,
                            "ci_high": hi,
                            "se": se,
                            "bias": bias,
                            "sufficient": bool(enough),
                        }
                    )
    out = pd.DataFrame(rows)
    return out if multiclass else out.drop(columns="class")


def score_inputs(
    y_true: object,
    scores: object,
    table: CountTable,
    pos_label: object,
    score_classes: Sequence[object] | None,
) -> tuple[np.ndarray, np.ndarray, list[object] | None]:
    """(outcomes, scores, classes) for :func:`score_metrics`: multiclass scores are the
    columns of the decisions' classes that have one, in ``table.classes`` order."""
    s = np.asarray(scores, dtype=float)
    if table.binary:
        if s.ndim != 1:
            raise ValueError(
                f"The 'scores' parameter must be 1-D for binary decisions. Got shape {s.shape}."
            )
        return np.asarray(y_true) == pos_label, s, None
    have = list(table.classes if score_classes is None else score_classes)
    if s.ndim != 2 or s.shape[1] != len(have):
        raise ValueError(
            f"The 'scores' parameter must have one column per class {have} for multiclass "
            f"decisions. Got shape {s.shape} instead."
        )
    by_label = {str(c): i for i, c in enumerate(have)}
    if not any(str(c) in by_label for c in table.classes):
        raise ValueError(
            f"The 'score_classes' parameter must name classes of the decisions "
            f"{list(table.classes)}. Got {have} instead."
        )
    scored = [c for c in table.classes if str(c) in by_label]
    out = s[:, [by_label[str(c)] for c in scored]]
    return np.asarray(y_true), out, scored
