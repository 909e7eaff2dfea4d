"""Per-view bootstrap of the count table: rows, or whole clusters, resampled within each group.

Each view (one attribute, or the intersection) is resampled on its own, from its own seed
``(seed, crc32(view name))``: the replicates of view ``sex`` are the same numbers whether or not
``age_band`` is audited too. (Resampling the finest intersection instead freezes each
attribute's mix of the other attributes and understates the variance of every coarser view.)

With cluster ids (e.g. one per speaker, whose recordings are alike), rows are not independent:
the bootstrap then redraws each group's clusters with replacement, and the design effect of a
group rate (its cluster-bootstrap variance over the binomial variance) turns its counts into
effective counts for the Wilson-based intervals.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._counts import CountTable, count_table
from ._intervals import bootstrap_counts
from ._quantiles import normal_isf, t_isf

__all__ = ["ClusterCounts", "cluster_counts", "design_effect", "view_replicates", "view_rng"]


@dataclass(frozen=True)
class ClusterCounts:
    """Confusion counts of every (intersection cell, cluster) pair that holds rows.

    Attributes
    ----------
    cell : ndarray of shape (n_pairs, n_attributes)
        Level index of each attribute (as in :attr:`CountTable.levels`).
    cluster : ndarray of shape (n_pairs,)
        Cluster code of the pair.
    counts : ndarray of shape (n_pairs, n_classes, n_classes)
    """

    cell: np.ndarray
    cluster: np.ndarray
    counts: np.ndarray


def cluster_counts(
    y_true: object,
    y_pred: object,
    frame: pd.DataFrame,
    clusters: object,
    table: CountTable,
    *,
    pos_label: object,
    classes: Sequence[object] | None,
) -> ClusterCounts:
    """Count the confusion cells per (intersection, cluster) pair, sparse in the pairs."""
    ids = pd.Series(np.asarray(clusters)) if not isinstance(clusters, pd.Series) else clusters
    if len(ids) != len(frame):
        raise ValueError(
            "The 'clusters' parameter must have one value per row of sensitive_features "
            f"({len(frame)}). Got {len(ids)} instead."
        )
    cl, _ = pd.factorize(ids, sort=True, use_na_sentinel=True)
    if len(cl) and cl.min() < 0:
        raise ValueError(
            "The 'clusters' parameter must not hold missing values. "
            f"Got {int((cl < 0).sum())} missing values instead."
        )
    shape = tuple(len(lv) for lv in table.levels)
    codes = [
        pd.Categorical(frame[c], categories=list(lv)).codes.astype(np.int64)
        for c, lv in zip(frame.columns, table.levels, strict=True)
    ]
    flat = np.ravel_multi_index(codes, shape) if codes else np.zeros(len(cl), np.int64)
    pair, inverse = np.unique(flat * (int(cl.max(initial=0)) + 1) + cl, return_inverse=True)
    per_pair = count_table(
        y_true, y_pred, {"pair": inverse}, pos_label=pos_label, classes=classes
    ).counts
    n_cl = int(cl.max(initial=0)) + 1
    return ClusterCounts(
        cell=np.stack(np.unravel_index(pair // n_cl, shape), axis=1),
        cluster=pair % n_cl,
        counts=per_pair,
    )


def view_rng(seed: int, view: str) -> np.random.Generator:
    """The random source of one view's bootstrap: a function of the seed and the view only."""
    return np.random.default_rng([int(seed), zlib.crc32(view.encode("utf-8"))])


def _view_groups(table: CountTable, attributes: tuple[str, ...], cells: np.ndarray) -> np.ndarray:
    """Index, among the view's present groups, of each intersection cell in ``cells``."""
    own = table.view(attributes)
    idx = [table.attributes.index(a) for a in attributes]
    shape = [len(table.levels[i]) for i in idx]
    flat = np.ravel_multi_index(tuple(cells[:, i] for i in idx), shape)
    summed = table._flatten(table.counts, attributes).sum(axis=(-2, -1))
    present = np.flatnonzero(summed > 0)
    position = np.full(int(np.prod(shape)), -1, dtype=np.int64)
    position[present] = np.arange(len(present))
    assert len(present) == len(own.keys)
    return position[flat]


