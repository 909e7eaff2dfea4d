"""What a stream of batches keeps about single columns (see :mod:`audits._streaming`): each
value's count, a sensitive column's levels and codes, integer ids seen, a range's bounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Levels", "UniqueIds", "Values", "integer_ids", "running_range"]

_MAX_ID_SPAN = 1 << 31  # integer ids spanning more are checked on the sample only


@dataclass
class Values:
    """Counts of each value of a column, and its missing values."""

    counts: dict[Any, int] = field(default_factory=dict)
    missing: int = 0

    def add(self, array: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self.missing += array.null_count
        if pa.types.is_integer(array.type) and not array.null_count and len(array):
            values = array.to_numpy()  # small non-negative codes: one bincount
            low, high = int(values.min()), int(values.max())
            if low >= 0 and high < 1024:
                for value, n in enumerate(np.bincount(values, minlength=high + 1).tolist()):
                    if n:
                        self.counts[value] = self.counts.get(value, 0) + n
                return
        for item in pc.value_counts(array.drop_null()).to_pylist():
            value = item["values"]
            self.counts[value] = self.counts.get(value, 0) + int(item["counts"])


class UniqueIds:
    """Whether integer ids repeat, with one byte per id in their span (bounded)."""

    def __init__(self) -> None:
        self.low = 0
        self.seen: np.ndarray | None = None
        self.repeats = 0
        self.checked = True
        self.reason = ""

    def add(self, ids: np.ndarray) -> None:
        if not self.checked or len(ids) == 0:
            return
        lo, hi = int(ids.min()), int(ids.max())
        if self.seen is None:
            self.low, self.seen = lo, np.zeros(hi - lo + 1, dtype=bool)
        if lo < self.low or hi >= self.low + len(self.seen):
            new_low = min(lo, self.low)
            span = max(hi + 1, self.low + len(self.seen)) - new_low
            if span > _MAX_ID_SPAN:
                self.checked, self.seen = False, None
                self.reason = f"the ids span more than {_MAX_ID_SPAN:,} values"
                return
            grown = np.zeros(span + span // 2, dtype=bool)
            grown[self.low - new_low : self.low - new_low + len(self.seen)] = self.seen
            self.low, self.seen = new_low, grown
        idx = ids - self.low
        ordered = idx if bool(np.all(idx[1:] > idx[:-1])) else np.sort(idx)
        self.repeats += int(np.count_nonzero(ordered[1:] == ordered[:-1]))
        self.repeats += int(np.count_nonzero(self.seen[idx]))
        self.seen[idx] = True


class Levels:
    """One attribute's levels (the first batch's sorted, then others as they are first seen);
    maps each batch's dictionary to them."""

    def __init__(self, fill: Any) -> None:
        self.values: list[Any] = []
        self.index: dict[Any, int] = {}
        self.fill = fill  # what a missing value becomes (``None``: stays missing, code -1)

    def codes(self, array: Any) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_dictionary(array.type):
            array = pc.dictionary_encode(array)
        dictionary = array.dictionary.to_pylist()
        if not self.values:  # the first batch's levels in sorted order: usually no reorder
            try:
                first = sorted(v for v in dictionary if v is not None)
            except TypeError:
                first = [v for v in dictionary if v is not None]
            for value in first:
                self._code(value)
        lookup = np.array([self._code(v) for v in dictionary] + [-1])
        indices = array.indices
        if array.null_count:
            raw = pc.fill_null(indices, len(lookup) - 1).to_numpy(zero_copy_only=False)
            if self.fill is not None:
                lookup[-1] = self._code(self.fill)
        else:
            raw = indices.to_numpy(zero_copy_only=False)
        return lookup[raw]

    def _code(self, value: Any) -> int:
        if value is None:
            return -1 if self.fill is None else self._code(self.fill)
        if value not in self.index:
            self.index[value] = len(self.values)
            self.values.append(value)
        return self.index[value]


def integer_ids(array: Any, ids: UniqueIds) -> np.ndarray:
    import pyarrow as pa

    if not pa.types.is_integer(array.type):
        ids.checked, ids.reason = False, f"the ids are of type {array.type}, not integers"
        return np.array([], dtype=np.int64)
    if array.null_count:
        array = array.drop_null()
    return array.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def running_range(array: Any, bounds, lo, hi, outside) -> tuple[Any, Any, int]:
    """Running min, max and count of values outside ``bounds`` (missing values ignored)."""
    values = array.drop_null().to_numpy(zero_copy_only=False).astype(float, copy=False)
    if len(values) == 0:
        return lo, hi, outside
    low, high = bounds
    out = np.zeros(len(values), dtype=bool)
    if low is not None:
        out |= values < low
    if high is not None:
        out |= values > high
    vmin, vmax = float(values.min()), float(values.max())
    return (
        vmin if lo is None else min(lo, vmin),
        vmax if hi is None else max(hi, vmax),
        outside + int(out.sum()),
    )
