"""A Great Expectations suite as plain data, and its run on one frame.

The suite of an audit (:func:`audits._validation.suite_items`) is a list of
:class:`ExpectationItem`: an expectation's snake-case name and arguments with fairgate's kind
and severity. Nothing here needs Great Expectations until :func:`run_suite` runs the items, in
this process or in the validation worker (:mod:`audits._gx_worker`), which calls the same
function: both give the same results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ._gx_import import great_expectations

__all__ = ["ExpectationItem", "UnknownExpectationError", "run_suite"]

#: What a result keeps of Great Expectations' observations (aggregates only, never rows).
_KEEP = (
    "observed_value",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
)


class UnknownExpectationError(ValueError):
    """The spec names an expectation Great Expectations does not have."""


@dataclass(frozen=True)
class ExpectationItem:
    """One expectation of the suite.

    Attributes
    ----------
    kind : str
        fairgate's name for what it checks (``columns``, ``label_values``, ``named``, ...).
    expectation : str
        Great Expectations' snake-case name, e.g. ``expect_column_values_to_be_in_set``.
    kwargs : dict
        Its arguments.
    severity : str
        ``error`` (a failure stops the audit) or ``warning``.
    """

    kind: str
    expectation: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: str = "error"


def _expectation_class(gx: Any, snake: str) -> Any:
    """GE's public expectation class registered under the snake-case name (GE's registry, as
    names like ``expect_column_kl_divergence_to_be_less_than`` do not capitalise by rule), or
    None."""
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        cls = get_expectation_impl(snake)
    except ExpectationNotFoundError:
        return None
    return cls if getattr(gx.expectations, cls.__name__, None) is cls else None


def _expectation(gx: Any, item: ExpectationItem) -> Any:
    cls = _expectation_class(gx, item.expectation)
    if cls is None:
        raise UnknownExpectationError(
            f"data.expectations names {item.expectation!r}, which Great Expectations does not have."
        )
    expectation = cls(**item.kwargs)
    expectation.meta = {
        **(expectation.meta or {}),
        "fairgate_kind": item.kind,
        "fairgate_severity": item.severity,
    }
    return expectation


def run_suite(
    frame: Any, items: list[ExpectationItem], *, name: str, show: bool = False
) -> list[dict[str, Any]]:
    """Validate ``frame`` (pandas, or a Spark DataFrame) against ``items`` with Great
    Expectations in this process; one result per item, in order, aggregates only.

    Parameters
    ----------
    frame : pandas.DataFrame or pyspark.sql.DataFrame
        The rows to validate.
    items : list of ExpectationItem
        The suite.
    name : str
        The suite's name.
    show : bool, default False
        Show Great Expectations' progress bars.

    Raises
    ------
    UnknownExpectationError
        An item names an expectation Great Expectations does not have.
    """
    gx = great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")  # before the suite: GE needs it active
    context.variables.progress_bars = ProgressBarsConfig(globally=show, metric_calculations=show)
    suite = gx.ExpectationSuite(name=name)
    for item in items:
        suite.add_expectation(_expectation(gx, item))
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
    outcome = batch.validate(suite, result_format="SUMMARY")
    return [_result(r) for r in outcome.results]


def _result(r: Any) -> dict[str, Any]:
    config = r.expectation_config
    meta = config.meta or {}
    failure = (
        {"exception": re.sub(r"\s+", " ", str(r.exception_info.get("exception_message", "")))[:300]}
        if not r.success and r.exception_info and r.exception_info.get("raised_exception")
        else {}
    )
    return {
        "kind": meta.get("fairgate_kind", "named"),
        "expectation": config.type,
        "column": config.kwargs.get("column"),
        "kwargs": {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "column")},
        "success": bool(r.success),
        "severity": meta.get("fairgate_severity", "error"),
        **{k: r.result[k] for k in _KEEP if k in r.result},
        **failure,
    }
