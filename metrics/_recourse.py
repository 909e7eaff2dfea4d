"""Recourse: the cheapest set of actionable changes that turns an adverse decision around.

An :class:`Action` is a feature a person can change, in one direction (``up``, ``down`` or
``any``), at a cost per unit: per unit of a number, or per level of an ordered list of levels
(savings from ``< 100 DM`` to ``100 <= ... < 500 DM`` is one level up). Two ways:

* :func:`recourse_search`: any model. Every refused row is tried with up to ``max_changes``
  actions, each to every reachable value of its grid whose total cost is within ``max_cost``;
  the cheapest candidate decided favourably is the row's recourse cost (``inf``: none).
* :func:`linear_recourse`: a linear model (``w · x + b > 0`` is favourable) with integer
  steps, solved exactly as the integer program of Ustun, Spangher & Liu (2019), "Actionable
  Recourse in Linear Classification": minimise ``Σ c_j d_j`` over integer steps
  ``0 <= d_j <= D_j`` with ``Σ s_j w_j d_j > −(w · x + b)`` (scipy's HiGHS MILP). On the same
  grid it equals the search's answer; a test checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._candidates import Template, candidate_rows, scored_candidates, templates

__all__ = ["Action", "RecourseResult", "linear_recourse", "recourse_search"]

#: How far above the boundary the integer program puts a linear score (favourable is
#: ``> 0``): above HiGHS's feasibility tolerance (1e-7), so that a solution it accepts is
#: favourable in floating point too. A recourse landing within 1e-6 of the boundary is missed.
_MARGIN = 1e-6


@dataclass(frozen=True)
class Action:
    """A change a person can make.

    Attributes
    ----------
    feature : str
    direction : {'up', 'down', 'any'}
    cost : float
        Cost per unit (per level for ``levels``).
    values : tuple
        The values it can be set to: numbers (a grid), or ordered ``levels``.
    ordered : bool
        ``values`` are levels, lowest first (steps are counted in levels).
    """

    feature: str
    direction: Literal["up", "down", "any"]
    cost: float
    values: tuple[Any, ...]
    ordered: bool = False

    def position(self, column: pd.Series) -> np.ndarray:
        """Each row's position on the action's scale (``NaN``: not on it)."""
        if not self.ordered:
            return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        where = {str(v): float(i) for i, v in enumerate(self.values)}
        return np.array([where.get(str(v), np.nan) for v in column], dtype=float)

    def target(self, value: Any) -> float:
        """The position of one of the action's values."""
        if not self.ordered:
            return float(value)
        return float([str(v) for v in self.values].index(str(value)))


@dataclass(frozen=True)
class RecourseResult:
    """Per refused row, the cheapest recourse found.

    Attributes
    ----------
    cost : ndarray of float
        The cheapest cost (``inf`` when no candidate within the budget flips the decision).
    changes : tuple of str
        The cheapest change set per row (``''`` when none), for aggregate counts only.
    candidates : int
        Candidates scored.
    per_row : int
        Templates tried per row at most.
    """

    cost: np.ndarray
    changes: tuple[str, ...]
    candidates: int
    per_row: int


def _costs(actions: dict[str, Action], t: Template, pos: dict[str, np.ndarray]) -> np.ndarray:
    """Per row: the template's cost, ``inf`` where a move goes the wrong way or off scale."""
    total = np.zeros(len(next(iter(pos.values()))))
    for f, v in zip(t.features, t.values, strict=True):
        a = actions[f]
        step = a.target(v) - pos[f]
        wrong = np.isnan(step) | ((step < 0) if a.direction == "up" else False)
        wrong = wrong | ((step > 0) if a.direction == "down" else False)
        total = total + np.where(wrong, np.inf, np.abs(step) * a.cost)
    return total


