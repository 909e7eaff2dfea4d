"""The count stage on Spark for audits that need rows (see :mod:`._spark_tables` for the rest).

An audit the streamed local path would not stream (a cluster column, decision codes mapped by
``decision_values``, more than two classes, a model scored with every column or explained) is
counted here, as the local in-memory engine counts it, by its count stage
(:func:`audits._runner._count`, hence :func:`metrics.group_metrics`):

* when it needs each row's score or cluster (score metrics, the cluster bootstrap), those
  columns are collected, ordered by row, when the data hold at most :data:`ROW_LIMIT` rows
  (mode ``rows``). Above it an audit with score checks stops (fail closed), and one without
  them leaves the scores out and says so;
* otherwise one ``groupBy(sensitive…, label, decision).count()`` is collected and each cell
  is repeated as many times as it counts, with categorical group codes (a few bytes a row;
  mode ``expanded count table``).

The explanation checks run on a seeded sample stratified by the intersection of the
sensitive attributes (:func:`explain_sample`), collected to the driver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models_under_test import PredictionError
from reports import count_text

from ._decisions import Decided, _check_decisions
from ._spark_reading import ROW_ID, unknown_groups
from ._spark_scoring import DECISION, PROBA, SCORE, SparkDecided
from ._spec import AuditSpec

__all__ = ["ROW_LIMIT", "SAMPLE_ROWS", "explain_sample", "table_rows"]

#: The most rows whose scores and cluster ids are collected to the driver.
ROW_LIMIT = 5_000_000
#: Rows of the explanation sample (at least ``explain.rows + explain.background``).
SAMPLE_ROWS = 5_000
_COUNT = "__fairgate_count"


def _categorical(values: pd.Series) -> pd.Series:
    """Group values as a categorical of their sorted levels (what factorizing them gives)."""
    levels = sorted(pd.unique(values.dropna()), key=lambda v: (str(type(v)), v))
    return values.astype(pd.CategoricalDtype(levels))


def _expand(cells: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The rows the cells stand for (each repeated ``count`` times), in cell order."""
    repeat = np.repeat(np.arange(len(cells)), cells[_COUNT].to_numpy())
    out = {}
    for column in columns:
        values = cells[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()[repeat]
            out[column] = pd.Categorical.from_codes(codes, dtype=values.dtype)
        else:
            out[column] = values.to_numpy()[repeat]
    return pd.DataFrame(out)


def table_rows(
    spec: AuditSpec, decided: SparkDecided, rows: int, *, score_checks: bool
) -> tuple[pd.DataFrame, Decided, list[Any], dict[str, Any]]:
    """The driver's frame (sensitive, label, cluster), decisions and classes for the count
    stage, and what was collected (for the results document)."""
    data = spec.data
    sensitive, label = list(data.sensitive), data.label
    has_scores = decided.has_score or decided.proba_classes is not None
    per_row = (has_scores or data.cluster_column is not None) and rows <= ROW_LIMIT
    if not per_row and data.cluster_column:
        raise PredictionError(
            f"data.cluster_column needs each row's cluster on the driver: the data hold "
            f"{rows:,} rows, more than the {ROW_LIMIT:,} collected on Spark."
        )
    if has_scores and not per_row and score_checks:
        raise PredictionError(
            f"The score checks need each row's score on the driver: the data hold {rows:,} "
            f"rows, more than the {ROW_LIMIT:,} collected on Spark. Audit a sample, or drop "
            "the score checks."
        )
    frame = decided.frame
    if per_row:
        extra = [c for c in (SCORE if decided.has_score else None, data.cluster_column) if c]
        if decided.proba_classes is not None and not decided.has_score:
            extra.append(PROBA)
        wanted = [ROW_ID, *sensitive, label, DECISION, *extra]
        local = unknown_groups(spec, frame.select(*dict.fromkeys(wanted)).toPandas())
        local = local.sort_values(ROW_ID, kind="stable").reset_index(drop=True)
        collected = {"mode": "rows", "rows": len(local)}
    else:
        from pyspark.sql import functions as sf

        cells = frame.groupBy(*sensitive, label, DECISION).agg(sf.count("*").alias(_COUNT))
        cells = unknown_groups(spec, cells.toPandas())
        for column in sensitive:
            cells[column] = _categorical(cells[column])
        cells = cells.sort_values([*sensitive, label, DECISION], kind="stable", ignore_index=True)
        local = _expand(cells, [*sensitive, label, DECISION])
        collected = {"mode": "expanded count table", "cells": len(cells)}
        if has_scores:
            collected["scores"] = (
                f"left out: {rows:,} rows are more than the {ROW_LIMIT:,} whose scores are "
                "collected, and no score check needs them"
            )
            has_scores = False
    missing = int(local[DECISION].isna().sum())
    if missing:
        raise PredictionError(f"{count_text(missing)} decisions are missing (NaN).")
    decisions = local[DECISION].to_numpy()
    scores = proba = None
    if has_scores and decided.has_score:
        scores = local[SCORE].to_numpy(dtype=float)
    elif has_scores:
        proba = np.stack(local[PROBA].to_numpy()).astype(float)
    classes = _check_decisions(pd.unique(pd.Series(decisions)), pd.Series(pd.unique(local[label])))
    outcome = Decided(
        decisions,
        scores,
        proba,
        decided.proba_classes if has_scores and not decided.has_score else None,
    )
    return local.drop(columns=[DECISION]), outcome, classes, collected


def explain_sample(
    spec: AuditSpec, frame: Any, rows: int, *, seed: int
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """A seeded sample stratified by sensitive group, collected to the driver.

    Every row when the data hold at most :data:`SAMPLE_ROWS` rows (then in row order, as the
    local engine has them); otherwise each intersectional group's rows are drawn with
    probability ``max(share × SAMPLE_ROWS, min(group size, min_group_size)) / group size``
    (Spark's ``sampleBy``, seeded), so that small groups are represented. Returns the sample
    (data columns), its decisions and the description the results document holds.
    """
    from pyspark.sql import functions as sf

    target = max(SAMPLE_ROWS, spec.explain.rows + spec.explain.background)
    sensitive = list(spec.data.sensitive)
    if rows <= target:
        sample, how = frame, "every row (the data hold no more rows than the sample size)"
    else:
        stratum = sf.concat_ws("|", *[sf.col(c).cast("string") for c in sensitive])
        keyed = frame.withColumn("__fairgate_stratum", stratum)
        sizes = {r[0]: r[1] for r in keyed.groupBy("__fairgate_stratum").count().collect()}
        floor = spec.data.min_group_size
        fractions = {
            key: min(1.0, max(target * n / rows, min(n, floor)) / n) for key, n in sizes.items()
        }
        sample = keyed.sampleBy("__fairgate_stratum", fractions, seed).drop("__fairgate_stratum")
        how = (
            f"stratified by {' × '.join(sensitive)}: each group's rows drawn with probability "
            f"max(share × {target:,}, min(group size, {floor})) / group size (Spark sampleBy, "
            f"seed {seed})"
        )
    local = unknown_groups(spec, sample.toPandas())
    local = local.sort_values(ROW_ID, kind="stable").reset_index(drop=True)
    decisions = local[DECISION].to_numpy()
    dropped = [c for c in (ROW_ID, DECISION, SCORE, PROBA) if c in local.columns]
    described = {"rows": len(local), "of": rows, "sampling": how, "seed": seed}
    return local.drop(columns=dropped), decisions, described
