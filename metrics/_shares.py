"""A share of people per group, with Wilson intervals and a simultaneous interval for the gap.

The gaming and recourse checks count people (refused applicants whose decision can be
flipped, who have recourse, whose decision changes with their protected attribute): each
group's share comes with its count and a Wilson interval, and the largest-minus-smallest gap
over the groups with enough people with the simultaneous MOVER interval of
:func:`~metrics._simultaneous.range_interval` (every pair at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._counts import group_key
from ._intervals import percentile_interval, wilson_interval
from ._simultaneous import range_interval

__all__ = ["GroupShares", "group_codes", "group_shares", "median_gap"]


@dataclass(frozen=True)
class GroupShares:
    """Per group and overall: how many of the people counted have the property.

    Attributes
    ----------
    per_group : DataFrame
        ``group``, ``n`` (people counted), ``count`` (with the property), ``share``,
        ``ci_low``, ``ci_high`` (Wilson) and ``sufficient`` (at least ``min_group_size``).
    count, n : int
        Overall.
    share : float
        ``count / n`` (``NaN`` when nobody is counted).
    ci : tuple of float
        Its Wilson interval.
    gap : float
        Largest minus smallest share over the sufficient groups (``NaN`` with fewer than two).
    gap_ci : tuple of float
        Its simultaneous interval.
    highest_group, lowest_group : str or None
    """

    per_group: pd.DataFrame
    count: int
    n: int
    share: float
    ci: tuple[float, float]
    gap: float
    gap_ci: tuple[float, float]
    highest_group: str | None
    lowest_group: str | None


def group_codes(sensitive: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Each row's group index and the group keys (``'sex=female|age_band=<25'``), sorted."""
    attrs = list(sensitive.columns)
    keys = [group_key(attrs, levels) for levels in sensitive.itertuples(index=False, name=None)]
    names, codes = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    return codes.reshape(-1), [str(k) for k in names]


def group_shares(
    hits: np.ndarray,
    sensitive: pd.DataFrame,
    *,
    confidence: float = 0.95,
    min_group_size: int = 30,
) -> GroupShares:
    """Share of rows with ``hits`` per group of ``sensitive`` (one view), and the gap.

    Parameters
    ----------
    hits : array of bool
        Whether each counted person has the property.
    sensitive : DataFrame
        The group columns of the same rows (their intersection is the view).
    confidence : float, default=0.95
    min_group_size : int, default=30
        Groups with fewer people counted are shown but not compared.
    """
    hits = np.asarray(hits, dtype=bool).reshape(-1)
    if len(hits) != len(sensitive):
        raise ValueError(
            f"The 'hits' parameter must hold one value per row of 'sensitive' "
            f"({len(sensitive)}). Got {len(hits)} instead."
        )
    codes, names = group_codes(sensitive) if len(hits) else (np.array([], int), [])
    n = np.bincount(codes, minlength=len(names)).astype(np.int64)
    k = np.bincount(codes, weights=hits, minlength=len(names)).astype(np.int64)
    lo, hi = wilson_interval(k, n, confidence=confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    ok = n >= min_group_size
    per_group = pd.DataFrame(
        {
            "group": names,
            "n": n,
            "count": k,
            "share": share,
            "ci_low": lo,
            "ci_high": hi,
            "sufficient": ok,
        }
    )
    total, count = len(hits), int(hits.sum())
    olo, ohi = wilson_interval(np.array([count]), np.array([total]), confidence=confidence)
    if ok.sum() >= 2:
        glo, ghi = range_interval(k, n, ok, "difference", confidence)
        judged = share[ok]
        gap, gap_ci = float(judged.max() - judged.min()), (float(glo), float(ghi))
        keys = np.asarray(names)[ok]
        highest, lowest = str(keys[np.argmax(judged)]), str(keys[np.argmin(judged)])
    else:
        gap, gap_ci, highest, lowest = float("nan"), (float("nan"), float("nan")), None, None
    return GroupShares(
        per_group=per_group,
        count=count,
        n=total,
        share=count / total if total else float("nan"),
        ci=(float(olo[0]), float(ohi[0])),
        gap=gap,
        gap_ci=gap_ci,
        highest_group=highest,
        lowest_group=lowest,
    )


def median_gap(
    costs: np.ndarray,
    codes: np.ndarray,
    ok: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Per group the median of ``costs``, the largest-minus-smallest over the ``ok`` groups,
    and a percentile bootstrap interval of that gap (rows resampled within each group).

    Parameters
    ----------
    costs : array of float
        One finite cost per row (the rows whose cost exists).
    codes : array of int
        Each row's group index (``0 .. len(ok) - 1``).
    ok : array of bool
        Groups that take part in the gap.
    """
    costs = np.asarray(costs, dtype=float)
    codes = np.asarray(codes)
    medians = np.array(
        [np.median(costs[codes == g]) if (codes == g).any() else np.nan for g in range(len(ok))]
    )
    ok = np.asarray(ok, bool) & np.isfinite(medians)
    if ok.sum() < 2:
        return medians, float("nan"), (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    reps = np.empty((n_boot, int(ok.sum())))
    for j, g in enumerate(np.flatnonzero(ok)):
        mine = costs[codes == g]
        draws = rng.integers(0, len(mine), size=(n_boot, len(mine)))
        reps[:, j] = np.median(mine[draws], axis=1)
    spread = reps.max(axis=1) - reps.min(axis=1)
    lo, hi = percentile_interval(spread, confidence=confidence)
    return medians, float(medians[ok].max() - medians[ok].min()), (float(lo), float(hi))
