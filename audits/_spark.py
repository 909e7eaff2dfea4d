"""The audit pipeline on Apache Spark (``data.engine: spark``).

The same stages as the local engine (read → validate → load → decide → count → check), with
the row-wise work on Spark's executors and the statistics on the driver:

* read: Parquet/CSV paths or a catalog table as a Spark DataFrame (:mod:`._spark_reading`);
* validate: the Great Expectations suite on GX's Spark datasource, and Spark aggregations for
  the rest (:mod:`._spark_validation`);
* load: the model, verified on the driver by the local loader;
* decide: scoring on the executors (:mod:`._spark_scoring`);
* count: a decision log whose checks need only sums is counted by Spark aggregations (the
  count table and score histograms, :mod:`._spark_tables`) handed to
  :func:`metrics.metrics_from_counts`, as the streamed local path does; an audit that needs
  rows collects them (or its expanded count table) for the local count stage
  (:mod:`._spark_counts`);
* check: the same checks; explanations on a seeded stratified sample collected to the driver.

What ran where is stated in the results document (``data.engine``).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ._digest_stage import confirm_data, list_data, start_digest
from ._evidence import Evidence
from ._explain_checks import EXPLAIN_CHECKS
from ._spark_counts import ROW_LIMIT, explain_sample, table_rows
from ._spark_reading import ROW_ID, read_spark, spark_session
from ._spark_scoring import decide_spark, feature_columns
from ._spark_tables import SparkCounts, count_tables
from ._spark_validation import validate_spark
from ._stages import _stage

__all__ = ["spark_pipeline"]


def _load_mlflow(
    spec: Any, *, tracking_uri: str | None, show: bool, scratch: Any = None
) -> tuple[Any, str]:
    """The mlflow model, downloaded once (into the audit's ``scratch`` folder): the local
    loader verifies the files that ``spark_udf`` then ships to the executors."""
    from models_under_test import load_model
    from models_under_test._mlflow_model import download_mlflow_model

    params = spec.model.model_dump()
    params.pop("kind")
    uri = params.pop("uri")
    tracking = params.pop("tracking_uri") or tracking_uri
    folder = download_mlflow_model(uri, tracking, progress=show, into=scratch)
    adapter = load_model("mlflow", uri=folder, folder=folder, **params)  # not copied again
    return replace(adapter, uri=uri), folder


def spark_pipeline(audit: Any, *, tracking_uri: str | None, master: str | None) -> None:
    """Run the audit's stages on Spark, filling ``audit`` as the local pipeline does."""
    from ._runner import _load

    spec = audit.spec
    list_data(audit)  # the files Spark reads and their stats, before it reads them
    session, frame = _stage("read")(_read)(spec, master, files=audit.data_files)
    start_digest(audit)
    frame, rows = _stage("validate")(validate_spark)(
        spec, frame, show=audit.show, keep=lambda v: setattr(audit, "validation", v)
    )
    audit.engine = {
        "name": "spark",
        "spark_version": session.version,
        "master": session.sparkContext.master,
        "source": f"table {spec.data.table}" if spec.data.table else "path",
        "rows": rows,
        "executors": "read, validation, scoring and the count aggregation",
        "driver": "the metrics and their intervals, the checks, the explanations",
    }
    folder = None
    if spec.model.kind == "mlflow":
        audit.adapter, folder = _stage("load")(_load_mlflow)(
            spec, tracking_uri=tracking_uri, show=audit.show, scratch=audit.scratch
        )
    else:
        audit.adapter = _load(spec, audit.spec_path, tracking_uri=tracking_uri, show=audit.show)
    decided = _stage("decide")(decide_spark)(
        spec, audit.adapter, frame, session=session, model_folder=folder
    )
    try:
        _count_and_check(audit, decided, frame, rows)
        confirm_data(audit)  # Spark reads the data lazily: unchanged until the end
    finally:
        with contextlib.suppress(Exception):  # a no-op for a decision log (never persisted)
            decided.frame.unpersist()


def _count_and_check(audit: Any, decided: Any, frame: Any, rows: int) -> None:
    """The count stage (Spark aggregations) and the check stage (explanations on a sample)."""
    from ._check_stage import _check

    spec, engine = audit.spec, audit.engine
    no_decisions = _stage("count")(_count)(audit, decided, rows)
    explains = any(c.type in EXPLAIN_CHECKS for c in spec.checks)
    if explains and audit.adapter.decision_column is None:
        sample, decisions, described = _stage("check")(explain_sample)(
            spec, decided.frame, rows, seed=audit.seed
        )
        engine["explain_sample"] = described
    else:
        columns = [c for c in frame.columns if c != ROW_ID]
        sample, decisions = pd.DataFrame(columns=columns), no_decisions
    features = sample[feature_columns(spec, list(sample.columns))]
    audit.features = features
    evidence = Evidence(
        spec=spec,
        frame=sample,
        features=features,
        decisions=decisions,
        adapter=audit.adapter,
        gm=audit.gm,
        seed=audit.seed,
        show=audit.show,
    )
    _check(audit, evidence)


def _count(audit: Any, decided: Any, rows: int) -> np.ndarray:
    """``audit.gm`` from Spark aggregations (:mod:`._spark_tables`), or from the rows the
    audit needs (:func:`._spark_counts.table_rows`); returns an empty decisions array (of
    the decisions' type) for the check stage."""
    from metrics import metrics_from_counts

    from ._runner import _count as count_rows

    spec, engine = audit.spec, audit.engine
    counted = count_tables(spec, decided)
    if isinstance(counted, SparkCounts):
        engine["collected"] = counted.collected
        audit.gm = metrics_from_counts(
            counted.table,
            score_histograms=counted.histograms,
            n_boot=spec.n_boot,
            seed=audit.seed,
            confidence=spec.confidence,
            min_group_size=spec.data.min_group_size,
            min_denominator=spec.data.min_denominator,
        )
        scores = audit.gm.scores
        if scores is not None:  # the binned metrics' stated error, largest over groups
            bound = scores[scores.error > 0].groupby("metric").error.max()
            counted.collected["score_error_bounds"] = {k: float(v) for k, v in bound.items()}
        return np.array([])
    score_checks = any(c.type == "score_metric" for c in spec.checks)
    local, outcome, classes, collected = table_rows(spec, decided, rows, score_checks=score_checks)
    engine["collected"] = {**collected, "reason": counted, "row_limit": ROW_LIMIT}
    audit.gm = count_rows(spec, local, outcome, classes, seed=audit.seed)
    return outcome.decisions[:0]


def _read(spec: Any, master: str | None, *, files: Any = None) -> tuple[Any, Any]:
    session = spark_session(master)
    return session, read_spark(spec, session, files=files)
