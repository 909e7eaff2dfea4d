"""Validation and decision checks of a streamed decision log (see :mod:`audits._streaming`).

The in-memory path validates every row with Great Expectations. On the streaming path Great
Expectations validates the first :data:`~audits._streaming.SAMPLE_ROWS` rows (its expectation
names and observed values stay in the results); every expectation that concerns all rows
(label and decision values in their set, sensitive columns without missing values, declared
ranges, unique integer ids) and each group's share are then recomputed over every row from
the sums of the stream, and the result says which rows each one covered (``rows_checked``).
Refusals are those of the in-memory path, with the same messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models_under_test import PredictionError
from reports import count_of, count_text

from ._data import DataError, _require_columns, refuse_group_values
from ._data_checks import (
    check_positive_label,
    refuse_bootstrap_memory,
    refuse_identifiers,
)
from ._decisions import _check_decisions
from ._spec import AuditSpec
from ._streaming import Streamed
from ._validation import group_share_result, validate_data

__all__ = ["check_stream_decisions", "refuse_stream", "validate_stream"]


def _unexpected(values: dict[Any, int], allowed: list[Any]) -> int:
    keep = set(allowed)
    return sum(n for v, n in values.items() if v not in keep)


def _every_row(
    result: dict[str, Any], unexpected: int, rows: int, missing: int | None = None
) -> None:
    result.pop("missing_count", None)  # the sample's: replaced when known for every row
    if missing is not None:
        result["missing_count"] = missing
    result.update(
        success=unexpected == 0,
        element_count=rows,
        unexpected_count=unexpected,
        unexpected_percent=100.0 * unexpected / rows if rows else 0.0,
        rows_checked="every row",
    )


def _group_shares(spec: AuditSpec, streamed: Streamed) -> list[dict[str, Any]]:
    """Each sensitive column's smallest group share, from the count table (every row)."""
    table = streamed.table
    out = []
    for i, column in enumerate(table.attributes):
        n = table.counts.sum(axis=tuple(j for j in range(table.counts.ndim) if j != i))
        shares = n / max(int(n.sum()), 1)
        smallest = table.levels[i][int(np.argmin(shares))]
        out.append(group_share_result(spec, column, smallest, shares, rows_checked="every row"))
    return out


def validate_stream(
    spec: AuditSpec, streamed: Streamed, *, show: bool, worker: Any = None
) -> dict[str, Any]:
    """Great Expectations on the sample (in the validation ``worker`` when given), then the
    every-row checks: the validation record (refusals: :func:`refuse_stream`)."""
    data = spec.data
    validation = validate_data(spec, streamed.sample, show=show, worker=worker)
    results = []
    for r in validation["results"]:
        kind, column = r["kind"], r.get("column")
        r = {**r, "rows_checked": f"the first {len(streamed.sample):,} rows"}
        if kind == "group_share" and streamed.batches:
            continue  # recomputed below from every row
        if kind == "label_values" and column in streamed.values:
            _every_row(
                r, _unexpected(streamed.values[column].counts, data.label_values), streamed.rows
            )
        elif kind == "decision_values" and column in streamed.values:
            _every_row(
                r,
                _unexpected(streamed.values[column].counts, r["kwargs"]["value_set"]),
                streamed.rows,
            )
        elif kind == "sensitive_missing" and column in streamed.missing:
            _every_row(r, streamed.missing[column], streamed.rows, streamed.missing[column])
        elif kind == "ranges" and column in streamed.ranges:
            _every_row(r, streamed.ranges[column][2], streamed.rows)
        elif kind == "unique_id" and streamed.ids is not None and streamed.ids.checked:
            _every_row(r, streamed.ids.unexpected, streamed.rows)
        elif kind == "unique_id" and streamed.ids is not None:
            r["rows_checked"] += f" ({streamed.ids.reason})"
        results.append(r)
    if streamed.batches:
        results += _group_shares(spec, streamed)
    failed = [r for r in results if not r["success"] and r["severity"] == "error"]
    validation = {
        "success": not failed,
        "results": results,
        "failed_errors": len(failed),
        "rows": streamed.rows,
        "great_expectations_rows": len(streamed.sample),
        "streamed": (
            "Great Expectations validated the first rows; label and decision values, missing "
            "sensitive values, ranges, unique integer ids and group shares were recomputed "
            "over every row (rows_checked says which rows each result covers)."
        ),
    }
    return validation


def refuse_stream(spec: AuditSpec, streamed: Streamed, validation: dict[str, Any]) -> None:
    """The in-memory path's refusals (failed expectations, columns, missing values, '|' in
    group values, positive label, bootstrap memory, identifier-like sensitive columns); raises
    :class:`~audits.DataError` (or ``UnusableDataError``) as the validate stage does."""
    data = spec.data
    decision = getattr(spec.model, "column", None)
    failed = [r for r in validation["results"] if not r["success"] and r["severity"] == "error"]
    if failed:
        names = [f"{r['expectation']}({r['column'] or ''})" for r in failed]
        raise DataError(f"{len(names)} data expectation(s) failed: {', '.join(names)}.")
    roles = {
        "data.label": data.label,
        **{f"data.sensitive[{i}]": c for i, c in enumerate(data.sensitive)},
        "model.column": decision,
    }
    _require_columns(streamed.sample.head(0), roles)  # every column the audit reads exists
    for role, column in roles.items():
        missing = streamed.values[column].missing if column in streamed.values else 0
        if role.startswith("data.sensitive") and data.missing_sensitive == "error":
            missing = streamed.missing.get(column, 0)
        if missing:
            raise DataError(
                f"The data column {column!r} ({role}) has {count_text(missing)} missing values."
            )
    for column, levels in zip(streamed.table.attributes, streamed.table.levels, strict=True):
        refuse_group_values(column, levels)
    labels = pd.Series(list(streamed.values[data.label].counts), dtype=object)
    check_positive_label(spec, labels)
    table = streamed.table
    refuse_bootstrap_memory(spec, [len(lv) for lv in table.levels], len(labels))
    refuse_identifiers(spec, streamed.rows, [len(lv) for lv in table.levels])


def check_stream_decisions(spec: AuditSpec, streamed: Streamed) -> None:
    """The decide stage's refusals: scores that are not probabilities, decisions that are
    not among the label's values."""
    score = getattr(spec.model, "score_column", None)
    bad, examples = streamed.bad_scores
    if score and bad:
        raise PredictionError(
            f"The score column {score!r} holds {count_of(bad, streamed.rows)} values that are "
            "not probabilities "
            f"(missing, or outside [0, 1]), e.g. {examples}: refused."
        )
    decision = spec.model.column  # type: ignore[union-attr]
    decisions = np.array(list(streamed.values[decision].counts), dtype=object)
    _check_decisions(decisions, pd.Series(list(streamed.values[spec.data.label].counts)))
