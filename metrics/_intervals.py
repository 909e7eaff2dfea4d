"""Intervals, tests and power for rates computed from counts.

The bootstrap here resamples the count table, not the rows: resampling the ``n_g`` rows of a
group with replacement gives confusion counts that follow a multinomial law with the group's
observed cell shares, so one multinomial draw per group and replicate *is* a row-level
bootstrap stratified by group, at a cost independent of the number of rows.
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import numpy as np

__all__ = [
    "bootstrap_counts",
    "holm",
    "minimum_detectable_difference",
    "percentile_interval",
    "two_proportion_pvalue",
    "wilson_interval",
]


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(
            f"The 'confidence' parameter must be in (0, 1). Got {confidence!r} instead."
        )
    return float(NormalDist().inv_cdf(0.5 + confidence / 2.0))


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion; ``NaN`` where ``trials`` is zero."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = _z(confidence)
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def bootstrap_counts(counts: np.ndarray, *, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_boot`` bootstrap replicates of a count table, stratified by group.

    Parameters
    ----------
    counts : ndarray of shape (n_groups, ...)
        Cell counts per group (any cell layout after the first axis).
    n_boot : int
        Number of replicates.
    rng : numpy.random.Generator
        The seeded source of every draw.

    Returns
    -------
    ndarray of shape (n_boot, n_groups, ...)
        Each replicate keeps every group's size and redraws its cells with the observed shares.
    """
    if n_boot < 1:
        raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {n_boot} instead.")
    g = counts.shape[0]
    cells = counts.reshape(g, -1).astype(np.int64)
    n = cells.sum(axis=1)
    shares = np.divide(cells, np.maximum(n, 1)[:, None], dtype=float)
    shares[n == 0, 0] = 1.0  # empty groups stay empty (n = 0 draws)
    draws = rng.multinomial(n, shares, size=(n_boot, g))
    return draws.reshape(n_boot, *counts.shape)


def percentile_interval(
    replicates: np.ndarray, *, confidence: float = 0.95, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval, ignoring replicates where the statistic is undefined."""
    _z(confidence)
    alpha = (1.0 - confidence) / 2.0
    reps = np.asarray(replicates, dtype=float)
    if not np.isnan(reps).any():  # the common case, several times faster than nanquantile
        low, high = np.quantile(reps, [alpha, 1.0 - alpha], axis=axis)
        return low, high
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN bounds
        low = np.nanquantile(reps, alpha, axis=axis)
        high = np.nanquantile(reps, 1.0 - alpha, axis=axis)
    return low, high


def two_proportion_pvalue(k1: float, n1: float, k2: float, n2: float) -> float:
    """Two-sided p-value of the pooled z-test that two proportions are equal.

    Computed as the normal survival function ``erfc(|z| / √2)``, not ``2 (1 − Φ(|z|))``,
    which underflows to 0 beyond ``|z| ≈ 8.3``: large gaps get their true tiny p-values
    (down to about 1e-300).
    """
    if n1 <= 0 or n2 <= 0:
        return float("nan")
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(float(z)) / math.sqrt(2.0))


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (``NaN`` stays ``NaN`` and is not counted).

    The family is whatever the caller passes: the engine corrects the comparisons of one
    metric over the groups of one view; an audit check with ``family: check`` passes the
    comparisons of every view of the check at once.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def minimum_detectable_difference(
    n1: float, n2: float, rate: float, *, confidence: float = 0.95, power: float = 0.8
) -> float:
    """Smallest difference between two group rates that a two-sided test would detect.

    Normal approximation at the pooled ``rate``: ``(z_{1-α/2} + z_{power}) ·
    sqrt(rate (1 - rate) (1/n1 + 1/n2))``. ``NaN`` when a group is empty.
    """
    if n1 <= 0 or n2 <= 0 or not np.isfinite(rate):
        return float("nan")
    z = _z(confidence) + NormalDist().inv_cdf(power)
    var = max(rate * (1 - rate), 0.25 / max(n1 + n2, 1))  # never claim a zero-width detectable gap
    return float(z * np.sqrt(var * (1 / n1 + 1 / n2)))
