"""What the three gaming checks (``manipulability``, ``counterfactual_flip``, ``recourse``)
share: asking the model, the values a feature may take, and the results' shape.

Each check yields one result over everyone (view ``all``: the share, with its count and
Wilson interval, and the groups of every view in ``by_group``) and, when the spec bounds the
disparity, one result per view (the gap between the groups' shares with its simultaneous
interval). A decision log or media audit has no model to query with changed inputs: the
checks are then skipped, which blocks a release like any other check that did not run.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from metrics import (
    GroupShares,
    group_shares,
    value_grid,
    wilson_interval,
)
from reports import MIN_CELL, disclose

from ._checks import CheckResult, _num, decide
from ._evidence import Evidence
from ._spec import AuditSpec
from ._spec_rules import same_value
from ._status import Status

__all__ = [
    "BATCH_ROWS",
    "by_view",
    "favourable",
    "finish",
    "not_queryable",
    "option_values",
    "require_columns",
    "share_result",
    "skipped",
]

#: Candidate rows per call of the model.
BATCH_ROWS = 50_000

_MEANINGS = {
    "manipulability": (
        "How many refusals turn into approvals when the applicant changes features that "
        "should not matter and that they control cheaply (a telephone on file, the time at "
        "their address). A model that rewards them will be gamed, mostly by those who know how."
    ),
    "counterfactual_flip": (
        "How many decisions change when the person's protected attribute (and the features "
        "standing in for it) are set as for another group, everything else kept the same."
    ),
    "recourse": (
        "How many refused people could get a favourable decision by changes they can make "
        "(save more, borrow less, for a shorter time), within a budget of effort; and whether "
        "that way out is as open, and as cheap, for every group. Age, sex and other immutable "
        "attributes are never changed."
    ),
}


def favourable(adapter: Any, positive: Any) -> Callable[[pd.DataFrame], np.ndarray]:
    """``decide(frame)`` → whether the model's decision of each row is the favourable one."""

    def decide_rows(frame: pd.DataFrame) -> np.ndarray:
        out = np.asarray(adapter.predict(frame)).reshape(-1)
        codes, uniques = pd.factorize(pd.Series(out, dtype=object))
        good = np.array([same_value(u, positive) for u in uniques], dtype=bool)
        return good[codes] if len(uniques) else np.zeros(len(out), dtype=bool)

    return decide_rows


def not_queryable(spec: AuditSpec, ev: Evidence) -> str | None:
    """Why the model cannot be asked about changed inputs (``None``: it can)."""
    if ev.adapter is None or ev.adapter.decision_column is not None:
        return "a decision log has no model to ask about changed inputs."
    if spec.data.media is not None or not isinstance(ev.features, pd.DataFrame):
        return "it changes table features, and this audit's inputs are images or audio."
    return None


def skipped(check: Any, spec: AuditSpec, metric: str, reason: str) -> list[CheckResult]:
    """One ``skipped`` result for the check (a skipped check blocks a release)."""
    return [
        CheckResult(
            name=f"{check.name or check.type} [all]",
            type=check.type,
            metric=metric,
            disparity="",
            view="all",
            status=Status.SKIPPED,
            value=None,
            ci=None,
            threshold=_bounds(check),
            decide_on=check.decide_on,
            message=f"skipped: {reason}",
        )
    ]


def _bounds(check: Any) -> dict[str, float]:
    return {k: v for k, v in (("min", check.min), ("max", check.max)) if v is not None}


def option_values(settings: Any, column: pd.Series, seed: int) -> list[Any]:
    """The values a feature may be set to: its declared values, or a grid seeded by the
    audit's seed and the feature's name (not its place in the spec)."""
    if settings.values is not None:
        return list(settings.values)
    grid_seed = [seed, zlib.crc32(str(column.name).encode())]
    low, high = settings.range
    integer = pd.api.types.is_integer_dtype(column)
    return list(value_grid(low, high, points=settings.grid, seed=grid_seed, integer=integer))


def require_columns(features: pd.DataFrame, names: list[str], where: str) -> None:
    """A feature the spec names must be one the model is given."""
    missing = [c for c in names if c not in features.columns]
    if missing:
        raise ValueError(
            f"{where} names {missing!r}, which the model is not given (its inputs: "
            f"{', '.join(map(str, features.columns))})."
        )


def group_entries(res: GroupShares) -> dict[str, dict[str, Any]]:
    """``by_group`` entries: share with count, denominator and Wilson interval."""
    return {
        r.group: {
            "value": _num(r.share),
            "ci": [_num(r.ci_low), _num(r.ci_high)],
            "n": int(r.n),
            "numerator": int(r.count),
            "denominator": int(r.n),
            "status": "compared" if r.sufficient else "insufficient",
        }
        for r in res.per_group.itertuples(index=False)
    }


