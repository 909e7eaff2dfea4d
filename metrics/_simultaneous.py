"""Simultaneous intervals for the disparity of k group rates.

Why not the percentile bootstrap of the sample range
----------------------------------------------------
With equal true rates the sample range ``max p̂ − min p̂`` is positive in every sample, so every
replicate of it is too, and its percentile interval almost never contains the true range 0
(3 % coverage for 2 groups of 1,000, 0 % for 5 groups). The same holds for ``min ÷ max`` and 1.

Construction
------------
The true range is a maximum over ordered pairs, ``R = max_{i≠j} (p_i − p_j)``, and the true
ratio a minimum, ``ρ = min_{i≠j} p_i / p_j``. If intervals ``[L_ij, U_ij]`` hold *every*
pairwise contrast at once with probability ``1 − α``, then on that event

    max_ij L_ij ≤ R ≤ max_ij U_ij        and        min_ij L'_ij ≤ ρ ≤ min_ij U'_ij,

because a maximum (minimum) of quantities each within its bounds lies between the maximum
(minimum) of the lower bounds and that of the upper bounds. The bounds are clipped to the
range of the parameter (``R`` in [0, 1], ``ρ`` in [0, 1]); clipping keeps the true value.

Pairwise intervals are MOVER (method of variance estimates recovery) intervals built from
Wilson score limits ``(l_i, u_i)`` of each group rate at a common critical value ``c``:

* difference (Newcombe 1998, method 10):
  ``L = d − sqrt((p̂_i − l_i)² + (u_j − p̂_j)²)``, ``U = d + sqrt((u_i − p̂_i)² + (p̂_j − l_j)²)``;
* ratio (Donner & Zou 2012, MOVER-R): the roots of
  ``θ² u_j(2p̂_j − u_j) − 2θ p̂_i p̂_j + l_i(2p̂_i − l_i) = 0`` (lower) and
  ``θ² l_j(2p̂_j − l_j) − 2θ p̂_i p̂_j + u_i(2p̂_i − u_i) = 0`` (upper).

Wilson limits never have zero width (0 of 50 gives [0, 0.071] at 95 %), so a group at zero
successes carries its uncertainty into every disparity built on it. For large counts the MOVER
interval is the Wald interval ``d ± c·sqrt(se_i² + se_j²)``, so all pairs hold at once with
probability ``1 − α`` when ``c`` is the ``1 − α`` quantile of ``max_ij |d̂_ij − d_ij| / se_ij``:
Tukey's studentized range ``q(1 − α; k, ∞) / √2``, which with unequal group sizes is conservative
(Tukey–Kramer; Hayter 1984). For ``k = 2`` it is ``z_{0.975} = 1.96``. With equal rates the
lower bound of the range is above 0 exactly when some pair is declared different, which
happens with probability ``α``: the coverage of 0 is the nominal level, neither less (as the
bootstrap) nor 99.8 % (as a box of Šidák-adjusted per-group intervals would give).

Against a fixed reference group the ``k − 1`` contrasts ``p_g − p_ref`` (or ``p_g / p_ref``)
use a Šidák critical value for ``k − 1`` comparisons, and ``|d|`` (or ``min(ρ, 1/ρ)``) is
bounded by its extremes over each contrast's interval.

Clustered rows enter through an effective sample size: each group's numerator and denominator
are divided by its design effect (see :func:`design_effect`) before the Wilson limits.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._quantiles import normal_isf, studentized_range_ppf

__all__ = [
    "range_interval",
    "reference_interval",
    "sidak_critical_value",
    "tukey_critical_value",
    "wilson_limits",
]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(
            f"The 'confidence' parameter must be in (0, 1). Got {confidence!r} instead."
        )


@lru_cache(maxsize=512)
def tukey_critical_value(k: int, confidence: float) -> float:
    """``q(confidence; k, ∞) / √2``: the simultaneous critical value of all pairs of k groups."""
    _check_confidence(confidence)
    if k < 2:
        return float("nan")
    if k == 2:
        return float(normal_isf((1.0 - confidence) / 2.0))
    return float(studentized_range_ppf(confidence, k) / np.sqrt(2.0))


@lru_cache(maxsize=512)
def sidak_critical_value(m: int, confidence: float) -> float:
    """Two-sided normal critical value of ``m`` comparisons at Šidák's level ``conf^(1/m)``."""
    _check_confidence(confidence)
    if m < 1:
        return float("nan")
    return float(normal_isf((1.0 - confidence ** (1.0 / m)) / 2.0))


