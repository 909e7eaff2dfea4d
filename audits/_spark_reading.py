"""Apache Spark for the audit: the session, and the audit data as a Spark DataFrame.

pyspark is imported here only, when an audit runs with ``data.engine: spark``; without it the
audit is refused before anything runs (:class:`SparkUnavailableError`, exit code 4). The data
are a Parquet or CSV path (a file or a folder of part files) or a catalog table
(``data.table``). Each row gets a number in the order Spark reads it
(:data:`ROW_ID`): for one file, the file's order, as the local engine reads it.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ._data import DataError
from ._data_files import DataFiles
from ._spec import AuditSpec

__all__ = [
    "ROW_ID",
    "SparkUnavailableError",
    "missing_group",
    "read_spark",
    "require_pyspark",
    "spark_session",
    "unknown_groups",
]

#: The column holding each row's number (in read order); never a column of the data.
ROW_ID = "__fairgate_row"

#: Settings of a session that fairgate starts itself (a running one is used as it is).
_SESSION_CONF = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
}


class SparkUnavailableError(RuntimeError):
    """``engine: spark`` was asked for, but pyspark (or Java) cannot be used here."""


def spark_session(master: str | None = None, *, app_name: str = "fairgate") -> Any:
    """The active SparkSession, or a new one on ``master`` (e.g. ``local[2]``).

    Under ``spark-submit`` or on Databricks the session already exists and ``master`` is left
    to the cluster. Raises :class:`SparkUnavailableError` when pyspark is not installed or the
    JVM does not start.
    """
    warnings.filterwarnings(  # tested against pandas 3 (see audits._gx_import)
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise SparkUnavailableError(
            "data.engine: spark needs pyspark, which is not installed: pip install "
            "'fairgate[spark]' (and a Java runtime, 17 or newer). Nothing was audited."
        ) from err
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    if (master or "local").startswith("local"):
        # local workers run this Python (and its packages) unless PYSPARK_PYTHON says otherwise;
        # pyspark reads the worker's interpreter from the environment only
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        for key in ("spark.driver.host", "spark.driver.bindAddress"):  # loopback only
            builder = builder.config(key, "127.0.0.1")
    for key, value in _SESSION_CONF.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as err:  # no Java, a master that cannot be reached
        raise SparkUnavailableError(
            f"Spark could not start ({type(err).__name__}: {str(err)[:300]}): check that a Java "
            f"runtime is installed and that the master {master or '(default)'!r} is reachable. "
            "Nothing was audited."
        ) from err
    session.sparkContext.setLogLevel("ERROR")  # a session fairgate started: quiet logs
    return session


def _groups_as_written(session: Any, frame: Any, path: str, sensitive: list[str]) -> Any:
    """``frame`` with each sensitive column Spark inferred as booleans re-read as its text,
    unless it was written ``True``/``False``, as the local engine reads it
    (:func:`audits._data.as_written`): ``TRUE`` and ``true`` stay two groups."""
    from pyspark.sql.types import BooleanType, StringType, StructField, StructType

    booleans = [
        f.name for f in frame.schema.fields if f.name in sensitive and f.dataType == BooleanType()
    ]
    if not booleans:
        return frame

    def read(text: list[str]) -> Any:
        schema = StructType(
            [
                StructField(f.name, StringType(), True) if f.name in text else f
                for f in frame.schema.fields
            ]
        )
        where = str(Path(path).absolute())
        return session.read.csv(where, header=True, schema=schema, enforceSchema=False)

    words = read(booleans)
    text = [
        c
        for c in booleans
        if not {r[0] for r in words.select(c).distinct().collect() if r[0] is not None}
        <= {"True", "False"}
    ]
    return read(text) if text else frame


def read_spark(spec: AuditSpec, session: Any, *, files: DataFiles | None = None) -> Any:
    """The audit data as a Spark DataFrame with a :data:`ROW_ID` column.

    ``files``: a folder's files as the read found them (:func:`audits._data_files.snapshot`),
    whose rule Spark's own listing follows (hidden names skipped, links refused before).
    Raises :class:`~audits._data.DataError` when the data cannot be read or hold no rows.
    """
    from pyspark.sql import functions as sf

    data = spec.data
    source = f"table {data.table!r}" if data.table else f"data path {data.path!r}"
    if not data.table:
        from ._folder_columns import refuse_missing_file_columns

        refuse_missing_file_columns(spec, files=files)  # each file has the columns used
    try:
        if data.table:
            frame = session.table(data.table)
        elif data.path.rstrip("/").lower().endswith(".csv"):
            # the local engine's pandas.read_csv infers types alike (ints, floats, strings)
            frame = session.read.csv(
                str(Path(data.path).absolute()), header=True, inferSchema=True, enforceSchema=False
            )
            frame = _groups_as_written(session, frame, data.path, list(data.sensitive))
        else:
            frame = session.read.parquet(str(Path(data.path).absolute()))
    except Exception as err:
        raise DataError(f"The {source} cannot be read by Spark: {str(err)[:300]}") from err
    seen = [c for i, c in enumerate(frame.columns) if c in frame.columns[:i]]
    if seen:
        raise DataError(
            f"The {source} names the column(s) {sorted(set(seen))} more than once: which one "
            "is meant cannot be known. Rename them."
        )
    if ROW_ID in frame.columns:
        raise DataError(f"The {source} has a column named {ROW_ID!r}, which fairgate reserves.")
    floats = {"float", "double"}
    for column, kind in frame.dtypes:  # NaN is a missing group value, as pandas reads it
        if column in data.sensitive and kind in floats:
            frame = frame.withColumn(
                column, sf.when(sf.isnan(column), sf.lit(None)).otherwise(sf.col(column))
            )
    return frame.withColumn(ROW_ID, sf.monotonically_increasing_id())


def missing_group(spec: AuditSpec) -> str | None:
    """What a missing group value is judged as: ``'unknown'`` with ``data.missing_sensitive:
    unknown``, else ``None`` (it stays missing, and validation refuses it)."""
    return "unknown" if spec.data.missing_sensitive == "unknown" else None


def unknown_groups(spec: AuditSpec, local: pd.DataFrame) -> pd.DataFrame:
    """Rows collected to the driver with their missing group values as ``'unknown'`` when the
    spec says so, as the local engine's validate stage makes them (object columns of the
    values and ``'unknown'``). Spark's ``fillna('unknown')`` fills text columns only, so a
    number column's missing values reach the driver as missing."""
    present = [c for c in spec.data.sensitive if c in local.columns]
    if missing_group(spec) is None or not present:
        return local
    local = local.copy()
    local[present] = local[present].astype(object).fillna("unknown")
    return local


def require_pyspark() -> None:
    """Raise :class:`SparkUnavailableError` unless pyspark can be imported (nothing starts)."""
    try:
        import pyspark  # noqa: F401
    except ImportError as err:
        raise SparkUnavailableError(
            "data.engine: spark needs pyspark, which is not installed: pip install "
            "'fairgate[spark]' (and a Java runtime, 17 or newer). Nothing was audited."
        ) from err
