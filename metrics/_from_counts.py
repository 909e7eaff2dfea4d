"""The engine's entry point for counts built elsewhere: a stream, a cluster, a database.

:func:`group_metrics` counts rows it is given. When the rows are too many to hold (a decision
log read batch by batch, a Spark job), the caller builds the same summaries itself, as sums
over the rows, and hands them here:

* a :class:`~metrics.CountTable` (one axis per sensitive attribute, levels sorted, then true
  class × decided class), e.g. summed batch by batch with :func:`~metrics.count_table`;
* for binary decisions with scores, optionally, :class:`~metrics.ScoreHistograms` over the same
  cells (summed batch by batch with :func:`~metrics.score_histograms`).

Every rate, interval and disparity is then the same computation as for rows; the score
metrics come from the histograms (see :mod:`metrics._histogram_metrics` for which are exact and
the stated error bound of the others). Cluster-level resampling needs rows: it is not
available here.
"""

from __future__ import annotations

from ._counts import CountTable
from ._group_metrics import _by_group
from ._group_result import GroupMetrics
from ._histogram_metrics import histogram_score_metrics
from ._histogram_scores import ScoreHistograms

__all__ = ["metrics_from_counts"]


def metrics_from_counts(
    table: CountTable,
    *,
    score_histograms: ScoreHistograms | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
    min_denominator: int = 5,
    engine: str = "numpy",
) -> GroupMetrics:
    """Every group rate with its interval, and the score metrics, from summed counts.

    Parameters
    ----------
    table : CountTable
        The confusion counts of every intersection cell (levels of each attribute sorted).
    score_histograms : ScoreHistograms, optional
        Score summaries over the same cells (binary decisions only).
    n_boot, seed, confidence, min_group_size, min_denominator
        As for :func:`~metrics.group_metrics`.
    engine : {"numpy", "numba"}, default "numpy"
        How the score histograms are summed to the views (the same values to 1e-12): see
        :func:`~metrics.histogram_score_metrics`. "numba" pays importing numba (about 0.5 s)
        unless the histograms were summed by its kernel already.

    Returns
    -------
    GroupMetrics
        As :func:`~metrics.group_metrics` returns for the same rows (without clusters).
    """
    if n_boot < 1:
        raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {n_boot} instead.")
    if score_histograms is not None and not table.binary:
        raise ValueError(
            "The 'score_histograms' parameter needs a binary count table. Got the classes "
            f"{list(table.classes)} instead."
        )
    scores = None
    if score_histograms is not None:
        scores = histogram_score_metrics(
            table,
            score_histograms,
            confidence=confidence,
            min_group_size=min_group_size,
            min_denominator=min_denominator,
            n_boot=n_boot,
            seed=seed,
            engine=engine,
        )
    return GroupMetrics(
        table=table,
        by_group=_by_group(table, min_group_size, min_denominator, confidence),
        scores=scores,
        min_group_size=min_group_size,
        min_denominator=min_denominator,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
    )
