"""The count stage on Spark as sums: a count table and score histograms, no rows on the driver.

A decision log whose checks need only sums (what :func:`audits._streaming.streamable` accepts:
no cluster column, no decision codes to map, two classes) is counted as the streamed local
path counts it, with the row-wise work on the executors:

* one ``groupBy(sensitive…, label, decision).count()`` gives every intersection cell's
  confusion counts: each attribute's observed levels are sorted (the streamed path's order)
  into a :class:`metrics.CountTable`;
* with a score column, one ``groupBy(sensitive…, label, score bin, calibration bin)``
  aggregation gives the :class:`metrics.ScoreHistograms` of the streamed path: each row's
  bin is computed on the executors with the same rules (:func:`metrics.fine_bins` on
  :func:`metrics.choose_bins` bins; the calibration bin as ``np.digitize(s, edges[1:-1],
  right=True)``), with the count and the sums of ``d``, ``d²``, ``d⁴`` (``d = score -
  outcome``) and each bin's smallest and largest score (whether it mixes scores).

Only these groups reach the driver (cells × 2 × the occupied bins at most), whatever the rows;
:func:`metrics.metrics_from_counts` then computes every rate, interval and score metric as
for the streamed local path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metrics import CountTable, ScoreHistograms, choose_bins
from models_under_test import PredictionError
from reports import count_text

from ._decisions import _check_decisions
from ._reading import needed_columns
from ._spark_reading import missing_group, unknown_groups
from ._spark_scoring import DECISION, SCORE, SparkDecided
from ._spec import AuditSpec
from ._stream_values import level_order

__all__ = ["CALIBRATION_BINS", "SparkCounts", "count_tables"]

#: Bins of the calibration error (as the streamed path's :func:`metrics.score_histograms`).
CALIBRATION_BINS = 10
_N = "__fairgate_n"


@dataclass(frozen=True)
class SparkCounts:
    """What the aggregations gathered: the table, the histograms and what was collected."""

    table: CountTable
    histograms: ScoreHistograms | None
    collected: dict[str, Any]


def _sorted_levels(values: set[Any]) -> list[Any]:
    """The observed levels in the local engines' order (:func:`level_order`)."""
    listed = list(values)
    return [listed[i] for i in level_order(listed)]


def _needs_rows(spec: AuditSpec) -> str | None:
    """Why the audit needs its rows (what the streamed local path refuses), or ``None``."""
    if needed_columns(spec) is None:
        return "a model (not a decision log), data expectations, or checks beyond group metrics"
    if spec.data.cluster_column:
        return "data.cluster_column needs each row's cluster"
    if getattr(spec.model, "decision_values", None):
        return "model.decision_values maps decision codes (as the local engine, row by row)"
    return None


def count_tables(spec: AuditSpec, decided: SparkDecided) -> SparkCounts | str:
    """The count table (and score histograms) from Spark aggregations, or why the audit
    needs its rows instead (then :func:`audits._spark_counts.table_rows` collects them)."""
    from pyspark.sql import functions as sf

    reason = _needs_rows(spec)
    if reason is not None:
        return reason
    data = spec.data
    sensitive, label, pos = list(data.sensitive), data.label, data.positive_label
    frame = decided.frame
    cells = frame.groupBy(*sensitive, label, DECISION).agg(sf.count("*").alias(_N)).collect()
    labels = {r[label] for r in cells}
    decisions = {r[DECISION] for r in cells}
    if len(labels | decisions) > 2:
        return "more than two classes (multiclass decisions)"
    fill = missing_group(spec)  # a number column's missing values: 'unknown' here
    keys = [tuple(fill if r[c] is None else r[c] for c in sensitive) for r in cells]
    if any(v is None for key in keys for v in key):
        return "missing sensitive values"
    missing = sum(r[_N] for r in cells if r[DECISION] is None)
    if missing:
        raise PredictionError(f"{count_text(missing)} decisions are missing (NaN).")
    _check_decisions(np.array(list(decisions), dtype=object), pd.Series(list(labels)))
    levels = [_sorted_levels({key[i] for key in keys}) for i in range(len(sensitive))]
    index = [{v: i for i, v in enumerate(lv)} for lv in levels]
    shape = tuple(len(lv) for lv in levels)
    counts = np.zeros((*shape, 2, 2), dtype=np.int64)
    for r, key in zip(cells, keys, strict=True):
        cell = tuple(ix[v] for ix, v in zip(index, key, strict=True))
        counts[(*cell, int(r[label] == pos), int(r[DECISION] == pos))] += r[_N]
    table = CountTable(
        attributes=tuple(sensitive),
        levels=tuple(tuple(lv) for lv in levels),
        classes=("not " + str(pos), pos),
        counts=counts,
    )
    collected: dict[str, Any] = {"mode": "count table", "cells": len(cells)}
    histograms = None
    if decided.has_score:
        positives = [v for v in labels if v == pos]
        histograms, groups = _histograms(frame, spec, positives, levels)
        collected["score_histograms"] = {
            "groups": groups,
            "score_bins": histograms.bins,
            "calibration_bins": histograms.calibration_bins,
        }
    return SparkCounts(table, histograms, collected)


