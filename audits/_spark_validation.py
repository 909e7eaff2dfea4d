"""The validate stage on Spark: the same checks as the local engine, computed by Spark.

The Great Expectations suite of :mod:`audits._validation` runs unchanged on Great
Expectations' Spark datasource (same expectations, same results-document entries); the
group shares, the columns each role needs, missing values and the data checks of
:mod:`audits._data_checks` are Spark aggregations whose small results come to the driver.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from reports import count_text

from ._data import DataError, refuse_group_values
from ._data_checks import (
    BOOTSTRAP_MEMORY_LIMIT,
    UnusableDataError,
    bootstrap_bytes,
    check_positive_label,
)
from ._spark_reading import ROW_ID, missing_group
from ._spec import AuditSpec
from ._validation import group_share_result, validate_data

__all__ = ["validate_spark"]


def _level_counts(frame: Any, column: str) -> pd.DataFrame:
    """Rows (``n``) and first row (``first``) per value of ``column`` (missing as ``None``),
    in pandas' ``value_counts`` order: largest first, ties in order of first appearance."""
    from pyspark.sql import functions as sf

    rows = frame.groupBy(column).agg(sf.count("*"), sf.min(ROW_ID)).collect()
    index = pd.Index([r[0] for r in rows], dtype=object)  # None stays None (missing)
    counts = pd.DataFrame({"n": [r[1] for r in rows], "first": [r[2] for r in rows]}, index=index)
    return counts.sort_values(["n", "first"], ascending=[False, True], kind="stable")


def _numbers_as_pandas_reads(frame: Any, levels: dict[str, pd.DataFrame]) -> Any:
    """``frame`` with each integer group column holding missing values as doubles: pandas
    reads such a column as floats (level ``1.0``, not ``1``), and so does the local engine."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import IntegralType

    for field in frame.schema.fields:
        counts = levels.get(field.name)
        if counts is None or not isinstance(field.dataType, IntegralType):
            continue
        if any(v is None for v in counts.index):
            frame = frame.withColumn(field.name, sf.col(field.name).cast("double"))
    return frame


def _unknown(counts: pd.DataFrame, fill: str) -> pd.DataFrame:
    """Level counts with the missing values (a number column's: Spark fills text columns
    only) as the ``fill`` level, the group the local engine judges them as."""
    if not any(v is None for v in counts.index):
        return counts
    counts = counts.copy()
    counts.index = pd.Index([fill if v is None else v for v in counts.index], dtype=object)
    return counts


def _group_shares(spec: AuditSpec, levels: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """The group-share entries of :mod:`audits._validation`, from the level counts."""
    bound = spec.data.min_group_share
    if bound <= 0:
        return []
    out = []
    for column, counts in levels.items():
        named = counts.rename(index=lambda v: "unknown" if pd.isna(v) else v)
        named = named.groupby(level=0, sort=False).agg({"n": "sum", "first": "min"})
        named = named.sort_values(["n", "first"], ascending=[False, True], kind="stable")
        shares = named["n"] / named["n"].sum()
        out.append(group_share_result(spec, column, shares.idxmin(), shares.to_numpy()))
    return out


def _roles(spec: AuditSpec) -> dict[str, str]:
    roles = {
        "data.label": spec.data.label,
        **{f"data.sensitive[{i}]": c for i, c in enumerate(spec.data.sensitive)},
    }
    if getattr(spec.model, "column", None):
        roles["model.column"] = spec.model.column  # type: ignore[union-attr]
    if spec.data.cluster_column:
        roles["data.cluster_column"] = spec.data.cluster_column
    return roles


def _require_columns(frame: Any, spec: AuditSpec, levels: dict[str, pd.DataFrame]) -> None:
    """Every role's column present and complete; no '|' in a sensitive value (one job)."""
    from pyspark.sql import functions as sf

    roles = _roles(spec)
    for role, column in roles.items():
        if column not in frame.columns:
            shown = [c for c in frame.columns if c != ROW_ID]
            raise DataError(
                f"The data column {column!r} named by {role} is missing. The data has the "
                f"columns {shown}."
            )
    nulls = frame.agg(
        *[sf.sum(sf.col(c).isNull().cast("long")).alias(c) for c in dict.fromkeys(roles.values())]
    ).collect()[0]
    filled = set(spec.data.sensitive) if missing_group(spec) is not None else set()
    for role, column in roles.items():
        if nulls[column] and not (role.startswith("data.sensitive") and column in filled):
            raise DataError(
                f"The data column {column!r} ({role}) has {count_text(nulls[column])} missing "
                "values."
            )
        if role.startswith("data.sensitive"):
            refuse_group_values(column, list(levels[column].index))


