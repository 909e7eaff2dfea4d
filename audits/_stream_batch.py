"""What both passes over a streamed log (:mod:`audits._streaming`) do with a batch: read the
log one batch at a time, each row's intersection cell, label and score; and the second pass
that sums the score histograms when levels first seen late in the log would have taken the
first pass's histograms past their memory budget."""

from __future__ import annotations

from typing import Any

import numpy as np

from metrics import ScoreHistograms, choose_bins, score_histograms

from ._progress import progress
from ._spec import AuditSpec
from ._stream_values import Levels, nan_as_missing

__all__ = ["BATCH_ROWS"]

#: Rows read at a time (no read-ahead): memory is bounded by the batch.
BATCH_ROWS = 1 << 18


def _positive(array: Any, positive: Any) -> np.ndarray:
    values = array.to_numpy(zero_copy_only=False)
    return np.asarray(values == positive, dtype=bool)


def _batches(dataset: Any, columns: list[str]) -> Any:
    """The dataset's record batches of ``columns``, one at a time (memory bounded by the
    batch)."""
    import pyarrow.dataset as ds

    return dataset.scanner(
        columns=columns,
        batch_size=BATCH_ROWS,
        batch_readahead=0,
        fragment_readahead=0,
        use_threads=False,
        fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
    ).to_batches()


def _cells(codes: list[tuple[np.ndarray, Any]], caps: list[int], rows: int) -> np.ndarray:
    """Each row's flat intersection cell (C order over ``caps``), from each attribute's
    :meth:`Levels.mapping`: one lookup per attribute (Arrow's ``take``, which reads the int32
    dictionary indices as they are) into its table of codes times the attribute's stride. A
    missing level counts in code 0 here and stops the audit later."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    stride = 1
    for (table, indices), cap in reversed(list(zip(codes, caps, strict=True))):
        scaled = pa.array(np.maximum(table, 0).astype(np.int64) * stride)
        parts.append(pc.take(scaled, indices).to_numpy(zero_copy_only=False))
        stride *= cap
    if not parts:
        return np.zeros(rows, dtype=np.int64)
    cells = parts[0] + parts[1] if len(parts) > 1 else parts[0].copy()
    for part in parts[2:]:
        cells += part
    return cells


def _scores(array: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A batch's scores as floats, and which are not a probability (``None``: none)."""
    s = array.to_numpy(zero_copy_only=False).astype(float, copy=False)
    bad = ~np.isfinite(s) | (s < 0) | (s > 1)
    return s, (bad if bad.any() else None)


def _bits(scores: np.ndarray) -> int:
    """The scores' bits summed as integers (modulo 2^64): the same however the rows are
    batched, unlike a float sum."""
    return int(np.ascontiguousarray(scores, dtype=np.float64).view(np.uint64).sum())


def _score_pass(
    spec: AuditSpec,
    dataset: Any,
    levels: list[Levels],
    caps: list[int],
    seen: tuple[np.ndarray, int, int],
    *,
    engine: str,
    show: bool,
) -> ScoreHistograms:
    """The score histograms in a second pass, at the bins the memory budget allows for every
    cell the first pass found: levels first seen late in the log (e.g. one hive partition
    after another) would otherwise have grown the first pass's histograms past the budget.
    ``seen``: the first pass's rows per cell and label, sum of scores and bad scores, which
    this pass must find again (a log rewritten between the passes is refused)."""
    data, score = spec.data, spec.model.score_column
    bins = choose_bins(int(np.prod(caps)))
    hist: ScoreHistograms | None = None
    score_sum, bad_scores = 0, 0
    with progress("Scoring", int(seen[0].sum()), enabled=show) as advance:
        for batch in _batches(dataset, [*data.sensitive, data.label, score]):
            if batch.num_rows == 0:
                continue
            codes = [
                lv.mapping(nan_as_missing(batch.column(c)))
                for lv, c in zip(levels, data.sensitive, strict=True)
            ]
            if any(len(lv.values) > cap for lv, cap in zip(levels, caps, strict=True)):
                raise ValueError(
                    "it changed while it was read (a level the first pass did not see)"
                )
            s, bad = _scores(batch.column(score))
            s = s if bad is None else np.where(bad, 0.0, s)
            score_sum += _bits(s)
            bad_scores += 0 if bad is None else int(bad.sum())
            hist = score_histograms(
                _cells(codes, caps, batch.num_rows),
                _positive(batch.column(data.label), data.positive_label),
                s,
                shape=tuple(caps),
                bins=bins,
                into=hist,
                engine=engine,
            )
            advance(batch.num_rows)
    if hist is None:
        raise ValueError("it changed while it was read (no rows on a second pass)")
    if not (
        np.array_equal(hist.hist.sum(axis=-1), seen[0])
        and (score_sum % 2**64, bad_scores) == (seen[1] % 2**64, seen[2])
    ):
        raise ValueError("it changed while it was read (other rows or scores on a second pass)")
    return hist
