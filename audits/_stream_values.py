"""What a stream of batches keeps about single columns (see :mod:`audits._streaming`): each
value's count, a sensitive column's levels and codes, integer ids seen, a range's bounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Levels",
    "UniqueIds",
    "Values",
    "integer_ids",
    "level_order",
    "nan_as_missing",
    "running_range",
]

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
            bounds = pc.min_max(array)  # one pass for both
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if low >= 0 and high < 1024:
                for value, n in enumerate(np.bincount(values, minlength=high + 1).tolist()):
                    if n:
                        self.counts[value] = self.counts.get(value, 0) + n
                return
        for item in pc.value_counts(array.drop_null()).to_pylist():
            value = item["values"]
            self.counts[value] = self.counts.get(value, 0) + int(item["counts"])


class UniqueIds:
    """Whether integer ids repeat, with one byte per id in their span (bounded): 0 for an id
    not seen, 1 seen once, 2 seen more than once.

    :attr:`unexpected` counts what Great Expectations' ``expect_column_values_to_be_unique``
    counts over the same rows: every row whose id is not unique, its first one included.
    """

    def __init__(self) -> None:
        self.low = 0
        self.seen: np.ndarray | None = None  # uint8 states, one per id of the span
        self.repeats = 0  # rows whose id an earlier row had
        self.repeated = 0  # distinct ids seen more than once
        self.checked = True
        self.reason = ""

    @property
    def unexpected(self) -> int:
        """Rows whose id is not unique (each repeated id's first row included)."""
        return self.repeats + self.repeated

    def add(self, ids: np.ndarray) -> None:
        if not self.checked or len(ids) == 0:
            return
        lo, hi = int(ids.min()), int(ids.max())
        if self.seen is None:
            if hi - lo + 1 > _MAX_ID_SPAN:  # the first batch's span is bounded too
                return self._too_wide()
            self.low, self.seen = lo, np.zeros(hi - lo + 1, dtype=np.uint8)
        if lo < self.low or hi >= self.low + len(self.seen):
            new_low = min(lo, self.low)
            span = max(hi + 1, self.low + len(self.seen)) - new_low
            if span > _MAX_ID_SPAN:
                return self._too_wide()
            grown = np.zeros(span + span // 2, dtype=np.uint8)
            grown[self.low - new_low : self.low - new_low + len(self.seen)] = self.seen
            self.low, self.seen = new_low, grown
        idx = ids - self.low
        increasing = bool(np.all(idx[1:] > idx[:-1]))  # then each id once in the batch
        if increasing and int(idx[-1]) - int(idx[0]) == len(idx) - 1:
            # consecutive ids (the usual log): one slice of states, no gather or scatter
            self._count(self.seen[int(idx[0]) : int(idx[-1]) + 1], None)
            return
        if increasing:
            unique, times = idx, None
        else:
            unique, times = np.unique(idx, return_counts=True)
        states = self.seen[unique]
        self._count(states, times)
        self.seen[unique] = states

    def _too_wide(self) -> None:
        self.checked, self.seen = False, None
        self.reason = f"the ids span more than {_MAX_ID_SPAN:,} values"

    def _count(self, states: np.ndarray, times: np.ndarray | None) -> None:
        """Count one batch's ids of ``states`` (in place), each ``times`` in the batch."""
        if times is None:  # each id once
            self.repeats += int(np.count_nonzero(states))
            self.repeated += int(np.count_nonzero(states == 1))
            np.minimum(states + 1, 2, out=states)
            return
        new = states == 0
        self.repeats += int(times.sum()) - int(np.count_nonzero(new))
        self.repeated += int(np.count_nonzero((states == 1) | (new & (times > 1))))
        np.minimum(states + np.minimum(times, 2).astype(np.uint8), 2, out=states)


class Levels:
    """One attribute's levels (the first batch's sorted, then others as they are first seen);
    maps each batch's dictionary to them."""

    def __init__(self, fill: Any) -> None:
        self.values: list[Any] = []
        self.index: dict[Any, int] = {}
        self.fill = fill  # what a missing value becomes (``None``: stays missing, code -1)

    def mapping(self, array: Any) -> tuple[np.ndarray, Any]:
        """The batch's codes as a table and (Arrow) indices into it: ``table[indices]`` is
        each row's level code (-1: missing, unless ``fill`` names its level). The table has
        one entry per dictionary value and one for missing values, so a row's code is one
        lookup."""
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
        if array.null_count:  # int64: the missing entry may not fit the indices' type
            indices = pc.fill_null(indices.cast(pa.int64()), len(lookup) - 1)
            if self.fill is not None:
                lookup[-1] = self._code(self.fill)
        return lookup, indices

    def _code(self, value: Any) -> int:
        if value is None:
            return -1 if self.fill is None else self._code(self.fill)
        if value not in self.index:
            self.index[value] = len(self.values)
            self.values.append(value)
        return self.index[value]


def level_order(values: list[Any]) -> list[int]:
    """The positions of ``values`` (distinct levels) in the in-memory engine's order, that of
    ``pandas.factorize(sort=True)``: by value; levels of mixed types (a float column's missing
    values made ``'unknown'``) numbers first, then text; values that still cannot be compared,
    by their text. Sorting them by their text put ``10.0`` before ``9.0``, so the streamed and
    Spark engines ordered the groups (and drew the bootstrap) unlike the in-memory one."""
    positions = range(len(values))
    try:
        return sorted(positions, key=lambda i: values[i])
    except TypeError:
        pass
    try:
        return sorted(positions, key=lambda i: (isinstance(values[i], str), values[i]))
    except TypeError:
        return sorted(positions, key=lambda i: str(values[i]))


def nan_as_missing(array: Any) -> Any:
    """A sensitive column's NaN as missing values (pandas reads them so in memory): Arrow
    counts a float NaN as a value, which made it a group of its own (one per batch, since NaN
    equals no NaN) and not a missing value. A dictionary of floats holding NaN is decoded
    first (its NaN entry would be a value, and the rows pointing at it not missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type) and pa.types.is_floating(array.type.value_type):
        if not pc.any(pc.is_nan(array.dictionary)).as_py():
            return array
        array = array.dictionary_decode()
    if not pa.types.is_floating(array.type):
        return array
    nan = pc.is_nan(array)
    if not pc.any(nan).as_py():
        return array
    return pc.if_else(nan, pa.scalar(None, array.type), array)


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
