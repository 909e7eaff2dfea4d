"""Candidate inputs: every row with up to ``max_changes`` of its features set to other values,
scored in batches.

A *template* sets some features to given values (``{residence_since: 4, telephone: 'yes'}``);
the candidates of a row are the templates that change each of its named features (a template
setting a feature to the row's own value is left out: it would count the row's own decision).
Candidates are built column by column from the repeated rows (no per-row Python loop) and
handed to ``predict`` in batches of about ``batch_rows``, so a model behind HTTP sees a few
large requests, and an in-process model scores hundreds of thousands of rows per second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, product
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Template", "candidate_rows", "scored_candidates", "templates", "value_grid"]


@dataclass(frozen=True)
class Template:
    """Features set to values (in the order of ``features``)."""

    features: tuple[str, ...]
    values: tuple[Any, ...]


def value_grid(
    low: float, high: float, *, points: int, seed: int | Sequence[int], integer: bool
) -> tuple[float, ...]:
    """A seeded grid over ``[low, high]``: both ends and ``points - 2`` uniform draws.

    Integer columns get integers, and every integer of the range when there are at most
    ``points`` of them (exhaustive).
    """
    if not low <= high:
        raise ValueError(f"The 'low' parameter must not exceed 'high'. Got {low} > {high} instead.")
    if points < 2:
        raise ValueError(f"The 'points' parameter must be at least 2. Got {points} instead.")
    if integer:
        lo, hi = int(np.ceil(low)), int(np.floor(high))
        if hi - lo + 1 <= points:
            return tuple(range(lo, hi + 1))
        draws = np.random.default_rng(seed).integers(lo, hi + 1, size=points - 2)
        return tuple(sorted({lo, hi, *(int(d) for d in draws)}))
    draws = np.random.default_rng(seed).uniform(low, high, size=points - 2)
    return tuple(sorted({float(low), float(high), *(float(d) for d in draws)}))


def templates(options: Mapping[str, Sequence[Any]], max_changes: int) -> list[Template]:
    """Every combination of up to ``max_changes`` features, each set to each of its values."""
    if max_changes < 1:
        raise ValueError(
            f"The 'max_changes' parameter must be at least 1. Got {max_changes} instead."
        )
    out = []
    names = list(options)
    for k in range(1, min(max_changes, len(names)) + 1):
        for combo in combinations(names, k):
            for values in product(*(options[f] for f in combo)):
                out.append(Template(combo, tuple(values)))
    return out


def _same(values: np.ndarray, text: np.ndarray, value: Any) -> np.ndarray:
    """Where a column (its values, and the same as text) holds ``value``."""
    if isinstance(value, str) or values.dtype == object:
        return np.asarray(text == str(value))
    return np.asarray(values == value)


def _column(original: pd.Series, parts: list[tuple[Template, int]]) -> pd.Series:
    """One candidate column: the rows' own values, set where a template changes it.

    A numeric column set to numbers keeps a numeric dtype (no detour through objects); any
    other column keeps its dtype when the values fit it (a text column stays text).
    """
    f = original.name
    values = [t.values[t.features.index(f)] for t, _ in parts if f in t.features]
    numeric = pd.api.types.is_numeric_dtype(original) and not pd.api.types.is_bool_dtype(original)
    if numeric and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        dtype = np.result_type(original.dtype, *(np.asarray(v).dtype for v in values))
        column = original.to_numpy(dtype=dtype, copy=True)
    else:
        column = original.to_numpy(dtype=object, copy=True)
    start = 0
    for t, size in parts:
        if f in t.features:
            column[start : start + size] = t.values[t.features.index(f)]
        start += size
    if column.dtype != object:
        return pd.Series(column, name=f)
    try:
        return pd.Series(column, name=f, dtype=original.dtype)
    except (TypeError, ValueError):
        return pd.Series(column, name=f).infer_objects()


def _chunks(sizes: np.ndarray, batch_rows: int) -> Iterator[np.ndarray]:
    """Consecutive template indices whose candidates add up to about ``batch_rows``."""
    start, total = 0, 0
    for i, size in enumerate(sizes):
        total += int(size)
        if total >= batch_rows:
            yield np.arange(start, i + 1)
            start, total = i + 1, 0
    if start < len(sizes):
        yield np.arange(start, len(sizes))


def candidate_rows(
    rows: pd.DataFrame,
    plan: Sequence[Template],
    *,
    allowed: Callable[[Template, pd.DataFrame], np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Per template, the positions of the rows it changes.

    A row is changed by a template that gives each named feature a value other than the
    row's own, and that ``allowed(template, rows)`` (bool per row: a direction, a budget)
    lets through.
    """
    named = {f for t in plan for f in t.features}
    values = {f: rows[f].to_numpy() for f in named}
    text = {f: values[f].astype(str) for f in named}
    masks = []
    for t in plan:
        ok = np.ones(len(rows), dtype=bool)
        for f, v in zip(t.features, t.values, strict=True):
            ok &= ~_same(values[f], text[f], v)
        if allowed is not None:
            ok &= np.asarray(allowed(t, rows), dtype=bool)
        masks.append(np.flatnonzero(ok))
    return masks


def scored_candidates(
    decide: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    plan: Sequence[Template],
    masks: Sequence[np.ndarray],
    *,
    batch_rows: int = 50_000,
    advance: Callable[[int], None] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Score the candidates of every row, batch by batch.

    Parameters
    ----------
    decide : callable
        Takes a DataFrame of candidates, returns one value per row (a decision, or whether it
        is favourable).
    rows : DataFrame
        The rows to change (the columns the model reads).
    plan : sequence of Template
    masks : sequence of ndarray
        Per template, the rows it changes (:func:`candidate_rows`).
    batch_rows : int, default=50000
    advance : callable, optional
        Called with the number of candidates scored after each batch (a progress bar).

    Yields
    ------
    row, template, output : ndarray
        For each scored candidate: its row's position in ``rows``, its template's index in
        ``plan``, and what ``decide`` returned for it.
    """
    sizes = np.array([len(m) for m in masks], dtype=np.int64)
    for chunk in _chunks(sizes, max(batch_rows, 1)):
        which = [int(i) for i in chunk if sizes[i]]
        if not which:
            continue
        row_idx = np.concatenate([masks[i] for i in which])
        tmpl_idx = np.concatenate([np.full(sizes[i], i) for i in which])
        batch = rows.iloc[row_idx].reset_index(drop=True)
        for f in sorted({f for i in which for f in plan[i].features}):
            batch[f] = _column(batch[f], [(plan[i], int(sizes[i])) for i in which])
        out = np.asarray(decide(batch)).reshape(-1)
        if len(out) != len(batch):
            raise ValueError(
                f"The model returned {len(out)} outputs for {len(batch)} candidate rows."
            )
        if advance is not None:
            advance(len(batch))
        yield row_idx, tmpl_idx, out
