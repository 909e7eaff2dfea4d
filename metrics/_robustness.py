"""Change of a group's accuracy under a perturbation, with paired bootstrap intervals.

Each row was decided twice, on the original input and on the perturbed one. Per group the
four counts (right before and after, right only before, ...) are a 2 × 2 table, so the
change and its interval come from the same count-table bootstrap as every other rate:
resampling people keeps each person's two decisions together (a paired bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._counts import count_table
from ._intervals import bootstrap_counts, percentile_interval

__all__ = ["RobustnessResult", "paired_change"]


@dataclass(frozen=True)
class RobustnessResult:
    """Per group: accuracy before and after, the drop with its interval; and the disparity.

    Attributes
    ----------
    per_group : DataFrame
        ``group``, ``n``, ``before``, ``after``, ``drop`` (before − after), ``ci_low``,
        ``ci_high``, ``sufficient``.
    value : float
        Largest minus smallest drop over the groups with enough rows.
    ci : tuple of float
        Its percentile bootstrap interval.
    worst_group, best_group : str or None
        The groups that lose the most and the least.
    """

    per_group: pd.DataFrame
    value: float
    ci: tuple[float, float]
    worst_group: str | None
    best_group: str | None


def paired_change(
    right_before: np.ndarray,
    right_after: np.ndarray,
    sensitive: pd.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
) -> RobustnessResult:
    """Compare each group's accuracy before and after a perturbation.

    Parameters
    ----------
    right_before, right_after : array of bool
        Whether each row was decided right on the original and on the perturbed input.
    sensitive : DataFrame
        The attributes defining the groups (their intersection).
    """
    table = count_table(
        np.asarray(right_before, bool), np.asarray(right_after, bool), sensitive, pos_label=True
    )
    attrs = list(table.attributes)
    groups = table.view(attrs)
    rng = np.random.default_rng(seed)
    boot = bootstrap_counts(groups.counts, n_boot=n_boot, rng=rng)  # (B, G, 2, 2)

    def drop(c: np.ndarray) -> np.ndarray:
        n = c.sum(axis=(-2, -1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (c[..., 1, :].sum(axis=-1) - c[..., :, 1].sum(axis=-1)) / n

    n = groups.n
    observed, reps = drop(groups.counts), drop(boot)
    lo, hi = percentile_interval(reps, confidence=confidence)
    ok = n >= min_group_size
    c = groups.counts
    per_group = pd.DataFrame(
        {
            "group": groups.keys,
            "n": n,
            "before": c[:, 1, :].sum(axis=-1) / n,
            "after": c[:, :, 1].sum(axis=-1) / n,
            "drop": observed,
            "ci_low": lo,
            "ci_high": hi,
            "sufficient": ok,
        }
    )
    if ok.sum() < 2:
        return RobustnessResult(per_group, float("nan"), (float("nan"), float("nan")), None, None)
    spread = reps[:, ok].max(axis=1) - reps[:, ok].min(axis=1)
    slo, shi = percentile_interval(spread, confidence=confidence)
    keys = np.asarray(groups.keys)[ok]
    return RobustnessResult(
        per_group=per_group,
        value=float(observed[ok].max() - observed[ok].min()),
        ci=(float(slo), float(shi)),
        worst_group=str(keys[np.argmax(observed[ok])]),
        best_group=str(keys[np.argmin(observed[ok])]),
    )
