"""The ``recourse`` check: who among the refused can get out of a refusal, at what cost.

For every refused person the cheapest set of actionable changes that turns the decision
around is searched (``metrics.recourse_search``) within ``max_cost``. The results: the share
of refused people with recourse (with count and Wilson interval), its gap across the groups
of each view (simultaneous interval), and the gap between the groups' median costs among
those with recourse (percentile bootstrap, seeded). For a linear model (scikit-learn's
``coef_`` on numeric inputs, every actionable feature a number with integer steps), the exact
minimal cost of the integer program (Ustun, Spangher & Liu 2019) is computed too, and the
results say how many people's costs agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from metrics import Action, group_codes, linear_recourse, median_gap, recourse_search

from ._checks import CheckResult, _num, decide
from ._evidence import Evidence
from ._gaming_common import (
    _MEANINGS,
    BATCH_ROWS,
    by_view,
    favourable,
    finish,
    not_queryable,
    option_values,
    require_columns,
    share_result,
    skipped,
)
from ._gaming_spec import RecourseCheck
from ._progress import progress
from ._spec import AuditSpec
from ._status import Status

__all__ = ["recourse"]


def _actions(check: RecourseCheck, features: pd.DataFrame, seed: int) -> list[Action]:
    return [
        Action(
            feature=f,
            direction=s.direction,
            cost=s.cost,
            values=tuple(option_values(s, features[f], seed)),
            ordered=s.values is not None,
        )
        for f, s in check.actionable_features.items()
    ]


def _exact_linear(
    check: RecourseCheck, adapter: Any, rows: pd.DataFrame, cost: np.ndarray
) -> dict[str, Any] | None:
    """Exact minimal costs of a linear model, compared with the search (``None``: not
    linear, or not on an exhaustive integer grid)."""
    model = getattr(adapter, "estimator", None)
    coef = getattr(model, "coef_", None)
    names = getattr(model, "feature_names_in_", None)
    if coef is None or names is None or np.asarray(coef).shape[0] != 1:
        return None
    names = [str(n) for n in names]
    acts = check.actionable_features
    for f, s in acts.items():
        if f not in names or s.range is None:
            return None
        lo, hi = s.range
        if not pd.api.types.is_integer_dtype(rows[f]) or hi - lo + 1 > s.grid:
            return None  # the search's grid is not every integer: the two need not agree
    x = rows[names].to_numpy(dtype=float)
    exact = linear_recourse(
        np.asarray(coef)[0],
        float(np.asarray(model.intercept_).reshape(-1)[0]),
        x,
        columns=[names.index(f) for f in acts],
        directions=[s.direction for s in acts.values()],
        costs=[s.cost for s in acts.values()],
        bounds=[tuple(s.range) for s in acts.values()],  # type: ignore[misc]
        max_cost=check.max_cost,
    )
    if check.max_changes < len(acts):
        return None  # the integer program does not bound the number of changes
    same = np.isclose(exact, cost) | (np.isinf(exact) & np.isinf(cost))
    return {"rows": len(rows), "agree": int(same.sum()), "method": "integer program (HiGHS)"}


def _cost_gap(
    check: RecourseCheck,
    spec: AuditSpec,
    view: str,
    groups: pd.DataFrame,
    cost: np.ndarray,
    seed: int,
) -> CheckResult:
    """One view's gap between the groups' median costs, among people with recourse."""
    has = np.isfinite(cost)
    codes, names = group_codes(groups[view.split("|")])
    n_has = np.bincount(codes[has], minlength=len(names))
    ok = n_has >= spec.data.min_group_size
    medians, gap, ci = median_gap(
        cost[has], codes[has], ok, n_boot=spec.n_boot, seed=seed, confidence=spec.confidence
    )
    finite = np.isfinite(gap)
    status = decide(
        gap, ci if finite else None, low=None, high=check.max_cost_gap, decide_on=check.decide_on
    )
    short = [g for g, good in zip(names, ok, strict=True) if not good]
    if short and status is not Status.FAIL:
        status = Status.INSUFFICIENT
    judged = [(g, m) for g, m, good in zip(names, medians, ok, strict=True) if good]
    who = (
        f"{max(judged, key=lambda t: t[1])[0]} highest, {min(judged, key=lambda t: t[1])[0]} lowest"
        if finite and gap > 0
        else "the same in every compared group"
    )
    text = (
        f"Over {view}, among refused people with recourse, the median cost differs by "
        f"{gap:g} between the groups ({who}; {spec.confidence:.0%} interval "
        f"{ci[0]:g} to {ci[1]:g}); the policy allows at most {check.max_cost_gap:g}."
        if finite
        else f"Over {view}, fewer than two groups have enough people with recourse to compare."
    )
    if short:
        text += (
            f" Too few people with recourse (under {spec.data.min_group_size}) to judge: "
            f"{', '.join(short)}."
        )
    return CheckResult(
        name=f"{check.name or check.type} cost gap [{view}]",
        type=check.type,
        metric="median_cost_gap",
        disparity="difference",
        view=view,
        status=status,
        value=_num(gap),
        ci=(_num(ci[0]), _num(ci[1])) if finite else None,
        threshold={"max": check.max_cost_gap},  # type: ignore[dict-item]
        decide_on=check.decide_on,
        message=text,
        by_group={
            g: {
                "median_cost": _num(m),
                "n": int(k),
                "status": "compared" if good else "insufficient",
            }
            for g, m, k, good in zip(names, medians, n_has, ok, strict=True)
        },
        details={
            "insufficient_groups": short,
            "threshold_source": check.source,
            "meaning": _MEANINGS["recourse"],
        },
    )


def recourse(check: RecourseCheck, spec: AuditSpec, gm: Any, ev: Evidence) -> Iterator[CheckResult]:
    """Share of refused people with recourse within the budget, its gap, the cost gap."""
    reason = not_queryable(spec, ev)
    if reason:
        yield from skipped(check, spec, "recourse_share", reason)
        return
    names = list(check.actionable_features)
    require_columns(ev.features, names, "actionable_features")
    decide_rows = favourable(ev.adapter, spec.data.positive_label)
    refused = ~decide_rows(ev.features) if len(ev.features) else np.zeros(0, bool)
    rows = ev.features.loc[refused].reset_index(drop=True)
    actions = _actions(check, ev.features, ev.seed)
    total = len(rows) * sum(
        np.prod([len(a.values) for a in combo])
        for k in range(1, check.max_changes + 1)
        for combo in combinations(actions, k)
    )
    with progress("Searching recourse", int(total), enabled=ev.show) as advance:
        res = recourse_search(
            decide_rows,
            rows,
            actions=actions,
            max_cost=check.max_cost,
            max_changes=check.max_changes,
            batch_rows=BATCH_ROWS,
            advance=advance,
        )
    has = np.isfinite(res.cost)
    groups = ev.frame.loc[refused, spec.data.sensitive].reset_index(drop=True)
    views = by_view(has, groups, spec, check)
    common = Counter(c for c in res.changes if c).most_common(5)
    overall = share_result(
        check,
        spec,
        metric="recourse_share",
        hits=has,
        people="refused people",
        what=f"have recourse costing at most {check.max_cost:g} (changing at most "
        f"{check.max_changes} features among {', '.join(names)})",
        by_group={},
        details={
            "actionable_features": {
                f: {"direction": s.direction, "cost": s.cost}
                for f, s in check.actionable_features.items()
            },
            "max_cost": check.max_cost,
            "median_cost": _num(float(np.median(res.cost[has]))) if has.any() else None,
            "candidates": res.candidates,
            "per_person": res.per_row,
            "cheapest_changes": [
                {"change": c, "count": k, "share": k / len(rows)} for c, k in common
            ],
            "exact_linear": _exact_linear(check, ev.adapter, rows, res.cost),
            "threshold_source": check.source,
        },
    )
    yield from finish(
        check,
        spec,
        overall,
        views,
        metric="recourse_share",
        people="refused people",
        share_of="refused people with recourse",
    )
    if check.max_cost_gap is not None:
        for view in spec.views(check):
            yield _cost_gap(check, spec, view, groups, res.cost, ev.seed)