def _check_data(spec: AuditSpec, frame: Any, levels: dict[str, pd.DataFrame], rows: int) -> None:
    """:func:`audits._data_checks.check_data`, from counts Spark made."""
    labels = [r[0] for r in frame.select(spec.data.label).distinct().collect()]
    check_positive_label(spec, pd.Series(labels, dtype=object))
    counts = [len(levels[c]) for c in spec.data.sensitive]
    groups, classes = math.prod(counts), sum(v is not None for v in labels)
    need = bootstrap_bytes(spec.n_boot, groups, classes)
    if need > BOOTSTRAP_MEMORY_LIMIT:
        per = ", ".join(f"{c}: {n}" for c, n in zip(spec.data.sensitive, counts, strict=True))
        raise UnusableDataError(
            f"n_boot = {spec.n_boot:,} replicates of {groups:,} intersectional groups ({per}) "
            f"and {classes} label values would need about {need / 2**30:.1f} GiB, more than "
            f"the {BOOTSTRAP_MEMORY_LIMIT / 2**30:.0f} GiB allowed. Lower n_boot, or audit "
            "fewer or coarser sensitive attributes."
        )
    limit = max(2, rows // spec.data.min_group_size)
    for column in spec.data.sensitive:
        n_levels = int(sum(v is not None for v in levels[column].index))
        if n_levels > limit:
            raise UnusableDataError(
                f"The sensitive column {column!r} has {count_text(n_levels)} distinct values in "
                f"{count_text(rows)} rows: more than the {limit} groups of at least "
                f"data.min_group_size ({spec.data.min_group_size}) rows the data can hold. It "
                "looks like an "
                "identifier or a raw value (bin it, e.g. into age bands): refused, since its "
                "groups could not be judged and would name single people."
            )


def validate_spark(
    spec: AuditSpec, frame: Any, *, show: bool, keep: Callable[[dict[str, Any]], None]
) -> tuple[Any, int]:
    """Validate the Spark DataFrame as :func:`audits._runner._validate` validates a frame.

    ``keep`` receives the validation entry of the results document (kept even when it
    fails). Returns the DataFrame to audit (missing sensitive values as ``'unknown'`` when the
    spec says so) and its number of rows. Raises
    :class:`~audits._data.DataError` or :class:`~audits._data_checks.UnusableDataError`.
    """
    rows = frame.count()
    if rows == 0:
        raise DataError("The audit data have no rows: there is nothing to audit.")
    present = [c for c in spec.data.sensitive if c in frame.columns]
    levels = {c: _level_counts(frame, c) for c in present}
    validation = validate_data(
        spec, frame.drop(ROW_ID), show=show, group_shares=_group_shares(spec, levels)
    )
    keep(validation)
    if not validation["success"]:
        failed = [
            f"{r['expectation']}({r['column'] or ''})"
            for r in validation["results"]
            if not r["success"] and r["severity"] == "error"
        ]
        raise DataError(f"{len(failed)} data expectation(s) failed: {', '.join(failed)}.")
    fill = missing_group(spec)
    if fill is not None:
        frame = _numbers_as_pandas_reads(frame.fillna(fill, subset=present), levels)
        levels = {c: _unknown(_level_counts(frame, c), fill) for c in present}
    _require_columns(frame, spec, levels)
    _check_data(spec, frame, levels, rows)
    return frame, rows