def _histograms(
    frame: Any, spec: AuditSpec, positives: list[Any], levels: list[list[Any]]
) -> tuple[ScoreHistograms, int]:
    """The score histograms of the streamed path, from one aggregation (module docstring)."""
    from pyspark.sql import functions as sf

    sensitive, label = list(spec.data.sensitive), spec.data.label
    shape = tuple(len(lv) for lv in levels)
    bins = choose_bins(int(np.prod(shape)))
    s = sf.col(SCORE).cast("double")
    y = (sf.col(label).isin(positives) if positives else sf.lit(False)).cast("int")
    fine = sf.when(s >= 1, sf.lit(bins - 1)).otherwise(sf.ceil(s * float(bins - 2)))
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)[1:-1]
    calib = sum((s > sf.lit(float(e))).cast("int") for e in edges)
    d = s - y.cast("double")
    d2 = d * d
    groups = (
        frame.select(
            *sensitive,
            y.alias("y"),
            fine.cast("long").alias("b"),
            calib.alias("c"),
            s.alias("s"),
            d.alias("d"),
            d2.alias("d2"),
        )
        .groupBy(*sensitive, "y", "b", "c")
        .agg(
            sf.count("*").alias("n"),
            sf.sum("d").alias("sd"),
            sf.sum("d2").alias("sd2"),
            sf.sum(sf.col("d2") * sf.col("d2")).alias("sd4"),
            sf.min("s").alias("lo"),
            sf.max("s").alias("hi"),
        )
        .toPandas()
    )
    groups = unknown_groups(spec, groups)  # as the count table's levels
    cell = np.zeros(len(groups), dtype=np.int64)
    for column, lv, size in zip(sensitive, levels, shape, strict=True):
        codes = pd.Categorical(groups[column], categories=lv).codes.astype(np.int64)
        if (codes < 0).any():  # every level is one of the count table's
            raise PredictionError(f"The sensitive column {column!r} changed while it was read.")
        cell = cell * size + codes
    key = cell * 2 + groups["y"].to_numpy(dtype=np.int64)
    fine_at = key * bins + groups["b"].to_numpy(dtype=np.int64)
    n = groups["n"].to_numpy(dtype=float)
    hist = np.bincount(fine_at, weights=n, minlength=2 * int(np.prod(shape)) * bins)
    calib_at = key * CALIBRATION_BINS + groups["c"].to_numpy(dtype=np.int64)
    size = 2 * int(np.prod(shape)) * CALIBRATION_BINS
    sums = np.stack(
        [
            np.bincount(calib_at, weights=groups[c].to_numpy(dtype=float), minlength=size)
            for c in ("n", "sd", "sd2", "sd4")
        ],
        axis=-1,
    )
    b = groups["b"].to_numpy(dtype=np.int64)
    lo, hi = np.full(bins, np.inf), np.full(bins, -np.inf)
    np.minimum.at(lo, b, groups["lo"].to_numpy(dtype=float))
    np.maximum.at(hi, b, groups["hi"].to_numpy(dtype=float))
    seen = np.isfinite(lo)
    first = np.where(seen, lo, np.nan)
    histograms = ScoreHistograms(
        hist.astype(np.int64).reshape(*shape, 2, bins),
        sums.reshape(*shape, 2, CALIBRATION_BINS, 4),
        first,
        seen & (lo != hi),
    )
    return histograms, len(groups)
