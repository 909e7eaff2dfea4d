"""Streaming count tables: a decision log read batch by batch, memory bounded by the batch.

A decision log (``model.kind: predictions``) audited by group-metric and score-metric checks
needs only sums over its rows: the count table (intersection cell × label × decision), the
score histograms of :mod:`metrics._histogram_scores`, and what validation asks of every row
(missing values, label and decision values, declared ranges, unique ids). ``data.path`` may be
one Parquet file, a folder of Parquet files, or a hive-partitioned dataset
(``region=north/part-0.parquet``; the partition columns are columns). pyarrow reads only the
columns the audit uses, in batches; each sensitive column's group codes come from its
dictionary encoding, and each batch's dictionary is mapped to one growing list of levels, so a
level keeps its code across batches and files. At the end the levels are sorted (the order of
the in-memory path) and levels no row holds are dropped.

Great Expectations validates a bounded sample (the first :data:`SAMPLE_ROWS` rows); the checks
it runs that concern every row (label and decision values, missing sensitive values, ranges,
unique integer ids, group shares) are recomputed here over every row, and their results in the
document say so (see :mod:`audits._stream_checks`).

Logs that need rows (a cluster column, decision codes to map, more than two classes, string
ids) raise :class:`NotStreamableError` and are read in memory instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metrics import CountTable, ScoreHistograms, choose_bins, compiled_kernel, score_histograms

from ._data_files import DataFiles, folder_dataset, folder_files
from ._progress import progress
from ._reading import needed_columns
from ._spec import AuditSpec
from ._stream_batch import _batches, _bits, _cells, _positive, _score_pass, _scores
from ._stream_values import (
    Levels,
    UniqueIds,
    Values,
    integer_ids,
    level_order,
    nan_as_missing,
    running_range,
)

__all__ = [
    "SAMPLE_ROWS",
    "STREAM_ROWS",
    "NotStreamableError",
    "Streamed",
    "stream_log",
    "streamable",
]

#: A Parquet file with more rows than this is streamed (a folder always is).
STREAM_ROWS = 250_000
#: Rows Great Expectations validates on the streaming path (the first rows read).
SAMPLE_ROWS = 20_000
#: From this many rows on, score histograms are summed by the compiled kernel: the stream of a
#: 10M-row log then takes 0.97 s of CPU instead of 1.11 s (measured, 2^18-row batches), and
#: importing numba and loading the kernel costs about 0.5 s once: they break even near 35M.
KERNEL_ROWS = 35_000_000
_MAX_CELLS = 1 << 20  # intersection cells before the log is refused as unauditable


class NotStreamableError(Exception):
    """This audit needs its rows in memory (the reason is the message)."""


def streamable(spec: AuditSpec, *, above: int | None = None) -> bool:
    """Whether the audit runs on streamed counts: a folder of Parquet files, or a Parquet file
    of more than ``above`` rows (default :data:`STREAM_ROWS`), of a decision log whose checks
    need only sums. The reader may still find a reason it cannot (:class:`NotStreamableError`).
    Smaller files are read in memory: their score metrics are then exact (one sort) and the
    calibration bootstrap redraws rows."""
    path = Path(spec.data.path)
    if not (
        needed_columns(spec) is not None
        and not spec.data.cluster_column
        and not getattr(spec.model, "decision_values", None)
        # impact ratios (NYC LL144) count categories, unknowns and exclusions row by row
        and not any(check.type == "impact_ratio" for check in spec.checks)
    ):
        return False
    if path.is_dir():
        return True
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return False
    import pyarrow.parquet as pq

    try:
        rows = pq.read_metadata(path).num_rows
    except Exception:  # unreadable: the in-memory reader says why
        return False
    return rows > (STREAM_ROWS if above is None else above)


@dataclass
class Streamed:
    """What one pass over a decision log gathered (see the module docstring)."""

    table: CountTable
    histograms: ScoreHistograms | None
    rows: int
    files: int
    batches: int
    columns: list[str]
    sample: pd.DataFrame
    values: dict[str, Values]
    missing: dict[str, int]
    ranges: dict[str, tuple[float | None, float | None, int]]
    ids: UniqueIds | None
    bad_scores: tuple[int, list[float]]
    seconds: float
    score_engine: str | None = None  # how the score histograms were summed (same sums)
    passes: int = 1  # 2: the score histograms were summed by a second pass (see _score_pass)


def _dataset(path: Path, files: DataFiles | None = None) -> Any:
    """The log as a pyarrow dataset; a folder's: exactly the files the data digest covers
    (``files``, listed when the read began, else listed now: :mod:`audits._data_files`)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not path.is_dir():
        return ds.dataset(path, format="parquet")
    listed = files.files if files is not None else folder_files(path)[0]
    dataset = folder_dataset(path, listed)
    # The schema of every file, not the first one's: an empty file's columns of type null
    # (pandas writes an empty text column so) made every other file's values uncastable.
    try:
        schema = pa.unify_schemas(
            [dataset.schema, *(f.physical_schema for f in dataset.get_fragments())]
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # types that do not merge: read as before
        return dataset
    return dataset.replace_schema(schema)  # the files found once, not listed again


def _with_columns(batch: Any, names: list[str], columns: list[Any]) -> Any:
    """``batch`` with each of ``names`` replaced by its column in ``columns`` (NaN as missing:
    :func:`nan_as_missing`), a dictionary of floats decoded (as the in-memory read has it,
    a float column: a NaN category cannot be a pandas category)."""
    import pyarrow as pa

    for name, column in zip(names, columns, strict=True):
        if pa.types.is_dictionary(column.type) and pa.types.is_floating(column.type.value_type):
            column = column.dictionary_decode()
        if column.type != batch.schema.field(name).type or column.null_count != (
            batch.column(name).null_count
        ):
            batch = batch.set_column(batch.schema.get_field_index(name), name, column)
    return batch


def _grow(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = len(shape)
    pad = [(0, s - c) for s, c in zip(shape, array.shape[:lead], strict=True)]
    return np.pad(array, pad + [(0, 0)] * (array.ndim - lead))


def stream_log(
    spec: AuditSpec,
    *,
    show: bool,
    on_sample: Callable[[pd.DataFrame], None] | None = None,
    files: DataFiles | None = None,
) -> Streamed:
    """One pass over the decision log at ``spec.data.path`` (see the module docstring).

    ``on_sample`` is called with the sample (:attr:`Streamed.sample`, the very object) as soon
    as it is complete, when that is before the last batch: validation can start on it while
    the rest is read. ``files``: a folder's files as listed when the read began
    (:func:`audits._data_files.snapshot`).
    """

    started = time.perf_counter()
    data, model = spec.data, spec.model
    dataset = _dataset(Path(data.path), files)
    names = list(dataset.schema.names)
    wanted = needed_columns(spec) or []
    columns = [c for c in names if c in set(wanted)]
    decision, score = getattr(model, "column", None), getattr(model, "score_column", None)
    sensitive = [c for c in data.sensitive if c in columns]
    core = [data.label, decision, *data.sensitive] + ([score] if score else [])
    if any(c not in columns for c in core):  # validation says which, on the sample
        return _sample_only(spec, dataset, columns, started)
    fill = "unknown" if data.missing_sensitive == "unknown" else None
    levels = [Levels(fill) for _ in sensitive]
    caps = [1] * len(sensitive)  # levels per attribute so far: the table grows with them
    counts = np.zeros((*caps, 2, 2), dtype=np.int64)
    hist: ScoreHistograms | None = None
    bins = 0
    values = {c: Values() for c in dict.fromkeys([data.label, decision])}
    missing = dict.fromkeys(sensitive, 0)
    ranges = {c: (None, None, 0) for c in data.ranges if c in columns}
    ids = UniqueIds() if data.id_column and data.id_column in columns else None
    bad_scores, bad_examples = 0, []
    score_sum = 0  # the scores' bits summed: what a second pass must find again (_score_pass)
    sample: list[pd.DataFrame] = []
    sampled = rows = batches = 0
    total = dataset.count_rows()
    # How the score histograms are summed (the same sums either way): see KERNEL_ROWS.
    engine = "numba" if total >= KERNEL_ROWS and compiled_kernel() else "numpy"
    rescore = False  # levels seen late made the histograms too large: a second pass sums them
    with progress("Counting", total, enabled=show) as advance:
        for batch in _batches(dataset, columns):
            if batch.num_rows == 0:
                continue
            batches += 1
            rows += batch.num_rows
            groups = [nan_as_missing(batch.column(c)) for c in sensitive]
            if sampled < SAMPLE_ROWS:
                batch = _with_columns(batch, sensitive, groups)  # the sample's NaN: missing
                part = batch.slice(0, SAMPLE_ROWS - sampled)
                sample.append(part.to_pandas())
                sampled += part.num_rows
                if sampled == SAMPLE_ROWS:
                    sample = [pd.concat(sample, ignore_index=True)]
                    if on_sample is not None:
                        on_sample(sample[0])
            for name, tracker in values.items():
                tracker.add(batch.column(name))
            for name, column in zip(sensitive, groups, strict=True):
                missing[name] += column.null_count
            if len(set(values[data.label].counts) | set(values[decision].counts)) > 2:
                raise NotStreamableError("more than two classes (multiclass decisions)")
            codes = [lv.mapping(c) for lv, c in zip(levels, groups, strict=True)]
            grown = [max(cap, len(lv.values)) for cap, lv in zip(caps, levels, strict=True)]
            if grown != caps:
                caps = grown
                if int(np.prod(caps)) > _MAX_CELLS:
                    raise NotStreamableError("too many intersection cells to count in a stream")
                counts = _grow(counts, tuple(caps))
                if hist is not None and choose_bins(int(np.prod(caps)), bins) < bins:
                    hist, rescore = None, True  # over the memory budget at these bins
                if hist is not None:
                    hist = ScoreHistograms(
                        _grow(hist.hist, tuple(caps)),
                        _grow(hist.calib, tuple(caps)),
                        hist.first,
                        hist.mixed,
                    )
            cells = _cells(codes, caps, batch.num_rows)
            y = _positive(batch.column(data.label), data.positive_label)
            d = _positive(batch.column(decision), data.positive_label)
            flat = (cells * 2 + y) * 2 + d
            counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)
            del flat
            if score:
                s, bad = _scores(batch.column(score))
                if bad is not None:
                    bad_scores += int(bad.sum())
                    bad_examples += s[bad][: 5 - len(bad_examples)].tolist()
                    s = np.where(bad, 0.0, s)
                score_sum += _bits(s)
                bins = bins or choose_bins(int(np.prod(caps)))
                if not rescore:
                    hist = score_histograms(
                        cells, y, s, shape=tuple(caps), bins=bins, into=hist, engine=engine
                    )
            for c, (lo, hi, outside) in ranges.items():
                ranges[c] = running_range(batch.column(c), data.ranges[c], lo, hi, outside)
            if ids is not None:
                ids.add(integer_ids(batch.column(data.id_column), ids))
            advance(batch.num_rows)
    if rescore:
        seen = (counts.sum(axis=-1), score_sum, bad_scores)
        hist = _score_pass(spec, dataset, levels, caps, seen, engine=engine, show=show)
    _integers_as_pandas_reads(dataset.schema, sensitive, levels, missing)
    table, hist = _sorted(spec, sensitive, levels, counts, hist)
    return Streamed(
        table=table,
        histograms=hist,
        rows=rows,
        files=len(dataset.files),
        batches=batches,
        columns=columns,
        sample=(
            sample[0]
            if sampled == SAMPLE_ROWS
            else pd.concat(sample, ignore_index=True)
            if sample
            else pd.DataFrame(columns=columns)
        ),
        values=values,
        missing=missing,
        ranges=ranges,
        ids=ids,
        bad_scores=(bad_scores, bad_examples),
        seconds=time.perf_counter() - started,
        score_engine=engine if hist is not None else None,
        passes=2 if rescore else 1,
    )


def _integers_as_pandas_reads(
    schema: Any, sensitive: list[str], levels: list[Levels], missing: dict[str, int]
) -> None:
    """Each integer group column holding missing values with its levels as floats (``1.0``,
    not ``1``), as pandas reads such a column in memory (then judged as 'unknown' with
    ``missing_sensitive: unknown``); changes ``levels`` in place, after the last pass."""
    import pyarrow as pa

    for name, lv in zip(sensitive, levels, strict=True):
        if missing[name] and pa.types.is_integer(schema.field(name).type):
            lv.values = [v if isinstance(v, str) or v is None else float(v) for v in lv.values]


def _sorted(spec, sensitive, levels, counts, hist):
    """The table with each attribute's observed levels sorted (unseen levels dropped)."""
    orders = []
    for i, lv in enumerate(levels):
        used = np.flatnonzero(counts.sum(axis=tuple(j for j in range(counts.ndim) if j != i)))
        used = used[used < len(lv.values)].tolist()
        orders.append([used[i] for i in level_order([lv.values[k] for k in used])])
    identity = [list(range(n)) for n in counts.shape[: len(orders)]]
    if orders != identity:
        counts = counts[np.ix_(*orders)]  # one copy for every axis
        if hist is not None:
            hist = hist.reorder(orders)
    pos = spec.data.positive_label
    table = CountTable(
        attributes=tuple(sensitive),
        levels=tuple(
            tuple(lv.values[k] for k in order) for lv, order in zip(levels, orders, strict=True)
        ),
        classes=("not " + str(pos), pos),
        counts=counts,
    )
    return table, hist


def _sample_only(spec: AuditSpec, dataset: Any, columns: list[str], started: float) -> Streamed:
    """A log missing a column the audit needs: only the sample, for validation to refuse."""
    head = dataset.head(SAMPLE_ROWS, columns=columns).to_pandas()
    empty = CountTable(attributes=(), levels=(), classes=(), counts=np.zeros((0,)))
    return Streamed(
        table=empty,
        histograms=None,
        rows=dataset.count_rows(),
        files=len(dataset.files),
        batches=0,
        columns=columns,
        sample=head,
        values={},
        missing={},
        ranges={},
        ids=None,
        bad_scores=(0, []),
        seconds=time.perf_counter() - started,
    )