def share_result(
    check: Any,
    spec: AuditSpec,
    *,
    metric: str,
    hits: np.ndarray,
    people: str,
    what: str,
    by_group: dict[str, dict[str, Any]],
    details: dict[str, Any],
) -> CheckResult:
    """The result over everyone: the share of ``people`` for whom ``what`` holds."""
    n, k = len(hits), int(np.sum(hits))
    lo, hi = wilson_interval(np.array([k]), np.array([n]), confidence=spec.confidence)
    share = k / n if n else float("nan")
    ci = (_num(lo[0]), _num(hi[0])) if n else None
    low, high = check.min, check.max
    if low is None and high is None:
        status = Status.PASS if n else Status.INSUFFICIENT  # bounded by its disparity only
    else:
        status = decide(share, ci, low=low, high=high, decide_on=check.decide_on)  # type: ignore[arg-type]
    if n < spec.data.min_group_size and status is not Status.FAIL:
        status = Status.INSUFFICIENT
    shown = disclose(numerator=k, denominator=n)
    if not n:
        text = f"No {people} to examine."
    elif shown.numerator is None:  # a count under 11 (or its complement) is never shown
        few = f"fewer than {MIN_CELL}" if 0 < k < MIN_CELL else "all but a few"
        text = (
            f"Of the {people}, {few} {what} (the share is not shown: a count under "
            f"{MIN_CELL} could be recovered from it)."
        )
    else:
        text = (
            f"{100 * share:.1f}% of the {people} ({k} of {n}; {spec.confidence:.0%} interval "
            f"{100 * ci[0]:.1f}% to {100 * ci[1]:.1f}%) {what}."  # type: ignore[index]
        )
    if low is not None or high is not None:
        bound = " and ".join(
            ([f"at least {100 * low:.0f}%"] if low is not None else [])
            + ([f"at most {100 * high:.0f}%"] if high is not None else [])
        )
        text += f" The policy allows {bound}."
    else:
        text += " The policy bounds the gaps between groups, not this share (see them below)."
    if n and n < spec.data.min_group_size:
        text += f" Too few {people} to judge (under {spec.data.min_group_size})."
    return CheckResult(
        name=f"{check.name or check.type} [all]",
        type=check.type,
        metric=metric,
        disparity="",
        view="all",
        status=status,
        value=_num(share),
        ci=ci,
        threshold=_bounds(check),
        decide_on=check.decide_on,
        message=text,
        by_group=by_group,
        details={**details, "count": k, "n": n, "meaning": _MEANINGS.get(check.type, "")},
    )


def gap_result(
    check: Any,
    spec: AuditSpec,
    view: str,
    res: GroupShares,
    *,
    metric: str,
    people: str,
    share_of: str,
) -> CheckResult:
    """One view's gap between the groups' shares, against ``max_disparity``."""
    ok = np.isfinite(res.gap)
    ci = (_num(res.gap_ci[0]), _num(res.gap_ci[1])) if ok else None
    status = decide(res.gap, ci, low=None, high=check.max_disparity, decide_on=check.decide_on)  # type: ignore[arg-type]
    short = [r.group for r in res.per_group.itertuples(index=False) if not r.sufficient]
    if short and status is not Status.FAIL:
        status = Status.INSUFFICIENT
    if ok:
        between = (
            f"between {res.highest_group} (highest) and {res.lowest_group} (lowest)"
            if res.gap > 0
            else "between the groups (the same in every compared group)"
        )
        text = (
            f"Over {view}, the share of {share_of} differs by {100 * res.gap:.1f} points "
            f"{between} "
            f"({spec.confidence:.0%} simultaneous interval {100 * ci[0]:.1f} to "  # type: ignore[index]
            f"{100 * ci[1]:.1f} points); the policy allows at most "  # type: ignore[index]
            f"{100 * check.max_disparity:.0f} points."
        )
    else:
        text = f"Over {view}, fewer than two groups have enough {people} to compare."
    if short:
        text += (
            f" Too few {people} (under {spec.data.min_group_size}) to judge: {', '.join(short)}."
        )
    return CheckResult(
        name=f"{check.name or check.type} disparity [{view}]",
        type=check.type,
        metric=metric,
        disparity="difference",
        view=view,
        status=status,
        value=_num(res.gap),
        ci=ci,
        threshold={"max": check.max_disparity},
        decide_on=check.decide_on,
        message=text,
        by_group=group_entries(res),
        details={
            "worst_group": res.highest_group,
            "best_group": res.lowest_group,
            "insufficient_groups": short,
            "threshold_source": check.source,
            "meaning": _MEANINGS.get(check.type, ""),
        },
    )


def by_view(
    hits: np.ndarray, groups: pd.DataFrame, spec: AuditSpec, check: Any
) -> dict[str, GroupShares]:
    """The shares of every view of the check."""
    return {
        view: group_shares(
            hits,
            groups[view.split("|")],
            confidence=spec.confidence,
            min_group_size=spec.data.min_group_size,
        )
        for view in spec.views(check)
    }


def finish(
    check: Any,
    spec: AuditSpec,
    overall: CheckResult,
    views: dict[str, GroupShares],
    *,
    metric: str,
    people: str,
    share_of: str,
) -> Iterator[CheckResult]:
    """The overall result with every view's groups, then the gap of each view when bounded."""
    merged: dict[str, dict[str, Any]] = {}
    for res in views.values():
        merged.update(group_entries(res))
    yield CheckResult(**{**overall.__dict__, "by_group": merged})
    if check.max_disparity is not None:
        for view, res in views.items():
            yield gap_result(
                check, spec, view, res, metric=metric, people=people, share_of=share_of
            )
