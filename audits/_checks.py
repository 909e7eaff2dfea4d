"""The check registry: one function per check type, turning engine results into statuses.

Each check runs on every view it applies to (each sensitive attribute and their intersection
unless the spec names views) and yields one :class:`CheckResult` per view (the result and
the rule :func:`decide`: :mod:`._check_result`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metrics import (
    EQUALIZED_ODDS,
    SCORE_METRICS,
    GroupMetrics,
    get_rate,
    holm,
    score_disparity,
)

from ._check_result import CheckResult, _finite, _num, _threshold, decide
from ._spec import AuditSpec, GroupMetricCheck, ScoreMetricCheck
from ._status import Status

__all__ = ["FAIRNESS_CHECKS", "CheckResult", "decide", "error_results"]


def _bound_text(check: GroupMetricCheck | ScoreMetricCheck) -> str:
    parts = ([f"at least {check.min:g}"] if check.min is not None else []) + (
        [f"at most {check.max:g}"] if check.max is not None else []
    )
    return " and ".join(parts)


_KIND_TEXT = {
    "ratio": "The disparity is the lowest group's value divided by the highest group's "
    "(1 means equal; the four-fifths rule asks for at least 0.8).",
    "difference": "The disparity is the highest group's value minus the lowest group's "
    "(0 means equal).",
}


def _meaning(metric: str, kind: str) -> str:
    if metric == EQUALIZED_ODDS:
        text = (
            "Equalized odds: whether people who merit the favourable outcome, and people "
            "who do not, are treated alike across groups (the worse of the two gaps)."
        )
    elif metric in SCORE_METRICS:
        text = f"The {metric.replace('_', ' ')} of the model's score within each group."
    else:
        text = get_rate(metric).meaning
    return f"{text} {_KIND_TEXT[kind]}"


def _name(check: GroupMetricCheck | ScoreMetricCheck, view: str, klass: Any = None) -> str:
    """``'<name> [<view>]'``, with ``[class=<c>]`` before the view for a multiclass class, so
    that two checks on different classes never share a name."""
    label = f" [class={klass}]" if klass is not None else ""
    return f"{check.name or f'{check.metric} {check.disparity}'}{label} [{view}]"


def _too_few_groups(view: str, groups: list[str], excluded: list[str]) -> str:
    """Why a disparity over ``view`` has nothing to compare."""
    if len(groups) == 1:
        return (
            f" Not computable: {view!r} has one group in the data ({groups[0]}), and a "
            "disparity compares at least two."
        )
    return (
        f" Not computable: fewer than two of the {len(groups)} groups of {view!r} are "
        f"compared (excluded: {', '.join(excluded) or 'none'})."
    )


def _all_zero(d: Any) -> bool:
    """Whether every compared group's rate is exactly 0 (a 0/0 ratio)."""
    rows = d.per_group[d.per_group.group.isin(d.compared)]
    return len(rows) >= 2 and bool((rows.numerator == 0).all())


def _all_zero_scores(d: Any) -> bool:
    """Whether every compared group's score metric is exactly 0 (a 0/0 ratio)."""
    rows = d.per_group[d.per_group.group.isin(d.compared)]
    return len(rows) >= 2 and bool((rows.value == 0).all())


