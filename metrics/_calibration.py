"""Expected calibration error of a score, with its row-level bootstrap and bias bound.

The interval :mod:`._scores` reports is ``[E − B − z·se, E + z·se]``: ``se`` the standard
deviation of :func:`_ece_replicates` (a seeded bootstrap of the group's rows) and ``B``
:func:`_ece_bias_bound`, a bound on the estimate's upward bias.
"""

from __future__ import annotations

import numpy as np

__all__ = ["expected_calibration_error"]


_BOOT_CHUNK = 2_000_000  # rows × replicates drawn at once by the calibration bootstrap
_EXACT_ROWS = 5_000_000  # above: the calibration bootstrap draws bin sums, not rows


def _bins(s: np.ndarray, bins: int) -> np.ndarray:
    """Each score's calibration bin: ``b`` with ``edges[b] < s <= edges[b + 1]`` for the
    edges ``np.linspace(0, 1, bins + 1)`` (bin 0 also holds 0 and below, the last bin 1 and
    above), as ``np.digitize(s, edges[1:-1], right=True)`` gives it: computed arithmetically,
    then moved by one where rounding put a score on the wrong side of its float edge."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    b = np.ceil(np.asarray(s, dtype=float) * bins)
    b -= 1
    np.clip(b, 0, bins - 1, out=b)
    b = b.astype(np.int64)
    b -= (s <= edges[b]) & (b > 0)  # at or below its lower edge: the bin before
    b += (s > edges[b + 1]) & (b < bins - 1)  # above its upper edge: the bin after
    return b


def expected_calibration_error(
    y: np.ndarray, s: np.ndarray, *, bins: int = 10, binned: np.ndarray | None = None
) -> float:
    """Expected calibration error with ``bins`` equal-width bins of the score on [0, 1].

    Bin ``b`` holds the scores in ``(b/bins, (b+1)/bins]`` (the first bin also holds 0). The
    error is ``sum_b |sum of scores in b - number of positives in b| / n``: the gap between the
    mean score and the outcome rate of each bin, weighted by the bin's share of the rows.
    ``binned``, when given, is each score's bin (``_bins(s, bins)``, computed once upstream).
    """
    if len(s) == 0:
        return float("nan")
    b = _bins(s, bins) if binned is None else binned
    gap = np.abs(
        np.bincount(b, weights=s, minlength=bins) - np.bincount(b, weights=y, minlength=bins)
    )
    return float(gap.sum() / len(s))


def _ece_replicates(
    y: np.ndarray,
    s: np.ndarray,
    *,
    bins: int,
    n_boot: int,
    rng: np.random.Generator,
    binned: np.ndarray | None = None,
) -> np.ndarray:
    """Calibration error of ``n_boot`` row-level bootstrap resamples of one group.

    The error only depends on each bin's count and sum of ``score - outcome``. Up to
    ``_EXACT_ROWS`` rows × replicates the rows are redrawn; above, each replicate draws the
    bin counts (multinomial) and each bin's sum from the normal law of a sum of that many draws
    from the bin's rows (central limit theorem; by then a bin of weight ``w`` holds about
    ``w · n > w · 5,000`` rows).
    """
    n = len(s)
    b = _bins(s, bins) if binned is None else binned
    d = s - y.astype(float)
    if n * n_boot > _EXACT_ROWS:
        count = np.bincount(b, minlength=bins).astype(float)
        mean = np.bincount(b, weights=d, minlength=bins) / np.maximum(count, 1)
        sq = np.bincount(b, weights=d * d, minlength=bins) / np.maximum(count, 1)
        sd = np.sqrt(np.maximum(sq - mean**2, 0.0))
        draws = rng.multinomial(n, count / n, size=n_boot).astype(float)
        total = draws * mean + np.sqrt(draws) * sd * rng.standard_normal((n_boot, bins))
        return np.abs(total).sum(axis=1) / n
    out = np.empty(n_boot)
    step = max(1, _BOOT_CHUNK // max(n, 1))
    for start in range(0, n_boot, step):
        reps = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(reps, n))
        cell = (np.arange(reps)[:, None] * bins + b[idx]).ravel()
        total = np.bincount(cell, weights=d[idx].ravel(), minlength=reps * bins)
        out[start : start + reps] = np.abs(total).reshape(reps, bins).sum(axis=1) / n
    return out


def _ece_bias_bound(
    y: np.ndarray, s: np.ndarray, *, bins: int, binned: np.ndarray | None = None
) -> float:
    """Bound on the upward bias of the calibration error: ``Σ_b (n_b/n) σ_b sqrt(2/(π n_b))``."""
    n = len(s)
    b = _bins(s, bins) if binned is None else binned
    d = s - y.astype(float)
    count = np.bincount(b, minlength=bins).astype(float)
    mean = np.bincount(b, weights=d, minlength=bins) / np.maximum(count, 1)
    var = np.maximum(
        np.bincount(b, weights=d * d, minlength=bins) / np.maximum(count, 1) - mean**2, 0
    )
    return float(np.sum(np.sqrt(var * count)) * np.sqrt(2 / np.pi) / max(n, 1))