def wilson_limits(
    successes: np.ndarray, trials: np.ndarray, z: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score limits at critical value ``z`` (broadcast); ``NaN`` where ``trials`` is 0.

    Counts may be non-integer (effective counts of clustered data).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z2 = np.asarray(z, dtype=float) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = np.sqrt(z2) * np.sqrt(np.maximum(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def _pairs_difference(p_i, l_i, u_i, p_j, l_j, u_j):
    d = p_i - p_j
    low = d - np.sqrt((p_i - l_i) ** 2 + (u_j - p_j) ** 2)
    high = d + np.sqrt((u_i - p_i) ** 2 + (p_j - l_j) ** 2)
    return low, high


def _pairs_ratio(p_i, l_i, u_i, p_j, l_j, u_j):
    """MOVER-R limits of ``p_i / p_j`` in rationalised form (stable when a root's leading
    coefficient is near 0); an unbounded upper limit is ``inf``."""
    b = p_i * p_j
    with np.errstate(invalid="ignore", divide="ignore"):
        a_lo, c_lo = u_j * (2 * p_j - u_j), l_i * (2 * p_i - l_i)
        disc_lo = b * b - a_lo * c_lo
        low = np.where(disc_lo >= 0, c_lo / (b + np.sqrt(np.maximum(disc_lo, 0.0))), 0.0)
        low = np.where(np.isfinite(low) & (low > 0), low, 0.0)
        a_hi, c_hi = l_j * (2 * p_j - l_j), u_i * (2 * p_i - u_i)
        disc_hi = b * b - a_hi * c_hi
        high = np.where(
            (disc_hi >= 0) & (a_hi > 0), (b + np.sqrt(np.maximum(disc_hi, 0.0))) / a_hi, np.inf
        )
    return low, high


def _limits(num, den, z):
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    low, high = wilson_limits(num, den, z)
    return p, low, high


def range_interval(
    num: np.ndarray, den: np.ndarray, ok: np.ndarray, kind: str, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``max − min`` or ``min ÷ max`` of the group rates, all pairs at once.

    Parameters
    ----------
    num, den : ndarray of shape (..., n_groups)
        (Effective) numerators and denominators of the rate per group.
    ok : ndarray of bool, same shape
        Groups that take part in the comparison.
    kind : {'difference', 'ratio'}
    confidence : float

    Returns
    -------
    low, high : ndarray of shape (...)
        ``NaN`` where fewer than two groups take part.
    """
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    ok = np.asarray(ok, dtype=bool) & (den > 0)
    k = ok.sum(axis=-1)
    z = np.vectorize(lambda m: tukey_critical_value(int(m), confidence), otypes=[float])(k)
    p, lo, hi = _limits(num, den, z[..., None])
    pi, li, ui = p[..., :, None], lo[..., :, None], hi[..., :, None]
    pj, lj, uj = p[..., None, :], lo[..., None, :], hi[..., None, :]
    pair = ok[..., :, None] & ok[..., None, :] & ~np.eye(ok.shape[-1], dtype=bool)
    if kind == "difference":
        pl, ph = _pairs_difference(pi, li, ui, pj, lj, uj)
        low = np.max(np.where(pair, pl, -np.inf), axis=(-2, -1))
        high = np.max(np.where(pair, ph, -np.inf), axis=(-2, -1))
    else:
        pl, ph = _pairs_ratio(pi, li, ui, pj, lj, uj)
        low = np.min(np.where(pair, pl, np.inf), axis=(-2, -1))
        high = np.min(np.where(pair, ph, np.inf), axis=(-2, -1))
    enough = k >= 2
    low = np.where(enough, np.clip(low, 0.0, 1.0), np.nan)
    high = np.where(enough, np.clip(high, 0.0, 1.0), np.nan)
    return low, high


def reference_interval(
    num: np.ndarray, den: np.ndarray, ok: np.ndarray, reference: int, kind: str, confidence: float
) -> tuple[float, float]:
    """Interval of the worst comparison with the group at index ``reference``.

    The worst comparison is ``max_g |p_g − p_ref|`` (difference) or
    ``min_g min(p_g/p_ref, p_ref/p_g)`` (ratio); each of the ``m = k − 1`` contrasts has a
    MOVER interval at Šidák's critical value for ``m`` comparisons, so all hold at once with
    probability at least ``confidence``, and the worst comparison lies between the extremes.
    """
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    ok = np.asarray(ok, dtype=bool) & (den > 0)
    others = np.flatnonzero(ok)
    others = others[others != reference]
    if len(others) == 0:
        return float("nan"), float("nan")
    z = sidak_critical_value(len(others), confidence)
    p, lo, hi = _limits(num, den, z)
    args = (p[others], lo[others], hi[others], p[reference], lo[reference], hi[reference])
    if kind == "difference":
        pl, ph = _pairs_difference(*args)
        straddle = (pl <= 0) & (ph >= 0)
        g_lo = np.where(straddle, 0.0, np.minimum(np.abs(pl), np.abs(ph)))
        g_hi = np.maximum(np.abs(pl), np.abs(ph))
        return float(np.clip(g_lo.max(), 0, 1)), float(np.clip(g_hi.max(), 0, 1))
    pl, ph = _pairs_ratio(*args)
    with np.errstate(divide="ignore"):
        inv_hi = np.where(np.isinf(ph), 0.0, 1.0 / ph)
        inv_lo = np.where(pl > 0, 1.0 / np.where(pl > 0, pl, 1.0), np.inf)
    straddle = (pl <= 1) & (ph >= 1)
    g_lo = np.where(straddle, np.minimum(pl, inv_hi), np.where(ph < 1, pl, inv_hi))
    g_hi = np.where(straddle, 1.0, np.where(ph < 1, ph, inv_lo))
    return float(np.clip(g_lo.min(), 0, 1)), float(np.clip(g_hi.min(), 0, 1))
