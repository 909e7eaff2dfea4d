"""Disparity of a score metric across groups, with a simultaneous interval honest for k groups.

Construction
------------
Let ``θ_1 … θ_k`` be the true group values, ``θ̂_i`` their estimates with standard errors
``s_i`` (DeLong, t, Wilson or bootstrap: see :mod:`._scores`), independent between groups.
Tukey–Kramer intervals for every pairwise difference,

    θ_i − θ_j ∈ θ̂_i − θ̂_j ± c · sqrt(s_i² + s_j²),   c = q_{k, ∞}(1 − α) / √2,

with ``q`` the studentized range quantile, hold *simultaneously* with probability at least
``1 − α`` (Hayter 1984: exact for equal ``s_i``, conservative otherwise). On that event the
range ``R = max θ − min θ = max_{i,j} (θ_i − θ_j)`` satisfies

    max(0, max_{i,j} (θ̂_i − θ̂_j − c s_ij)) ≤ R ≤ max_{i,j} (θ̂_i − θ̂_j + c s_ij),

so that interval covers ``R`` with probability at least ``1 − α`` for any k, any true values,
including all equal (``R = 0``, where the lower bound is 0 exactly when every pairwise interval
covers 0). For k = 2 it is the usual interval of ``|θ_1 − θ_2|``. The ratio ``min θ / max θ``
is ``exp(−R)`` of the logarithms, so the same bounds on ``log θ`` with delta-method errors
``s_i / θ̂_i`` give ``[exp(−upper), exp(−lower)]`` (no interval when a value is 0).

The calibration error's estimate is biased upwards (``|·|`` of a noisy bin gap): each group
carries the bound ``B = Σ_b (n_b / n) · σ_b · sqrt(2 / (π n_b))`` on that bias (``E|X| − |μ| ≤
σ sqrt(2/π)`` per bin, largest for a calibrated bin), and the bounds widen by it (see
:func:`score_range_interval`), which makes that interval conservative.

Simultaneous boxes (each group at the Šidák level, range within ``[max L − min U,
max U − min L]``) are also valid, but sum the half-widths of the two extreme groups: at k = 2
they cover 99.8 % at nominal 95 %, and an interval that wide rarely lets a fair model pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ._disparity import between_groups
from ._quantiles import studentized_range_ppf

__all__ = ["ScoreDisparity", "score_disparity", "score_range_interval"]


@lru_cache(maxsize=256)
def _tukey_c(k: int, confidence: float) -> float:
    if k == 2:
        from statistics import NormalDist

        return NormalDist().inv_cdf(0.5 + confidence / 2)
    return float(studentized_range_ppf(confidence, k) / np.sqrt(2.0))


def score_range_interval(
    values: np.ndarray,
    se: np.ndarray,
    *,
    kind: str,
    confidence: float = 0.95,
    bias: np.ndarray | None = None,
    error: np.ndarray | None = None,
) -> tuple[float, float]:
    """Simultaneous interval of ``max − min`` (or ``min / max``) of k group values.

    Parameters
    ----------
    values, se : ndarray of shape (k,)
        Group estimates and their standard errors (independent groups).
    kind : {'difference', 'ratio'}
    confidence : float, default=0.95
    bias : ndarray of shape (k,), optional
        A bound ``B_i ≥ 0`` on each estimate's upward bias (``θ_i ≥ E θ̂_i − B_i``, as for the
        calibration error). The pairwise bounds then widen to ``[θ̂_i − θ̂_j − c s_ij − B_i,
        θ̂_i − θ̂_j + c s_ij + B_j]``; for the ratio, by ``log θ̂_i − log(θ̂_i − B_i)``, and
        the ratio's lower bound is 0 when a group's ``θ̂_i − B_i − c s_i`` reaches 0.
    error : ndarray of shape (k,), optional
        A bound ``E_i ≥ 0`` on each estimate's approximation error either way (binned scores,
        see :mod:`._histogram_scores`): the estimate is then ``θ̂_i ± E_i``, and every
        pairwise bound widens by ``E_i + E_j`` (for the ratio, on the log scale).

    Returns
    -------
    low, high : float
        See the module docstring; ``NaN`` with fewer than two groups, or for a ratio when a
        value is not positive.
    """
    v = np.asarray(values, dtype=float)
    e = np.asarray(se, dtype=float)
    k = len(v)
    if k < 2 or not (np.isfinite(v).all() and np.isfinite(e).all()):
        return float("nan"), float("nan")
    b = np.zeros(k) if bias is None else np.asarray(bias, dtype=float)
    a = np.zeros(k) if error is None else np.nan_to_num(np.asarray(error, dtype=float))
    c = _tukey_c(k, float(confidence))
    touches_zero = bool((v - b - a - c * e <= 0).any())
    if kind == "ratio":
        if (v <= 0).any():
            return float("nan"), float("nan")
        with np.errstate(divide="ignore"):
            b = np.log(v) - np.log(np.maximum(v - b, 0.0))  # inf: no lower bound above 0
            a = np.log(v) - np.log(np.maximum(v - a, 0.0))
        v, e = np.log(v), e / v
    diff = v[:, None] - v[None, :]
    half = c * np.sqrt(e[:, None] ** 2 + e[None, :] ** 2) + a[:, None] + a[None, :]
    low = max(0.0, float(np.max(diff - half - b[:, None])))
    high = float(np.max(diff + half + b[None, :]))
    if kind == "ratio":  # a group that may be 0 makes min / max possibly 0
        return (0.0 if touches_zero else float(np.exp(-high))), float(np.exp(-low))
    return low, high


@dataclass(frozen=True)
class ScoreDisparity:
    """The disparity of one score metric over the groups of one view (and class).

    Attributes
    ----------
    view, metric, kind : str
    klass : object or None
        For multiclass models, the class scored one-vs-rest (the worst one unless asked).
    value : float
        ``max − min`` or ``min / max`` over the compared groups (``NaN`` under two).
    ci : tuple of float
        The simultaneous interval of :func:`score_range_interval`.
    compared, insufficient : tuple of str
        Groups with enough evidence; groups left out (too few rows, or for the ROC AUC too
        few positives or negatives).
    lowest_group, highest_group : str or None
    per_group : DataFrame
        The score table's rows of this view, metric and class.
    """

    view: str
    metric: str
    kind: str
    klass: object | None
    value: float
    ci: tuple[float, float]
    compared: tuple[str, ...]
    insufficient: tuple[str, ...]
    lowest_group: str | None
    highest_group: str | None
    per_group: pd.DataFrame


def _one(rows: pd.DataFrame, view, metric, kind, klass, confidence) -> ScoreDisparity:
    ok = rows[rows.sufficient.astype(bool)]
    value, ci, low_g, high_g = float("nan"), (float("nan"), float("nan")), None, None
    if len(ok) >= 2:
        v = ok.value.to_numpy(dtype=float)
        value = float(between_groups(v, kind))
        ci = score_range_interval(
            v,
            ok.se.to_numpy(dtype=float),
            kind=kind,
            confidence=confidence,
            bias=ok.bias.to_numpy(dtype=float) if "bias" in ok.columns else None,
            error=ok.error.to_numpy(dtype=float) if "error" in ok.columns else None,
        )
        low_g, high_g = str(ok.group.iloc[int(np.argmin(v))]), str(ok.group.iloc[int(np.argmax(v))])
    return ScoreDisparity(
        view=view,
        metric=metric,
        kind=kind,
        klass=klass,
        value=value,
        ci=ci,
        compared=tuple(ok.group.astype(str)),
        insufficient=tuple(rows.group[~rows.sufficient.astype(bool)].astype(str)),
        lowest_group=low_g,
        highest_group=high_g,
        per_group=rows.reset_index(drop=True),
    )


def score_disparity(
    table: pd.DataFrame,
    metric: str,
    *,
    view: str,
    kind: str = "difference",
    klass: object | None = None,
    confidence: float = 0.95,
) -> ScoreDisparity:
    """Disparity of ``metric`` in a :func:`score_metrics` table.

    For a multiclass table and ``klass=None``, every class is computed and the one with the
    largest difference (smallest ratio) is returned: its value, interval and groups all come
    from that one class.
    """
    rows = table[(table.view == view) & (table.metric == metric)]
    if "class" not in table.columns:
        return _one(rows, view, metric, kind, None, confidence)
    classes = list(dict.fromkeys(rows["class"])) if klass is None else [klass]
    found = []
    for c in classes:
        part = rows[rows["class"].astype(str) == str(c)]
        if len(part) == 0:
            raise ValueError(
                f"The 'klass' parameter must be one of {list(dict.fromkeys(rows['class']))}. "
                f"Got {klass!r} instead."
            )
        found.append(_one(part, view, metric, kind, part["class"].iloc[0], confidence))
    scored = [r for r in found if np.isfinite(r.value)]
    if not scored:
        return found[0]
    return (max if kind == "difference" else min)(scored, key=lambda r: r.value)
