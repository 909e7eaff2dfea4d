"""Gaming and counterfactual flips: which adverse decisions change when features that should
not matter change.

* :func:`manipulation_search`: every adverse decision is tried with up to ``max_changes`` of
  the manipulable features set to each of their values; a decision that becomes favourable
  under any of them is *manipulable*. The manipulations that flip most decisions are named in
  aggregate (``residence_since 1 -> 4 flips 23 % of the refusals``), never per person.
* :func:`counterfactual_flips`: every decision is tried with the protected attribute (and
  optionally its proxies) set as for each other group; a decision that changes is a flip.
* :func:`typical_values`: a group's typical value of each proxy (its most common value, or
  the median of a numeric column), which is what a proxy is set to when the attribute flips.

Neither knows the model: ``decide`` is any callable from a DataFrame to one output per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._candidates import Template, candidate_rows, scored_candidates, templates

__all__ = [
    "CounterfactualResult",
    "ManipulationResult",
    "counterfactual_flips",
    "manipulation_search",
    "typical_values",
]


@dataclass(frozen=True)
class ManipulationResult:
    """What gaming the manipulable features does to the adverse decisions.

    Attributes
    ----------
    flipped : ndarray of bool
        Per row searched: some candidate was decided favourably.
    candidates : int
        Candidates scored (over every row).
    per_row : int
        Templates tried per row at most.
    top : tuple of (str, int)
        The manipulations that flip most rows, each with how many rows it flips, most first.
    """

    flipped: np.ndarray
    candidates: int
    per_row: int
    top: tuple[tuple[str, int], ...]


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _describe(t: Template, before: Sequence[Any], discrete: set[str]) -> str:
    parts = []
    for f, b, v in zip(t.features, before, t.values, strict=True):
        parts.append(f"{f} {_text(b)} -> {_text(v)}" if f in discrete else f"{f} set to {_text(v)}")
    return " and ".join(parts)


def manipulation_search(
    decide: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    *,
    options: Mapping[str, Sequence[Any]],
    max_changes: int = 1,
    discrete: Sequence[str] = (),
    batch_rows: int = 50_000,
    top: int = 5,
    advance: Callable[[int], None] | None = None,
) -> ManipulationResult:
    """Search the manipulations of each row that make its decision favourable.

    Parameters
    ----------
    decide : callable
        DataFrame of candidates → whether each is decided favourably (bool per row).
    rows : DataFrame
        The adverse decisions' inputs.
    options : mapping of feature to values
        The values each manipulable feature can take (a declared set, or a grid).
    max_changes : int, default=1
        At most this many features are changed together.
    discrete : sequence of str
        Features named with their value before and after (``a 1 -> 4``); the others are
        named with the value they are set to.
    batch_rows : int, default=50000
        Candidates per call of ``decide``.
    top : int, default=5
        How many of the most effective manipulations to name.
    advance : callable, optional
        Progress: called with the number of candidates scored.
    """
    missing = [f for f in options if f not in rows.columns]
    if missing:
        raise ValueError(
            f"The 'options' parameter must name columns of 'rows'. Got {missing!r} instead."
        )
    plan = templates(options, max_changes)
    masks = candidate_rows(rows, plan)
    flips_r, flips_t = [], []
    scored = 0
    for row_idx, tmpl_idx, out in scored_candidates(
        decide, rows, plan, masks, batch_rows=batch_rows, advance=advance
    ):
        good = np.asarray(out, dtype=bool)
        scored += len(out)
        flips_r.append(row_idx[good])
        flips_t.append(tmpl_idx[good])
    r_all = np.concatenate(flips_r) if flips_r else np.array([], dtype=np.int64)
    t_all = np.concatenate(flips_t) if flips_t else np.array([], dtype=np.int64)
    flipped = np.zeros(len(rows), dtype=bool)
    flipped[r_all] = True
    # Name only each row's smallest manipulations (a pair holding a flipping single change
    # says nothing more).
    size = np.array([len(t.features) for t in plan], dtype=np.int64)[t_all]
    fewest = np.full(len(rows), np.iinfo(np.int64).max)
    np.minimum.at(fewest, r_all, size)
    counts: Counter[str] = Counter()
    names = set(discrete)
    for r, i in zip(r_all[size == fewest[r_all]], t_all[size == fewest[r_all]], strict=True):
        t = plan[i]
        counts[_describe(t, [rows[f].iat[r] for f in t.features], names)] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return ManipulationResult(
        flipped=flipped, candidates=scored, per_row=len(plan), top=tuple(ranked)
    )


def typical_values(
    frame: pd.DataFrame, by: str, columns: Sequence[str]
) -> dict[Any, dict[str, Any]]:
    """Per value of ``by``, each column's most common value (median when numeric).

    Ties between most common values go to the first in sorted order, so the result does not
    depend on the row order.
    """
    out: dict[Any, dict[str, Any]] = {}
    for level, part in frame.groupby(by, sort=True, observed=True):
        values: dict[str, Any] = {}
        for c in columns:
            col = part[c].dropna()
            if col.empty:
                continue
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                m = float(np.median(col.to_numpy(dtype=float)))
                values[c] = round(m) if pd.api.types.is_integer_dtype(col) else m
            else:
                counts = col.astype(str).value_counts()
                best = counts[counts == counts.max()].index
                pick = sorted(best)[0]
                values[c] = col[col.astype(str) == pick].iloc[0]
        out[level] = values
    return out


@dataclass(frozen=True)
class CounterfactualResult:
    """Which decisions change when the attribute (and proxies) take another group's values.

    Attributes
    ----------
    changed : ndarray of bool
        Per row: the decision changed under some other value.
    by_target : dict
        Per other value: how many rows were tried and how many changed.
    candidates : int
    """

    changed: np.ndarray
    by_target: dict[str, tuple[int, int]]
    candidates: int


def counterfactual_flips(
    decide: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    *,
    current: np.ndarray,
    targets: Mapping[Any, Mapping[str, Any]],
    batch_rows: int = 50_000,
    advance: Callable[[int], None] | None = None,
) -> CounterfactualResult:
    """Decide each row again with the columns of every other group's setting.

    Parameters
    ----------
    decide : callable
        DataFrame → one decision per row.
    rows : DataFrame
        The inputs.
    current : array
        Each row's value of the attribute (its group).
    targets : mapping of attribute value to {column: value}
        What the columns become for a row moved to that value (the attribute column itself
        when the model is given it, and the proxies' typical values).
    """
    current = np.asarray(current).astype(str)
    if len(current) != len(rows):
        raise ValueError(
            f"The 'current' parameter must hold one value per row ({len(rows)}). "
            f"Got {len(current)} instead."
        )
    keys = list(targets)
    plan = [Template(tuple(targets[k]), tuple(targets[k].values())) for k in keys]
    empty = [str(k) for k, t in zip(keys, plan, strict=True) if not t.features]
    if empty:
        raise ValueError(
            f"The 'targets' parameter must set at least one column per value. Got none for "
            f"{empty!r} instead."
        )
    masks = [np.flatnonzero(current != str(k)) for k in keys]
    original = np.asarray(decide(rows)).reshape(-1)
    changed = np.zeros(len(rows), dtype=bool)
    tried = np.zeros(len(keys), dtype=np.int64)
    moved = np.zeros(len(keys), dtype=np.int64)
    scored = 0
    for row_idx, tmpl_idx, out in scored_candidates(
        decide, rows, plan, masks, batch_rows=batch_rows, advance=advance
    ):
        diff = out.astype(str) != original[row_idx].astype(str)
        changed[row_idx[diff]] = True
        np.add.at(tried, tmpl_idx, 1)
        np.add.at(moved, tmpl_idx, diff.astype(np.int64))
        scored += len(out)
    by_target = {str(k): (int(tried[i]), int(moved[i])) for i, k in enumerate(keys)}
    return CounterfactualResult(changed=changed, by_target=by_target, candidates=scored)
