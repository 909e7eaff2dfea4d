"""A folder of Parquet files: every file must hold the columns the audit uses.

pyarrow takes a folder's schema from its first file and reads a column that a later file lacks
as missing values, so a file without the label or a sensitive column would be judged as rows
with missing values (or dropped as such). Each file's own columns (its footer, and its hive
partition keys) are read first, and a file lacking a column that the audit uses is refused
naming the column and the file, as the user's path spells it.
"""

from __future__ import annotations

from pathlib import Path

from ._data import DataError
from ._data_files import DataFiles, folder_dataset, folder_files
from ._reading import needed_columns
from ._spec import AuditSpec

__all__ = ["refuse_missing_file_columns"]


def _roles(spec: AuditSpec) -> dict[str, str]:
    """Column -> the spec field that names it."""
    data, model = spec.data, spec.model
    roles: dict[str, str] = {}
    for column, role in [
        *((c, f"data.ranges[{c!r}]") for c in data.ranges),
        (data.cluster_column, "data.cluster_column"),
        (data.id_column, "data.id_column"),
        (getattr(model, "score_column", None), "model.score_column"),
        (getattr(model, "column", None), "model.column"),
        *((c, f"data.sensitive[{i}]") for i, c in enumerate(data.sensitive)),
        (data.label, "data.label"),
    ]:
        if column:
            roles[column] = role  # the most telling role last (the label over a range)
    return roles


def refuse_missing_file_columns(spec: AuditSpec, *, files: DataFiles | None = None) -> None:
    """Raise :class:`DataError` when ``data.path`` is a folder in which some file lacks a
    column that the audit uses (:func:`needed_columns`, or, when the audit reads every
    column, any column another file has) while other files have it. A column no file has is
    left to validation, which reports it as missing for a single file.

    ``files``: the folder's files as the read found them (:func:`audits._data_files.snapshot`;
    default: listed now, refusing what :func:`audits._data_files.folder_files` refuses).
    """
    path = Path(spec.data.path)
    if not path.is_dir():
        return
    import pyarrow.dataset as ds

    listed = files.files if files is not None else folder_files(path)[0]
    try:
        dataset = folder_dataset(path, listed)
        found = [
            (
                fragment.path,
                set(fragment.physical_schema.names)
                | set(ds.get_partition_keys(fragment.partition_expression)),
            )
            for fragment in dataset.get_fragments()
        ]
    except (OSError, ValueError, TypeError) as err:  # pyarrow's reading errors
        raise DataError(f"The data {str(path)!r} cannot be read: {err}") from err
    every = set().union(*(names for _, names in found)) if found else set()
    wanted = needed_columns(spec)
    roles = _roles(spec)
    columns = sorted(every) if wanted is None else [c for c in wanted if c in every]
    for column in sorted(columns, key=lambda c: (c not in roles, c)):
        lacking = [name for name, names in found if column not in names]
        if lacking:
            named = f"named by {roles[column]} " if column in roles else ""
            more = f" and {len(lacking) - 1} other file(s)" if len(lacking) > 1 else ""
            raise DataError(
                f"The data column {column!r} {named}is missing from the file {lacking[0]!r}"
                f"{more} of the folder {str(path)!r} (its other files have it): their rows "
                "cannot be judged. Every file of the folder must have the columns the audit "
                "uses."
            )