def group_metric(
    check: GroupMetricCheck, spec: AuditSpec, gm: GroupMetrics | None, evidence: dict[str, Any]
) -> Iterator[CheckResult]:
    """Disparity of a group rate, decided on its estimate (exactly, on the counts) or on its
    simultaneous interval. Holm's correction of the per-group p-values covers one view, or
    every view of the check with ``family: check``."""
    assert gm is not None
    excluded = {e.group: e.justification for e in check.exclude_groups}
    results = [
        gm.disparity(
            check.metric,
            view=view,
            kind=check.disparity,
            reference=check.reference,
            exclude=list(excluded),
            klass=check.klass,
        )
        for view in spec.views(check)
    ]
    p_holm = [d.per_group.p_holm.to_numpy() for d in results]
    if check.family == "check" and results:
        pooled = holm(np.concatenate([d.per_group.p_value.to_numpy() for d in results]))
        p_holm = np.split(pooled, np.cumsum([len(d.per_group) for d in results])[:-1])
    for view, d, adjusted in zip(spec.views(check), results, p_holm, strict=True):
        d.per_group["p_holm"] = adjusted
        status = decide(
            d.value,
            d.ci,
            low=check.min,
            high=check.max,
            decide_on=check.decide_on,
            exact=d.exact,
        )
        value_text = (
            f"{d.value:.3f} (95% interval {d.ci[0]:.3f} to {d.ci[1]:.3f})"
            if _finite(d.value)
            else "not computable"
        )
        over = f"{view}, class {d.klass}" if d.klass is not None else view
        message = (
            f"{d.metric} {d.kind} over {over}: {value_text}; the policy requires "
            f"{_bound_text(check)}."
        )
        if _finite(d.value) and d.reference is not None:  # the value compares with it
            message += (
                f" Least favoured group: {d.worst_group}, compared with the reference group "
                f"{d.reference}."
            )
        elif _finite(d.value):
            message += f" Least favoured group: {d.worst_group}; most favoured: {d.best_group}."
        if d.insufficient and status is not Status.FAIL:
            status = Status.INSUFFICIENT
            message += (
                f" Too little evidence (under {gm.min_group_size} rows or "
                f"{gm.min_denominator} cases in the rate's denominator) for: "
                f"{', '.join(d.insufficient)}."
            )
        elif len(d.compared) < 2 and status is not Status.FAIL:
            status = Status.INSUFFICIENT
            message += _too_few_groups(view, list(d.per_group.group), list(d.excluded))
        elif d.kind == "ratio" and _all_zero(d):
            status = Status.INSUFFICIENT
            message += (
                " Not computable: every compared group's rate is 0, and a ratio of 0 to 0 is "
                "undefined (nobody in any group received it)."
            )
        significance = None
        if check.significance is not None and d.kind == "ratio" and _finite(d.value):
            from ._policy_checks import four_fifths

            worst = list(d.per_group.group).index(d.worst_group)
            status, text, significance = four_fifths(check, status, _num(adjusted[worst]))
            message += text
        by_group = {
            row.group: {
                "value": _num(row.value),
                "ci": [_num(row.ci_low), _num(row.ci_high)],
                "n": int(row.n),
                "numerator": int(row.numerator),
                "denominator": int(row.denominator),
                "status": row.status,
                "vs_reference": _num(row.vs_reference),
                "p_holm": _num(row.p_holm),
            }
            for row in d.per_group.itertuples(index=False)
        }
        yield CheckResult(
            name=_name(check, view, d.klass),
            type=check.type,
            metric=d.metric,
            disparity=d.kind,
            view=view,
            status=status,
            value=_num(d.value),
            ci=(_num(d.ci[0]), _num(d.ci[1])) if _finite(d.value) else None,  # type: ignore[arg-type]
            threshold=_threshold(check),
            decide_on=check.decide_on,
            message=message,
            by_group=by_group,
            details={
                "reference": d.reference,
                "worst_group": d.worst_group,
                "best_group": d.best_group,
                "minimum_detectable_difference": _num(d.mdd),
                "insufficient_groups": list(d.insufficient),
                "excluded_groups": [{"group": g, "justification": excluded[g]} for g in d.excluded],
                "class": None if d.klass is None else str(d.klass),
                "holm_family": check.family,
                "significance": significance,
                "threshold_source": check.source,
                "meaning": _meaning(d.metric, d.kind),
            },
        )


def _no_scores_reason(gm: GroupMetrics | None, evidence: Any) -> str:
    if gm is not None and not gm.table.binary:
        return (
            "multiclass score metrics (one-vs-rest per class) need the model's probabilities "
            "and their classes: the model gave none, or did not say which class each column "
            "is for (set model.proba_classes)."
        )
    adapter = getattr(evidence, "adapter", None)
    if adapter is not None and adapter.decision_column is not None:
        return "needs scores: set model.score_column to the decision log's score column."
    reason = getattr(evidence, "no_proba_reason", None)
    if reason is None or adapter is None or not adapter.has_proba:
        return (
            "needs probabilities (the model has no predict_proba), so no score metric can "
            "be computed."
        )
    return reason


