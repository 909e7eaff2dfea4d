"""Change of a group's accuracy under a perturbation, with paired bootstrap intervals.

Each row was decided twice, on the original input and on the perturbed one. Per group the
four counts (right before and after, right only before, ...) are a 2 × 2 table, so the
change and its interval come from the same count-table bootstrap as every other rate:
resampling people keeps each person's two decisions together (a paired bootstrap).

When rows come in clusters that are not independent (clips of one speaker), ``clusters``
makes the bootstrap resample whole clusters within each group (each replicate draws as many
clusters as the group holds, with replacement, and sums their tables), and evidence is
counted in clusters: a group with fewer than ``min_clusters`` is insufficient, since group
and cluster cannot be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._counts import count_table, group_key
from ._intervals import bootstrap_counts, percentile_interval
from ._quantiles import normal_ppf, t_ppf

__all__ = ["RobustnessResult", "paired_change"]


@dataclass(frozen=True)
class RobustnessResult:
    """Per group: accuracy before and after, the drop with its interval; and the disparity.

    Attributes
    ----------
    per_group : DataFrame
        ``group``, ``n``, ``before``, ``after``, ``drop`` (before − after), ``ci_low``,
        ``ci_high``, ``sufficient``, and ``clusters`` (clusters per group; ``None`` without
        clusters).
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
    clusters: np.ndarray | None = None,
    min_clusters: int = 3,
) -> RobustnessResult:
    """Compare each group's accuracy before and after a perturbation.

    Parameters
    ----------
    right_before, right_after : array of bool
        Whether each row was decided right on the original and on the perturbed input.
    sensitive : DataFrame
        The attributes defining the groups (their intersection).
    clusters : array, optional
        Each row's cluster (e.g. its speaker): the bootstrap then resamples whole clusters
        within each group.
    min_clusters : int, default=3
        With ``clusters``, a group needs at least this many clusters to be judged.
    """
    table = count_table(
        np.asarray(right_before, bool), np.asarray(right_after, bool), sensitive, pos_label=True
    )
    attrs = list(table.attributes)
    groups = table.view(attrs)
    rng = np.random.default_rng(seed)
    if clusters is None:
        boot = bootstrap_counts(groups.counts, n_boot=n_boot, rng=rng)  # (B, G, 2, 2)
        n_clusters = None
    else:
        boot, n_clusters = _cluster_bootstrap(
            np.asarray(right_before, bool),
            np.asarray(right_after, bool),
            _group_index(sensitive, attrs, groups.keys),
            np.asarray(clusters),
            n_groups=len(groups.keys),
            n_boot=n_boot,
            rng=rng,
        )

    def drop(c: np.ndarray) -> np.ndarray:
        n = c.sum(axis=(-2, -1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (c[..., 1, :].sum(axis=-1) - c[..., :, 1].sum(axis=-1)) / n

    n = groups.n
    observed, reps = drop(groups.counts), drop(boot)
    if n_clusters is not None:
        reps = observed + (reps - observed) * _few_cluster_factor(n_clusters, confidence)
    lo, hi = percentile_interval(reps, confidence=confidence)
    ok = n >= min_group_size
    if n_clusters is not None:
        ok &= n_clusters >= min_clusters
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
            "clusters": n_clusters if n_clusters is not None else [None] * len(n),
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


def _few_cluster_factor(n_clusters: np.ndarray, confidence: float) -> np.ndarray:
    """Per group, how much to widen the cluster bootstrap's spread around the estimate.

    With k clusters the bootstrap variance is (k − 1)/k of the unbiased one, and the
    estimate's sampling distribution has Student-t tails with k − 1 degrees of freedom:
    deviations are scaled by sqrt(k / (k − 1)) · t(k − 1) / z (1 for large k). Groups with
    one cluster get 1 (they are insufficient anyway).
    """
    k = np.asarray(n_clusters, dtype=float)
    q = (1.0 + confidence) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.sqrt(k / (k - 1)) * t_ppf(q, k - 1) / normal_ppf(q)
    return np.where(k > 1, factor, 1.0)


def _group_index(sensitive: pd.DataFrame, attrs: list[str], keys: tuple[str, ...]) -> np.ndarray:
    """Each row's position in ``keys`` (the groups of the intersection of ``attrs``)."""
    frame = sensitive if isinstance(sensitive, pd.DataFrame) else pd.DataFrame(sensitive)
    where = {k: i for i, k in enumerate(keys)}
    rows = frame[attrs].itertuples(index=False, name=None)
    return np.array([where[group_key(attrs, levels)] for levels in rows], dtype=np.int64)


def _cluster_bootstrap(
    before: np.ndarray,
    after: np.ndarray,
    group: np.ndarray,
    clusters: np.ndarray,
    *,
    n_groups: int,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Replicates (B, G, 2, 2) resampling whole clusters within each group, and the number
    of clusters per group."""
    if len(clusters) != len(group):
        raise ValueError(
            f"The 'clusters' parameter must hold one cluster per row ({len(group)}). "
            f"Got {len(clusters)} instead."
        )
    if pd.isna(clusters).any():
        raise ValueError("The 'clusters' parameter must not hold missing values.")
    boot = np.zeros((n_boot, n_groups, 2, 2), dtype=np.int64)
    counts = np.zeros(n_groups, dtype=np.int64)
    cell = before.astype(np.int64) * 2 + after.astype(np.int64)
    for g in range(n_groups):
        rows = group == g
        ids, inverse = np.unique(clusters[rows], return_inverse=True)
        k = len(ids)
        counts[g] = k
        if k == 0:
            continue
        tables = np.zeros((k, 4), dtype=np.int64)
        np.add.at(tables, (inverse, cell[rows]), 1)
        weights = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot)  # (B, k)
        boot[:, g] = (weights @ tables).reshape(n_boot, 2, 2)
    return boot, counts