def view_replicates(
    table: CountTable,
    attributes: tuple[str, ...],
    *,
    n_boot: int,
    seed: int,
    clusters: ClusterCounts | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Bootstrap replicates of one view's group counts, and its clusters per group.

    Returns
    -------
    replicates : ndarray of shape (n_boot, n_groups, n_classes, n_classes)
        Without clusters: each group's rows redrawn with replacement (one multinomial draw per
        group). With clusters: each group's clusters redrawn with replacement, with all their
        rows.
    n_clusters : ndarray of shape (n_groups,) or None
    """
    view = "|".join(attributes)
    rng = view_rng(seed, view)
    observed = table.view(attributes).counts
    if clusters is None:
        return bootstrap_counts(observed, n_boot=n_boot, rng=rng), None
    if n_boot < 1:
        raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {n_boot} instead.")
    group = _view_groups(table, attributes, clusters.cell)
    n_cl = int(clusters.cluster.max(initial=0)) + 1
    pair, inverse = np.unique(group * n_cl + clusters.cluster, return_inverse=True)
    k2 = clusters.counts.shape[-1] ** 2
    cells = np.zeros((len(pair), k2), dtype=np.int64)
    np.add.at(cells, inverse, clusters.counts.reshape(len(inverse), k2))
    pair_group = pair // n_cl
    n_groups = observed.shape[0]
    out = np.zeros((n_boot, n_groups, k2), dtype=np.int64)
    n_clusters = np.bincount(pair_group, minlength=n_groups)
    for g in range(n_groups):
        members = cells[pair_group == g]
        c = len(members)
        weights = rng.multinomial(c, np.full(c, 1.0 / c), size=n_boot)
        out[:, g] = weights @ members
    return out.reshape(n_boot, *observed.shape), n_clusters


def design_effect(
    num: np.ndarray,
    den: np.ndarray,
    boot_num: np.ndarray,
    boot_den: np.ndarray,
    n_clusters: np.ndarray,
    *,
    confidence: float,
) -> np.ndarray:
    """Design effect of each group rate: cluster-bootstrap variance over binomial variance.

    The bootstrap variance is scaled by ``C / (C − 1)`` (the bootstrap of a mean of C cluster
    totals underestimates its variance by that factor) and the design effect is never below 1.
    A rate at 0 or 1 has no binomial variance to compare with; it gets ``den / C``, i.e. an
    effective sample of one row per cluster. A variance estimated from C clusters has C − 1
    degrees of freedom, so the design effect is further multiplied by ``(t_{C−1} / z)²`` at the
    interval's level (Korn & Graubard 1998), which makes a normal-theory interval on the
    effective counts as wide as the t interval.

    Parameters
    ----------
    num, den : ndarray of shape (n_groups, ...)
    boot_num, boot_den : ndarray of shape (n_boot, n_groups, ...)
    n_clusters : ndarray of shape (n_groups,)
    """
    c = n_clusters.reshape(-1, *([1] * (num.ndim - 1))).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = num / den
        reps = np.where(boot_den > 0, boot_num / np.where(boot_den > 0, boot_den, 1), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: rate never defined
            var_boot = np.nanvar(reps, axis=0) * c / np.maximum(c - 1, 1)
        var_bin = p * (1 - p) / den
        deff = np.where(var_bin > 0, var_boot / var_bin, den / c)
    alpha = (1.0 - confidence) / 2.0
    df = np.maximum(c - 1, 1)
    small = (t_isf(alpha, df) / normal_isf(alpha)) ** 2
    return np.where(np.isfinite(deff), np.maximum(deff, 1.0), 1.0) * small