def score_metric(
    check: ScoreMetricCheck, spec: AuditSpec, gm: GroupMetrics | None, evidence: dict[str, Any]
) -> Iterator[CheckResult]:
    """Disparity of a score metric between groups (needs probabilities; one-vs-rest per class
    for multiclass models), with a simultaneous interval (``metrics.score_range_interval``)."""
    for view in spec.views(check):
        if gm is None or gm.scores is None:
            yield CheckResult(
                name=_name(check, view, check.klass),
                type=check.type,
                metric=check.metric,
                disparity=check.disparity,
                view=view,
                threshold=_threshold(check),
                decide_on=check.decide_on,
                status=Status.SKIPPED,
                value=None,
                ci=None,
                message=f"skipped: {_no_scores_reason(gm, evidence)}",
            )
            continue
        d = score_disparity(
            gm.scores,
            check.metric,
            view=view,
            kind=check.disparity,
            klass=check.klass,
            confidence=gm.confidence,
        )
        ci = d.ci if _finite(d.ci[0]) and _finite(d.ci[1]) else None
        status = decide(d.value, ci, low=check.min, high=check.max, decide_on=check.decide_on)
        over = f"{view}, class {d.klass}" if d.klass is not None else view
        value_text = (
            f"{d.value:.3f}"
            + (f" ({gm.confidence:.0%} interval {ci[0]:.3f} to {ci[1]:.3f})" if ci else "")
            if _finite(d.value)
            else "not computable"
        )
        message = (
            f"{check.metric} {check.disparity} over {over}: {value_text}; the policy requires "
            f"{_bound_text(check)}."
        )
        if _finite(d.value):
            message += f" Lowest group: {d.lowest_group}; highest: {d.highest_group}."
        elif d.kind == "ratio" and _all_zero_scores(d):
            message += (
                f" Not computable: every compared group's {check.metric} is 0, and a ratio of 0 "
                "to 0 is undefined."
            )
        if (d.insufficient or len(d.compared) < 2) and status is not Status.FAIL:
            status = Status.INSUFFICIENT
        if d.insufficient:
            need = f"{gm.min_group_size} rows"
            if check.metric == "roc_auc":
                need += f" and {gm.min_denominator} positives and negatives"
            message += (
                f" Too little evidence (under {need}), left out of the disparity: "
                f"{', '.join(d.insufficient)}."
            )
        yield CheckResult(
            name=_name(check, view, d.klass),
            type=check.type,
            metric=check.metric,
            disparity=check.disparity,
            view=view,
            threshold=_threshold(check),
            decide_on=check.decide_on,
            status=status,
            value=_num(d.value),
            ci=ci,
            message=message,
            by_group={
                r.group: {
                    "value": _num(r.value),
                    "ci": [_num(r.ci_low), _num(r.ci_high)],
                    "n": int(r.n),
                    "positives": int(r.positives),
                    "negatives": int(r.negatives),
                    "status": "compared" if r.sufficient else "insufficient",
                }
                for r in d.per_group.itertuples(index=False)
            },
            details={
                "insufficient_groups": list(d.insufficient),
                "lowest_group": d.lowest_group,
                "highest_group": d.highest_group,
                "class": None if d.klass is None else str(d.klass),
                "threshold_source": check.source,
                "meaning": _meaning(check.metric, check.disparity),
            },
        )


CheckFn = Callable[[Any, AuditSpec, GroupMetrics | None, Any], Iterator[CheckResult]]
FAIRNESS_CHECKS: dict[str, CheckFn] = {"group_metric": group_metric, "score_metric": score_metric}


def error_results(
    spec: AuditSpec,
    message: str,
    checks: list[Any] | None = None,
) -> list[CheckResult]:
    """One ``ERROR`` result per check (and view) that could not be computed."""
    out = []
    for c in spec.checks if checks is None else checks:
        metric = getattr(c, "metric", c.type)
        views = spec.views(c) if hasattr(c, "metric") else ["model"]
        for v in views:
            out.append(
                CheckResult(
                    name=(
                        _name(c, v, getattr(c, "klass", None))
                        if hasattr(c, "metric")
                        else (c.name or c.type)
                    ),
                    type=c.type,
                    metric=metric,
                    disparity=getattr(c, "disparity", ""),
                    view=v,
                    status=Status.ERROR,
                    value=None,
                    ci=None,
                    threshold=_threshold(c),
                    decide_on=c.decide_on,
                    message=message,
                    clause=c.clause.model_dump() if getattr(c, "clause", None) else None,
                )
            )
    return out
