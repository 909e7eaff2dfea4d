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

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._gx_suite import ExpectationItem, run_suite
from ._spec import AuditSpec

if TYPE_CHECKING:
    from ._gx_worker import GXWorker

__all__ = ["submit_validation", "suite_items", "validate_data"]


def suite_items(spec: AuditSpec, columns: list[str]) -> list[ExpectationItem]:
    """The spec's expectation suite for data with ``columns``, as plain data (nothing here
    imports Great Expectations; :func:`~audits._gx_suite.run_suite` runs it)."""
    data = spec.data
    warn = set(data.warn_only)

    def item(kind: str, expectation: str, **kwargs: Any) -> ExpectationItem:
        severity = "warning" if kind in warn else "error"
        return ExpectationItem(kind, f"expect_{expectation}", kwargs, severity)

    decision = getattr(spec.model, "column", None)
    required = [
        data.label,
        *data.sensitive,
        *([decision] if decision else []),
        *data.ranges,
        *([data.id_column] if data.id_column else []),
    ]
    out = [item("columns", "column_to_exist", column=c) for c in dict.fromkeys(required)]
    present = set(columns)
    if data.label_values is not None and data.label in present:
        out.append(
            item(
                "label_values",
                "column_values_to_be_in_set",
                column=data.label,
                value_set=list(data.label_values),
            )
        )
        if decision and decision in present:
            # A log with its own codes (model.decision_values) is checked against those codes.
            codes = getattr(spec.model, "decision_values", None)
            out.append(
                item(
                    "decision_values",
                    "column_values_to_be_in_set",
                    column=decision,
                    value_set=list(codes or data.label_values),
                )
            )
    if data.missing_sensitive == "error":
        out += [
            item("sensitive_missing", "column_values_to_not_be_null", column=c)
            for c in data.sensitive
            if c in present
        ]
    for column, (low, high) in data.ranges.items():
        if column in present:
            out.append(
                item(
                    "ranges",
                    "column_values_to_be_between",
                    column=column,
                    min_value=low,
                    max_value=high,
                )
            )
    if data.id_column and data.id_column in present:
        out.append(item("unique_id", "column_values_to_be_unique", column=data.id_column))
    out += [
        ExpectationItem("named", named.expectation, dict(named.kwargs), named.severity)
        for named in data.expectations
    ]
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


def _suite_name(spec: AuditSpec) -> str:
    return f"fairgate-{spec.name}"


def submit_validation(spec: AuditSpec, frame: pd.DataFrame, worker: GXWorker | None) -> None:
    """Have the validation ``worker`` start on ``frame`` now (see :meth:`GXWorker.submit`);
    :func:`validate_data` of the same frame then collects its results.

    Only a head start: when it cannot start (no worker, a suite that cannot be built), nothing
    is raised here, and :func:`validate_data` validates, or fails, in its own stage.
    """
    if worker is None:
        return
    try:
        worker.submit(frame, suite_items(spec, list(frame.columns)), name=_suite_name(spec))
    except Exception:  # the validate stage builds the suite again and says why
        return


def validate_data(
    spec: AuditSpec,
    frame: pd.DataFrame,
    *,
    show: bool = False,
    group_shares: list[dict[str, Any]] | None = None,
    worker: GXWorker | None = None,
) -> dict[str, Any]:
    """Validate the audit data; return ``{'success', 'results', 'failed_errors'}``.

    ``success`` is false when any error-severity expectation failed; warnings never fail.
    ``frame`` may be a Spark DataFrame (``data.engine: spark``): the same suite then runs on
    Great Expectations' Spark datasource, and ``group_shares`` are the group-share entries
    computed by Spark (see :mod:`audits._spark_validation`). With a ``worker`` (a pandas
    frame only), the suite runs in that validation process instead of this one.
    """
    items = suite_items(spec, list(frame.columns))
    name = _suite_name(spec)
    if worker is not None:
        results = worker.run_suite(frame, items, name=name)
    else:
        results = run_suite(frame, items, name=name, show=show)
    results += _group_shares(spec, frame) if group_shares is None else group_shares
    failed = [r for r in results if not r["success"] and r["severity"] == "error"]
    return {"success": not failed, "results": results, "failed_errors": len(failed)}