def recourse_search(
    decide: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    *,
    actions: Sequence[Action],
    max_cost: float,
    max_changes: int = 2,
    batch_rows: int = 50_000,
    advance: Callable[[int], None] | None = None,
) -> RecourseResult:
    """The cheapest favourable candidate of each row within ``max_cost``.

    Parameters
    ----------
    decide : callable
        DataFrame of candidates → whether each is decided favourably (bool per row).
    rows : DataFrame
        The refused rows' inputs.
    actions : sequence of Action
        The actionable features; every other column stays as it is (immutable ones included).
    max_cost : float
        The budget: costlier change sets are not tried.
    max_changes : int, default=2
        At most this many actions together.
    """
    if not max_cost > 0:
        raise ValueError(f"The 'max_cost' parameter must be positive. Got {max_cost!r} instead.")
    by_name = {a.feature: a for a in actions}
    missing = [f for f in by_name if f not in rows.columns]
    if missing:
        raise ValueError(
            f"The 'actions' parameter must name columns of 'rows'. Got {missing!r} instead."
        )
    pos = {f: a.position(rows[f]) for f, a in by_name.items()}
    plan = templates({f: a.values for f, a in by_name.items()}, max_changes)
    costs = [_costs(by_name, t, pos) for t in plan]

    masks = [m[costs[i][m] <= max_cost + 1e-12] for i, m in enumerate(candidate_rows(rows, plan))]
    cost_table = np.vstack(costs) if costs else np.zeros((0, len(rows)))  # (templates, rows)
    found_r, found_t = [], []
    scored = 0
    for row_idx, tmpl_idx, out in scored_candidates(
        decide, rows, plan, masks, batch_rows=batch_rows, advance=advance
    ):
        scored += len(out)
        good = np.asarray(out, dtype=bool)
        found_r.append(row_idx[good])
        found_t.append(tmpl_idx[good])
    r_all = np.concatenate(found_r) if found_r else np.array([], dtype=np.int64)
    t_all = np.concatenate(found_t) if found_t else np.array([], dtype=np.int64)
    c_all = cost_table[t_all, r_all]
    # Per row, the cheapest favourable candidate (ties: the first template of the plan).
    order = np.lexsort((t_all, c_all, r_all))
    first = order[np.r_[True, r_all[order][1:] != r_all[order][:-1]]] if len(order) else order
    best = np.full(len(rows), np.inf)
    which = np.full(len(rows), -1, dtype=np.int64)
    best[r_all[first]] = c_all[first]
    which[r_all[first]] = t_all[first]
    changes = tuple(
        ""
        if i < 0
        else " and ".join(
            f"{f} {_word(by_name[f], rows[f].iat[r], v)}"
            for f, v in zip(plan[i].features, plan[i].values, strict=True)
        )
        for r, i in enumerate(which)
    )
    return RecourseResult(cost=best, changes=changes, candidates=scored, per_row=len(plan))


def _word(action: Action, before: Any, after: Any) -> str:
    if action.ordered:
        return f"{before} -> {after}"
    delta = float(after) - float(before)
    return f"{'up' if delta > 0 else 'down'} by {abs(delta):g}"


def linear_recourse(
    coef: np.ndarray,
    intercept: float,
    x: np.ndarray,
    *,
    columns: Sequence[int],
    directions: Sequence[str],
    costs: Sequence[float],
    bounds: Sequence[tuple[float, float]],
    max_cost: float,
) -> np.ndarray:
    """Exact minimal recourse cost of each row under a linear model, integer steps of 1.

    Parameters
    ----------
    coef, intercept
        The model: ``coef · x + intercept > 0`` is favourable.
    x : ndarray of shape (rows, features)
    columns : sequence of int
        The actionable features' positions in ``x``.
    directions, costs, bounds
        Per actionable feature: ``up``/``down``/``any``, the cost per unit, and the
        ``[low, high]`` range its value must stay in.
    max_cost : float
        Rows whose minimal cost exceeds it get ``inf``.

    Returns
    -------
    ndarray of float
        The minimal cost per row (0 for a row already favourable; ``inf`` when infeasible).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    coef = np.asarray(coef, dtype=float).reshape(-1)
    x = np.atleast_2d(np.asarray(x, dtype=float))
    out = np.full(len(x), np.inf)
    # Each action j becomes one or two non-negative integer step variables: +1 and/or -1.
    signs, owners, unit = [], [], []
    for j, d in enumerate(directions):
        for s in (1, -1):
            if d == "any" or (d == "up" and s == 1) or (d == "down" and s == -1):
                signs.append(s)
                owners.append(j)
                unit.append(float(costs[j]))
    signs_a, owners_a = np.array(signs, float), np.array(owners, int)
    gain = signs_a * coef[np.asarray(columns)[owners_a]]
    for r, row in enumerate(x):
        score = float(coef @ row + intercept)
        if score > 0:
            out[r] = 0.0
            continue
        current = row[np.asarray(columns)[owners_a]]
        low = np.array([bounds[j][0] for j in owners_a])
        high = np.array([bounds[j][1] for j in owners_a])
        room = np.where(signs_a > 0, high - current, current - low)
        room = np.floor(np.maximum(room, 0.0) + 1e-9)
        res = milp(
            c=np.array(unit),
            constraints=[LinearConstraint(gain[None, :], lb=-score + _MARGIN, ub=np.inf)],
            integrality=np.ones(len(unit)),
            bounds=Bounds(np.zeros(len(unit)), room),
        )
        if res.status == 0 and res.fun <= max_cost + 1e-9:
            out[r] = float(res.fun)
    return out
