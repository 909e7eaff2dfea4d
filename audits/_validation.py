"""Data validation with Great Expectations, before any metric is computed.

The suite is built from the spec: required columns present; label (and logged decision)
values in their declared set; sensitive columns without missing values (or, with
``missing_sensitive: unknown``, missing values counted as their own group); declared numeric
ranges; unique ids; and any expectation the spec names. Each group's share of the data is
checked here too (Great Expectations has no expectation for category shares). Results keep
aggregates only (observed values, unexpected counts), never the unexpected rows' contents.

Great Expectations is imported only when an audit runs, off its critical path
(see :mod:`audits._gx_import`).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ._gx_import import great_expectations
from ._spec import AuditSpec

__all__ = ["validate_data"]

_KEEP = (
    "observed_value",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
)


def _class_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _suite(spec: AuditSpec, columns: list[str]) -> list[tuple[str, Any, str]]:
    """(validation kind, expectation, severity) for the spec; imports gx lazily."""
    gx = great_expectations()

    x = gx.expectations
    data = spec.data
    warn = set(data.warn_only)

    def sev(kind: str) -> str:
        return "warning" if kind in warn else "error"

    decision = getattr(spec.model, "column", None)
    required = [
        data.label,
        *data.sensitive,
        *([decision] if decision else []),
        *data.ranges,
        *([data.id_column] if data.id_column else []),
    ]
    out: list[tuple[str, Any, str]] = [
        ("columns", x.ExpectColumnToExist(column=c), sev("columns"))
        for c in dict.fromkeys(required)
    ]
    present = set(columns)
    if data.label_values is not None and data.label in present:
        out.append(
            (
                "label_values",
                x.ExpectColumnValuesToBeInSet(column=data.label, value_set=list(data.label_values)),
                sev("label_values"),
            )
        )
        if decision and decision in present:
            # A log with its own codes (model.decision_values) is checked against those codes.
            codes = getattr(spec.model, "decision_values", None)
            out.append(
                (
                    "decision_values",
                    x.ExpectColumnValuesToBeInSet(
                        column=decision, value_set=list(codes or data.label_values)
                    ),
                    sev("decision_values"),
                )
            )
    if data.missing_sensitive == "error":
        out += [
            (
                "sensitive_missing",
                x.ExpectColumnValuesToNotBeNull(column=c),
                sev("sensitive_missing"),
            )
            for c in data.sensitive
            if c in present
        ]
    for column, (low, high) in data.ranges.items():
        if column in present:
            out.append(
                (
                    "ranges",
                    x.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high),
                    sev("ranges"),
                )
            )
    if data.id_column and data.id_column in present:
        out.append(
            ("unique_id", x.ExpectColumnValuesToBeUnique(column=data.id_column), sev("unique_id"))
        )
    for named in data.expectations:
        cls = getattr(x, _class_name(named.expectation), None)
        if cls is None:
            raise ValueError(
                f"data.expectations names {named.expectation!r}, which Great "
                "Expectations does not have."
            )
        out.append(("named", cls(**named.kwargs), named.severity))
    return out


def _group_shares(spec: AuditSpec, frame: pd.DataFrame) -> list[dict[str, Any]]:
    results = []
    bound = spec.data.min_group_share
    if bound <= 0:
        return results
    for column in spec.data.sensitive:
        if column not in frame.columns:
            continue
        shares = frame[column].fillna("unknown").value_counts(normalize=True)
        results.append(group_share_result(spec, column, shares.idxmin(), shares.to_numpy()))
    return results


def group_share_result(
    spec: AuditSpec, column: str, smallest: Any, shares: Any, **extra: Any
) -> dict[str, Any]:
    """The ``group_share`` validation result of one sensitive column, from its groups'
    shares of the rows (the same entry whichever engine counted them).

    Parameters
    ----------
    spec : AuditSpec
        The audit spec (``data.min_group_share``, ``data.warn_only``).
    column : str
        The sensitive column.
    smallest : object
        The value of the column's smallest group.
    shares : array-like of float
        Every group's share of the rows.
    **extra
        Further keys of the result (e.g. ``rows_checked``).
    """
    shares = np.asarray(shares, dtype=float)
    bound = spec.data.min_group_share
    return {
        "kind": "group_share",
        "expectation": "fairgate_group_share_at_least",
        "column": column,
        "kwargs": {"min_share": bound},
        "success": bool(shares.min() >= bound),
        "severity": "warning" if "group_share" in spec.data.warn_only else "error",
        "observed_value": {
            "smallest_group": f"{column}={smallest}",
            "share": round(float(shares.min()), 6),
        },
        "unexpected_count": int((shares < bound).sum()),
        **extra,
    }


def validate_data(
    spec: AuditSpec,
    frame: pd.DataFrame,
    *,
    show: bool = False,
    group_shares: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Validate the audit data; return ``{'success', 'results', 'failed_errors'}``.

    ``success`` is false when any error-severity expectation failed; warnings never fail.
    ``frame`` may be a Spark DataFrame (``data.engine: spark``): the same suite then runs on
    Great Expectations' Spark datasource, and ``group_shares`` are the group-share entries
    computed by Spark (see :mod:`audits._spark_validation`).
    """
    gx = great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=show, metric_calculations=show)
    batch = (
        (
            context.data_sources.add_spark("fairgate")
            if hasattr(frame, "sparkSession")  # a Spark DataFrame
            else context.data_sources.add_pandas("fairgate")
        )
        .add_dataframe_asset("audit_data")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name=f"fairgate-{spec.name}")
    for kind, expectation, severity in _suite(spec, list(frame.columns)):
        expectation.meta = {
            **(expectation.meta or {}),
            "fairgate_kind": kind,
            "fairgate_severity": severity,
        }
        suite.add_expectation(expectation)
    outcome = batch.validate(suite, result_format="SUMMARY")
    results = []
    for r in outcome.results:
        config = r.expectation_config
        meta = config.meta or {}
        kind, severity = meta.get("fairgate_kind", "named"), meta.get("fairgate_severity", "error")
        kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "column")}
        results.append(
            {
                "kind": kind,
                "expectation": config.type,
                "column": config.kwargs.get("column"),
                "kwargs": kwargs,
                "success": bool(r.success),
                "severity": severity,
                **{k: r.result[k] for k in _KEEP if k in r.result},
                **(
                    {
                        "exception": re.sub(
                            r"\s+", " ", str(r.exception_info.get("exception_message", ""))
                        )[:300]
                    }
                    if not r.success
                    and r.exception_info
                    and r.exception_info.get("raised_exception")
                    else {}
                ),
            }
        )
    results += _group_shares(spec, frame) if group_shares is None else group_shares
    failed = [r for r in results if not r["success"] and r["severity"] == "error"]
    return {"success": not failed, "results": results, "failed_errors": len(failed)}
