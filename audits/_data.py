"""The audit data: read it, refuse what cannot be audited, and say what the model is given.

Relative ``data.path`` resolves against the working directory; media paths in a manifest
resolve against the manifest's folder. Every refusal raises :class:`DataError` (the audit ends
with the verdict ``error``, exit code 2).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from models_under_test import MediaBatches, MediaError, survey_media
from reports import count_text

from ._spec import AuditSpec

__all__ = ["DataError", "refuse_group_values", "refuse_lookalikes"]

BATCH_ROWS = 50_000


class DataError(RuntimeError):
    """The audit data cannot be used as the spec describes it."""


def _not_empty(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if frame.empty:
        raise DataError(
            f"The data file {str(path)!r} has no rows (columns: {list(frame.columns)}): there "
            "is nothing to audit."
        )
    return frame


def _refuse_duplicate_header(path: Path) -> None:
    """pandas renames a repeated CSV column (``group``, ``group.1``) without a word, so the
    audit could judge the wrong one: a header that names a column twice is refused."""
    import csv

    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    seen = [name for i, name in enumerate(header) if name in header[:i]]
    if seen:
        raise DataError(
            f"The data file {str(path)!r} names the column(s) {sorted(set(seen))} more than "
            "once in its header: which one is meant cannot be known. Rename them."
        )


def as_written(frame: pd.DataFrame, path: Path, columns: list[str]) -> pd.DataFrame:
    """``frame`` (read from the CSV file ``path``) with each of ``columns`` that pandas read as
    booleans re-read as its text, unless it was written ``True``/``False`` (what the booleans
    print as): pandas reads ``TRUE``, ``True`` and ``true`` alike, which merged groups written
    differently, also across the files of a log."""
    from pandas.api.types import is_bool_dtype

    def boolean(column: str) -> bool:
        values = frame[column]
        if is_bool_dtype(values.dtype):
            return True
        return values.dtype == object and any(isinstance(v, bool) for v in values.dropna())

    read = [c for c in dict.fromkeys(columns) if c in frame.columns and boolean(c)]
    if not read:
        return frame
    text = pd.read_csv(path, usecols=read, dtype=str)
    merged = [c for c in read if not set(text[c].dropna()) <= {"True", "False"}]
    if merged:
        frame = frame.assign(**{c: text[c].to_numpy() for c in merged})
    return frame


def _read_data(path: Path, *, text: list[str] | None = None) -> pd.DataFrame:
    """The data file at ``path``; the ``text`` columns of a CSV file as written
    (:func:`as_written`)."""
    try:
        if path.suffix.lower() == ".csv":
            _refuse_duplicate_header(path)
            frame = as_written(pd.read_csv(path), path, text or [])
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"The data file {str(path)!r} is empty: it has no rows.") from err
    except Exception as err:
        raise DataError(f"The data file {str(path)!r} cannot be read: {err}") from err
    return _not_empty(frame, path)


def _printed(value: Any) -> str:
    """A group value as a reader sees it: compatibility forms folded, invisible (format)
    characters dropped, runs of spaces as one, no space around."""
    import unicodedata

    text = unicodedata.normalize("NFKC", str(value))
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return " ".join(text.split())


def refuse_lookalikes(column: str, levels: Any) -> None:
    """Refuse a sensitive column two of whose values print alike ('a' and 'a ', 1 and '1',
    a composed and a decomposed 'é'): they would be judged, and shown, as two groups that a
    reader cannot tell apart (one data-entry slip splits a group).

    Raises
    ------
    DataError
        Naming the first two values that print alike.
    """
    seen: dict[str, Any] = {}
    for value in levels:
        if value is None or (isinstance(value, float) and value != value):
            continue
        key = _printed(value)
        if key in seen:  # the levels are distinct values
            raise DataError(
                f"The sensitive column {column!r} has values that print alike but differ "
                f"(spaces, invisible characters, or a number and its text): "
                f"{seen[key]!r} and {value!r} would be judged as two groups that no reader "
                "can tell apart. Recode them."
            )
        seen[key] = value


def refuse_group_values(column: str, levels: Any) -> None:
    """Refuse a sensitive column's values (``levels``, each once) that hold ``|``, which
    joins group keys (the disclosure rule could not split them), or that print alike
    (:func:`refuse_lookalikes`): the one rule of the in-memory, streamed and monitored reads.

    Raises
    ------
    DataError
        Naming the column and up to three of the values.
    """
    joined = sorted({str(v) for v in levels if "|" in str(v)})
    if joined:
        raise DataError(
            f"The sensitive column {column!r} has values containing '|', which joins "
            f"group keys: {joined[:3]!r}. Recode them."
        )
    refuse_lookalikes(column, levels)


def _require_columns(frame: pd.DataFrame, roles: dict[str, str]) -> None:
    for role, column in roles.items():
        if column not in frame.columns:
            raise DataError(
                f"The data column {column!r} named by {role} is missing. The data has the "
                f"columns {list(frame.columns)}."
            )
        missing = int(frame[column].isna().sum())
        if missing:
            raise DataError(
                f"The data column {column!r} ({role}) has {count_text(missing)} missing values."
            )
        if role.startswith("data.sensitive"):
            refuse_group_values(column, pd.unique(frame[column]))


def _features(spec: AuditSpec, frame: pd.DataFrame, decision_col: str | None) -> tuple[Any, int]:
    """What the model is given, and in batches of how many rows.

    Table data: every column but the label, the decision column and ``data.exclude``.
    Media data: the decoded images or waveforms the manifest names, batch by batch.
    """
    media = spec.data.media
    if media is not None:
        folder = Path(spec.data.path).parent  # manifest paths resolve against its folder
        paths = tuple(str(folder / p) for p in frame[media.column].astype(str))
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise DataError(
                f"{count_text(len(missing))} files named by {media.column!r} do not exist "
                f"(paths resolve against the manifest's folder {str(folder)!r}), e.g. "
                f"{missing[0]!r}."
            )
        batches = MediaBatches(
            paths,
            media.kind,
            tuple(media.shape),
            media.sample_rate,
            resize=media.resize,
            downmix=media.downmix,
            cut=media.cut,
        )
        try:
            conversions = survey_media(batches)
        except MediaError as err:
            raise DataError(str(err)) from err
        return replace(batches, conversions=conversions), media.batch_size
    dropped = [spec.data.label, *spec.data.exclude, *([decision_col] if decision_col else [])]
    return frame.drop(columns=[c for c in dropped if c in frame.columns]), BATCH_ROWS


def _cluster_arguments(spec: AuditSpec, frame: pd.DataFrame) -> dict[str, Any]:
    """``clusters=`` for :func:`metrics.group_metrics` when ``data.cluster_column`` is set:
    rates are then resampled by cluster (e.g. speaker) within each group."""
    column = spec.data.cluster_column
    return {"clusters": frame[column].to_numpy()} if column else {}


def _clusters(spec: AuditSpec, frame: pd.DataFrame) -> dict[str, Any]:
    """How many clusters (e.g. speakers) each single-attribute group holds."""
    column = spec.data.cluster_column
    if column not in frame.columns:
        return {"column": column, "per_group": {}}
    per_group = {}
    for attribute in spec.data.sensitive:
        if attribute in frame.columns:
            for level, n in frame.groupby(attribute)[column].nunique().items():
                per_group[f"{attribute}={level}"] = int(n)
    # The rates' bootstrap redraws whole clusters whenever data.cluster_column is set (see
    # _cluster_arguments); reports still read "rows" in documents written before it did.
    return {"column": column, "per_group": per_group, "rates_resample": "clusters"}


def _media_summary(spec: AuditSpec, features: Any) -> dict[str, Any] | None:
    """For media data: how many files were read and how many needed each conversion."""
    if spec.data.media is None:
        return None
    surveyed = isinstance(features, MediaBatches) and features.conversions is not None
    return {
        "kind": spec.data.media.kind,
        "files": len(features) if surveyed else None,
        "conversions": dict(features.conversions) if surveyed else None,
    }
