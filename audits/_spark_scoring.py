"""The decide stage on Spark: every row's decision (and probabilities), on the executors.

* ``predictions``: the logged decision column (its codes mapped by ``model.decision_values``)
  and score column; nothing is scored.
* ``mlflow``: the model's files, downloaded and verified on the driver by the local loader
  (skops, ONNX, or a pinned pickle), are scored by ``mlflow.pyfunc.spark_udf`` (the
  driver's Python environment, ``env_manager='local'``); the probabilities (which pyfunc's
  ``predict`` does not give) by the pandas UDF below, from an archive of the same files.
* ``sklearn`` and ``onnx``: the model file's bytes go to the executors, which load them with
  the same loader as the local engine (the same skops trusted types and sha256 pins) and
  score each partition's batches in a pandas UDF.

The decisions are the column :data:`DECISION`, the favourable class's probability
:data:`SCORE`, the probability matrix :data:`PROBA`. Probabilities are checked by one Spark
aggregation (finite, in [0, 1], rows summing to 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models_under_test import ModelAdapter, PredictionError
from reports import count_of

from ._decisions import SUM_TOLERANCE, map_decision_codes, proba_columns
from ._spark_reading import ROW_ID
from ._spec import AuditSpec
from ._spec_rules import same_value

__all__ = ["DECISION", "PROBA", "SCORE", "SparkDecided", "decide_spark", "feature_columns"]

DECISION, SCORE, PROBA = "__fairgate_decision", "__fairgate_score", "__fairgate_proba"
_PILOT_ROWS = 20


@dataclass(frozen=True)
class SparkDecided:
    """The DataFrame with its decision columns, and what is known of its probabilities."""

    frame: Any
    has_score: bool
    proba_classes: list[Any] | None


def feature_columns(spec: AuditSpec, columns: list[str]) -> list[str]:
    """What the model is given: the columns of the local engine's feature table."""
    dropped = {spec.data.label, *spec.data.exclude, ROW_ID, DECISION, SCORE, PROBA}
    return [c for c in columns if c not in dropped]


def _spark_type(values: np.ndarray) -> str:
    kind = values.dtype.kind
    return {"b": "boolean", "i": "long", "u": "long", "f": "double"}.get(kind, "string")


def _check_proba(frame: Any, column: str, what: str, matrix: bool) -> None:
    """:func:`audits._decisions.check_probabilities`, as one Spark aggregation."""
    from pyspark.sql import functions as sf

    values = sf.col(column)
    if matrix:
        bad_value = sf.exists(values, lambda x: x.isNull() | sf.isnan(x) | (x < 0) | (x > 1))
        total = sf.aggregate(values, sf.lit(0.0), lambda acc, x: acc + x)
        off = sf.abs(total - 1) > SUM_TOLERANCE
    else:
        bad_value = values.isNull() | sf.isnan(values) | (values < 0) | (values > 1)
        off = sf.lit(False)
    stats = frame.agg(
        sf.sum(bad_value.cast("long")).alias("bad"),
        sf.sum((~bad_value & off).cast("long")).alias("off"),
        sf.count(sf.lit(1)).alias("n"),
    ).collect()[0]
    if stats["bad"]:
        raise PredictionError(
            f"{what} holds {count_of(stats['bad'], stats['n'])} rows with values that are not "
            "probabilities "
            "(missing, or outside [0, 1]): refused."
        )
    if stats["off"]:
        raise PredictionError(
            f"{what}: {count_of(stats['off'], stats['n'])} rows of probabilities do not sum "
            "to 1: "
            "they are not one probability per class."
        )


def _logged(spec: AuditSpec, frame: Any) -> SparkDecided:
    """A decision log: its decision column (mapped codes) and score column."""
    from pyspark.sql import functions as sf

    model = spec.model
    column = model.column  # type: ignore[union-attr]
    decisions = sf.col(column)
    mapping = getattr(model, "decision_values", None)
    if mapping:
        codes = [r[0] for r in frame.select(column).distinct().collect() if r[0] is not None]
        mapped = map_decision_codes(np.asarray(codes, dtype=object), mapping, column)
        pairs = [x for code, label in zip(codes, mapped, strict=True) for x in (code, label)]
        lookup = sf.create_map(*[sf.lit(_plain(v)) for v in pairs])
        decisions = lookup[sf.col(column)]
    frame = frame.withColumn(DECISION, decisions)
    score = getattr(model, "score_column", None)
    if score:
        frame = frame.withColumn(SCORE, sf.col(score).cast("double"))
        _check_proba(frame, SCORE, f"The score column {score!r}", matrix=False)
    return SparkDecided(frame, bool(score), None)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _scorer(spec: AuditSpec, folder: str | None) -> tuple[bytes, dict[str, Any]]:
    """The model's bytes (a file, or an mlflow model folder as a tar archive) and the
    loader's parameters, for the executors."""
    params = spec.model.model_dump()
    kind = params.pop("kind")
    path = Path(params.pop("uri"))
    for key in ("proba_classes", "tracking_uri"):
        params.pop(key, None)
    if folder is None:
        return path.read_bytes(), {"kind": kind, "suffix": path.suffix, **params}
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname="model")
    return buffer.getvalue(), {"kind": kind, "suffix": ".tar", **params}


