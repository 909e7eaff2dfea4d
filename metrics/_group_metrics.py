"""``group_metrics``: every group rate, its interval and every disparity from one count table.

The result types live in :mod:`metrics._group_result` (``GroupMetrics``) and
:mod:`metrics._disparity_result` (``DisparityResult``); they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._clusters import cluster_counts
from ._counts import CountTable, GroupCounts, _as_frame, count_table
from ._disparity_result import EQUALIZED_ODDS as EQUALIZED_ODDS
from ._disparity_result import DisparityResult
from ._group_result import GroupMetrics
from ._intervals import wilson_interval
from ._rates import RATES, all_rate_parts, one_vs_rest
from ._scores import score_inputs, score_metrics

__all__ = ["DisparityResult", "GroupMetrics", "group_metrics"]


def _by_group(
    table: CountTable, min_group_size: int, min_denominator: int, confidence: float
) -> pd.DataFrame:
    names = list(RATES)
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("view", "group", "class", "metric", "num", "den", "n")
    }

    def add(
        g: GroupCounts, klass: object, metric: list[str], num: np.ndarray, den: np.ndarray
    ) -> None:  # num, den: (groups, rates)
        n_g, n_r = num.shape
        cols["view"].append(np.full(n_g * n_r, g.view, dtype=object))
        cols["group"].append(np.repeat(np.asarray(g.keys, dtype=object), n_r))
        cols["class"].append(np.full(n_g * n_r, klass, dtype=object))
        cols["metric"].append(np.tile(np.asarray(metric, dtype=object), n_g))
        cols["num"].append(num.reshape(-1))
        cols["den"].append(den.reshape(-1))
        cols["n"].append(np.repeat(g.n, n_r))

    for attrs in table.views():
        g = table.view(attrs)
        if table.binary:
            add(g, None, names, *all_rate_parts(g.counts))
            continue
        right = np.trace(g.counts, axis1=-2, axis2=-1)
        add(
            g,
            None,
            ["accuracy", "error_rate"],
            np.stack([right, g.n - right], axis=1),
            np.stack([g.n, g.n], axis=1),
        )
        num, den = all_rate_parts(one_vs_rest(g.counts))  # (groups, classes, rates)
        for c, klass in enumerate(table.classes):
            add(g, klass, names, num[:, c], den[:, c])
    flat = {k: np.concatenate(v) for k, v in cols.items()}
    num, den, n = flat["num"], flat["den"], flat["n"]
    low, high = wilson_interval(num, den, confidence=confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    out = pd.DataFrame(
        {
            "view": flat["view"],
            "group": flat["group"],
            "class": flat["class"],
            "metric": flat["metric"],
            "value": value,
            "numerator": num.astype(np.int64),
            "denominator": den.astype(np.int64),
            "n": n,
            "ci_low": low,
            "ci_high": high,
            "sufficient": (n >= min_group_size) & (den >= min_denominator) & (den > 0),
        }
    )
    return out.drop(columns="class") if table.binary else out


def group_metrics(
    y_true: object,
    y_pred: object,
    sensitive_features: object,
    *,
    scores: object | None = None,
    pos_label: object = 1,
    classes: Sequence[object] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
    min_denominator: int = 5,
    score_bins: int = 10,
    score_classes: Sequence[object] | None = None,
    clusters: object | None = None,
    min_clusters: int = 3,
) -> GroupMetrics:
    """Compute every group rate, with counts and intervals, from one pass over the data.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_rows,)
        True outcomes and decisions.
    sensitive_features : DataFrame, Series, mapping or array-like
        One column per sensitive attribute; each attribute is a view, and so is their
        intersection.
    scores : array-like of shape (n_rows,) or (n_rows, n_score_classes), optional
        For the score metrics: the probability of the favourable outcome (binary decisions),
        or of each class of ``score_classes`` (multiclass, scored one-vs-rest per class).
    pos_label : object, default=1
        The favourable outcome (binary decisions).
    classes : sequence, optional
        Class labels of multiclass decisions; rates are then one-vs-rest per class.
    n_boot : int, default=1000
        Bootstrap replicates per view (:meth:`GroupMetrics.replicates`); with ``clusters``
        they give each group rate's design effect. Disparity intervals are simultaneous Wilson
        (MOVER) intervals, see :mod:`metrics._simultaneous`.
    seed : int, default=0
        Seed of the bootstrap; each view draws from ``(seed, view)``, so the same inputs and
        seed give the same results, and a view's numbers do not depend on the other views.
    confidence : float, default=0.95
        Level of every interval.
    min_group_size, min_denominator : int
        A group rate is *insufficient* below either bound and is left out of disparities.
        A rate whose denominator is 0 is undefined (``NaN``) and insufficient whatever
        ``min_denominator`` says.
    score_bins : int, default=10
        Equal-width bins of the expected calibration error.
    score_classes : sequence, optional
        The class of each column of 2-D ``scores`` (default: ``classes``); classes of the
        decisions without a column get no score metrics.
    clusters : array-like of shape (n_rows,), optional
        A cluster id per row (e.g. the speaker of a recording) when rows of one cluster are
        alike. The bootstrap then redraws whole clusters within each group, and each group
        rate's counts are divided by its design effect (cluster-bootstrap variance over
        binomial variance) before its intervals; p-values and disparity intervals widen
        accordingly.
    min_clusters : int, default=3
        With ``clusters``, a group with fewer clusters is insufficient evidence.

    Returns
    -------
    GroupMetrics
    """
    table = count_table(y_true, y_pred, sensitive_features, pos_label=pos_label, classes=classes)
    if n_boot < 1:
        raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {n_boot} instead.")
    cells = None
    if clusters is not None:
        if min_clusters < 2:
            raise ValueError(
                f"The 'min_clusters' parameter must be at least 2. Got {min_clusters} instead."
            )
        cells = cluster_counts(
            y_true,
            y_pred,
            _as_frame(sensitive_features),
            clusters,
            table,
            pos_label=pos_label,
            classes=classes,
        )
    score_frame = None
    if scores is not None:
        outcomes, score_matrix, scored = score_inputs(
            y_true, scores, table, pos_label, score_classes
        )
        score_frame = score_metrics(
            outcomes,
            score_matrix,
            sensitive_features,
            views=table.views(),
            classes=scored,
            bins=score_bins,
            confidence=confidence,
            min_group_size=min_group_size,
            min_denominator=min_denominator,
            n_boot=n_boot,
            seed=seed,
        )
    return GroupMetrics(
        table=table,
        by_group=_by_group(table, min_group_size, min_denominator, confidence),
        scores=score_frame,
        min_group_size=min_group_size,
        min_denominator=min_denominator,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        clusters=cells,
        min_clusters=min_clusters,
    )
