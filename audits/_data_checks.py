"""Checks of the audit data that only the data can answer, made before any model runs.

* The label's values must include ``positive_label`` (binary labels, or a positive label the
  spec sets): otherwise every rate would count nothing and every group would look "equal".
* The bootstrap of the count table must fit in memory: ``n_boot`` replicates of every
  intersection of the sensitive attributes, estimated before they are drawn.

Both raise :class:`UnusableDataError` (the audit ends with the verdict ``error``, exit code 2).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from reports import count_text

from ._spec import AuditSpec
from ._spec_rules import describe_values, same_value, type_hint

__all__ = [
    "BOOTSTRAP_MEMORY_LIMIT",
    "UnusableDataError",
    "bootstrap_bytes",
    "check_data",
    "refuse_bootstrap_memory",
    "refuse_identifiers",
]

#: The most memory the bootstrap of the count table may take (bytes).
BOOTSTRAP_MEMORY_LIMIT = 2 << 30


class UnusableDataError(ValueError):
    """The audit data cannot be audited as the spec asks (one readable sentence)."""


def check_positive_label(spec: AuditSpec, labels: pd.Series) -> None:
    """The label's values include the positive label (for binary labels or when set)."""
    present = [v for v in pd.unique(labels.dropna())]
    explicit = "positive_label" in spec.data.model_fields_set
    positive = spec.data.positive_label
    if not (len(present) <= 2 or explicit):
        return  # multiclass: rates are one-vs-rest per class, the positive label is unused
    if any(same_value(positive, v) for v in present):
        return
    default = "" if explicit else " (data.positive_label defaults to 1)"
    raise UnusableDataError(
        f"data.positive_label {positive!r}{default} is not among the values of the label "
        f"column {spec.data.label!r}: {describe_values(present)}. Set data.positive_label to "
        f"the favourable outcome as the data write it.{type_hint(positive, present)}"
    )


def bootstrap_bytes(n_boot: int, n_groups: int, n_classes: int) -> int:
    """Estimated peak memory of bootstrapping a count table (measured: replicates, rates)."""
    return n_boot * n_groups * (32 * max(n_classes, 2) ** 2 + 400)


def check_bootstrap_memory(
    spec: AuditSpec, frame: pd.DataFrame, *, limit: int = BOOTSTRAP_MEMORY_LIMIT
) -> None:
    """Refuse, before drawing them, bootstrap replicates that would not fit in ``limit``."""
    levels = [int(frame[c].nunique(dropna=False)) for c in spec.data.sensitive]
    refuse_bootstrap_memory(spec, levels, int(frame[spec.data.label].nunique()), limit=limit)


def refuse_bootstrap_memory(
    spec: AuditSpec, levels: list[int], classes: int, *, limit: int = BOOTSTRAP_MEMORY_LIMIT
) -> None:
    """:func:`check_bootstrap_memory` from the level count of each sensitive column and the
    number of label values (as a streamed log knows them)."""
    groups = math.prod(levels)
    need = bootstrap_bytes(spec.n_boot, groups, classes)
    if need > limit:
        per = ", ".join(f"{c}: {n}" for c, n in zip(spec.data.sensitive, levels, strict=True))
        raise UnusableDataError(
            f"n_boot = {spec.n_boot:,} replicates of {groups:,} intersectional groups ({per}) "
            f"and {classes} label values would need about {need / 2**30:.1f} GiB, more than "
            f"the {limit / 2**30:.0f} GiB allowed. Lower n_boot, or audit fewer or coarser "
            "sensitive attributes."
        )


def check_not_identifiers(spec: AuditSpec, frame: pd.DataFrame) -> None:
    """A sensitive attribute whose average group is below ``min_group_size`` (an id, a date,
    a free-text column) is refused: most of its groups could not be judged, and listing them
    would name single people."""
    levels = [int(frame[c].nunique(dropna=True)) for c in spec.data.sensitive]
    refuse_identifiers(spec, len(frame), levels)


def refuse_identifiers(spec: AuditSpec, rows: int, levels: list[int]) -> None:
    """:func:`check_not_identifiers` from the row count and each sensitive column's levels."""
    limit = max(2, rows // spec.data.min_group_size)
    for column, n_levels in zip(spec.data.sensitive, levels, strict=True):
        if n_levels > limit:
            raise UnusableDataError(
                f"The sensitive column {column!r} has {count_text(n_levels)} distinct values "
                f"in {count_text(rows)} rows: more than the {limit} groups of at least "
                f"data.min_group_size ({spec.data.min_group_size}) rows the data can hold. It "
                "looks like an identifier or a raw value (bin it, e.g. into age bands): "
                "refused, since its groups could not be judged and would name single people."
            )


def check_data(spec: AuditSpec, frame: pd.DataFrame, **kwargs: Any) -> None:
    """Every check above, in order; raises :class:`UnusableDataError`."""
    check_positive_label(spec, frame[spec.data.label])
    check_bootstrap_memory(spec, frame, **kwargs)
    check_not_identifiers(spec, frame)