def _udf(blob: bytes, params: dict[str, Any], decision_type: str, with_proba: bool) -> Any:
    """A pandas UDF scoring each partition with the model loaded once per partition."""
    from pyspark.sql.functions import pandas_udf

    schema = f"d {decision_type}" + (", p array<double>" if with_proba else "")

    @pandas_udf(schema)  # type: ignore[call-overload]
    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import tempfile

        from models_under_test import load_model

        settings = dict(params)
        kind, suffix = settings.pop("kind"), settings.pop("suffix")
        with tempfile.TemporaryDirectory(prefix="fairgate-") as folder:
            path = Path(folder) / f"model{suffix}"
            path.write_bytes(blob)
            if suffix == ".tar":  # an mlflow model folder (our own archive of it)
                import tarfile

                with tarfile.open(path) as archive:
                    archive.extractall(folder, filter="data")
                path = Path(folder) / "model"
                settings["folder"] = str(path)  # loaded where it is, not copied again
            model = load_model(kind, uri=str(path), **settings)
            for batch in batches:
                out = pd.DataFrame({"d": np.asarray(model.predict(batch)).reshape(-1)})
                if with_proba:
                    out["p"] = list(np.asarray(model.predict_proba(batch), dtype=float))
                yield out

    return score


def _mlflow_udf(session: Any, folder: str, decision_type: str) -> Any:
    """``mlflow.pyfunc.spark_udf`` for the decisions (the model's pyfunc ``predict``)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.spark_udf(session, folder, result_type=decision_type, env_manager="local")


def decide_spark(
    spec: AuditSpec,
    adapter: ModelAdapter,
    frame: Any,
    *,
    session: Any,
    model_folder: str | None = None,
) -> SparkDecided:
    """The DataFrame with :data:`DECISION` (and :data:`SCORE` / :data:`PROBA`) columns.

    A pilot of the first rows is scored on the driver with ``adapter`` first: it gives the
    decisions' type and the probability columns' classes, and stops a model that cannot
    predict before any executor runs it.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as sf

    if adapter.decision_column is not None:
        return _logged(spec, frame)
    features = feature_columns(spec, frame.columns)
    pilot = frame.select(*features).limit(_PILOT_ROWS).toPandas()
    decision_type = _spark_type(np.asarray(adapter.predict(pilot)).reshape(-1))
    classes = None
    if adapter.has_proba:
        declared = getattr(spec.model, "proba_classes", None)
        classes = proba_columns(
            adapter, adapter.predict_proba(pilot), spec.data.positive_label, declared
        )
    mlflow = spec.model.kind == "mlflow"
    blob, params = _scorer(spec, model_folder if mlflow else None)
    inputs = sf.struct(*features)
    out = frame
    if mlflow:  # decisions by MLflow's own Spark UDF
        out = out.withColumn(
            DECISION, _mlflow_udf(session, str(model_folder), decision_type)(inputs)
        )
    if adapter.has_proba or not mlflow:
        scorer = _udf(blob, params, decision_type, adapter.has_proba)
        out = out.withColumn("__fairgate_scored", scorer(inputs))
        if not mlflow:
            out = out.withColumn(DECISION, sf.col("__fairgate_scored.d"))
        if adapter.has_proba:
            out = out.withColumn(PROBA, sf.col("__fairgate_scored.p"))
        out = out.drop("__fairgate_scored")
    # scored once: the checks, the count and the sample read the same decisions (the
    # pipeline unpersists it when the audit ends)
    out = out.persist(StorageLevel.MEMORY_AND_DISK)
    what = f"The {adapter.kind} model {adapter.uri!r}'s predict_proba"
    if adapter.has_proba:
        _check_proba(out, PROBA, what, matrix=True)
    if classes is None:
        return SparkDecided(out, False, None)
    positive = spec.data.positive_label
    column = next((i for i, c in enumerate(classes) if same_value(c, positive)), None)
    if len(classes) <= 2 and column is not None:
        out = out.withColumn(SCORE, sf.col(PROBA)[column])
    return SparkDecided(out, len(classes) <= 2 and column is not None, classes)
