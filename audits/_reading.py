"""Arrow-native reading of the audit data: only the columns the audit uses.

A decision log (``model.kind: predictions``) audited by group-metric and score-metric checks
only needs its label, decision, score, sensitive, id, cluster and range columns: pyarrow reads
those from a Parquet file and nothing else, the sensitive columns as dictionaries, which become
pandas categoricals (their categories in sorted order, unused ones dropped), so the group codes
are the dictionary's indices rather than a factorization of Python strings. Every other audit
(a model needs its features; explanation and robustness checks need the rows; named Great
Expectations may name any column) reads every column, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._spec import AuditSpec

__all__ = ["float_groups_decoded", "needed_columns", "read_parquet_columns"]

_ROW_CHECKS = ("group_metric", "score_metric", "impact_ratio", "prohibited_use", "requirement")


def needed_columns(spec: AuditSpec) -> list[str] | None:
    """The columns the audit reads, or ``None`` when it needs every column."""
    data = spec.data
    if spec.model.kind != "predictions" or data.media is not None or data.expectations:
        return None
    if any(check.type not in _ROW_CHECKS for check in spec.checks):
        return None
    model = spec.model
    columns = [
        data.label,
        *data.sensitive,
        getattr(model, "column", None),
        getattr(model, "score_column", None),
        data.id_column,
        data.cluster_column,
        *data.ranges,
    ]
    return list(dict.fromkeys(c for c in columns if c))


def _sorted_categories(series: pd.Series) -> pd.Series:
    """A categorical with only its observed categories, in sorted order (as factorizing the
    values with ``sort=True`` orders them); the codes are remapped, never the values."""
    categories = series.cat.categories
    codes = series.cat.codes.to_numpy()
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(categories)))
    try:
        order = sorted(range(len(used)), key=lambda i: categories[used[i]])
    except TypeError:  # categories of mixed types: keep them as plain values
        return series.astype(object)
    remap = np.full(len(categories) + 1, -1, dtype=np.int64)  # the last slot: missing (-1)
    remap[used[order]] = np.arange(len(used))
    return pd.Series(
        pd.Categorical.from_codes(remap[codes], categories=categories[used[order]]),
        index=series.index,
        name=series.name,
    )


def float_groups_decoded(table: Any) -> Any:
    """``table`` with each dictionary-of-floats column as plain floats: pandas cannot make a
    category of NaN (the conversion failed), and as floats a NaN is a missing value, as in a
    float column (the stream reads them alike: :func:`audits._stream_values.nan_as_missing`)."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) and pa.types.is_floating(field.type.value_type):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
    return table


def read_parquet_columns(path: Path, spec: AuditSpec) -> pd.DataFrame:
    """Read the columns of :func:`needed_columns` that the Parquet file has.

    Columns the spec names but the file lacks are left out (validation then reports them, as
    it does for a full read); sensitive string columns come as sorted categoricals.
    """
    import pyarrow.parquet as pq

    wanted = needed_columns(spec)
    names = pq.read_schema(path).names
    columns = names if wanted is None else [c for c in names if c in set(wanted)]
    sensitive = [c for c in spec.data.sensitive if c in columns]
    table = float_groups_decoded(pq.read_table(path, columns=columns, read_dictionary=sensitive))
    frame = table.to_pandas()
    for column in sensitive:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = _sorted_categories(frame[column])
    return frame
