"""The check registry: one function per check type, turning engine results into statuses.

Each check runs on every view it applies to (each sensitive attribute and their intersection
unless the spec names views) and yields one :class:`CheckResult` per view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from metrics import (
    EQUALIZED_ODDS,
    SCORE_METRICS,
    GroupMetrics,
    between_groups,
    exact_threshold,
    get_rate,
    holm,
)

from ._spec import AuditSpec, GroupMetricCheck, ScoreMetricCheck
from ._status import Status

__all__ = ["FAIRNESS_CHECKS", "CheckResult", "decide", "error_results"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one view, as it goes into results.json."""

    name: str
    type: str
    metric: str
    disparity: str
    view: str
    status: Status
    value: float | None
    ci: tuple[float, float] | None
    threshold: dict[str, float]
    decide_on: str
    message: str
    by_group: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def decide(
    value: float,
    ci: tuple[float, float] | None,
    *,
    low: float | None,
    high: float | None,
    decide_on: str,
    exact: Fraction | None = None,
) -> Status:
    """Status of a value against ``[low, high]`` (either bound may be ``None``).

    ``estimate`` compares the point estimate. ``interval`` passes only when the whole interval
    is within the bounds, fails only when the whole interval is beyond one, and is otherwise
    ``INCONCLUSIVE``. With ``exact`` (the estimate as a rational number of the counts), the
    estimate rule compares it with the threshold as written (``0.8`` is 4/5): 32/100 against
    40/100 is a ratio of exactly 0.8, though its float is 0.7999999999999999.
    """

    def within(x: float) -> bool:
        return (low is None or x >= low) and (high is None or x <= high)

    if not _finite(value):
        return Status.INSUFFICIENT
    if decide_on == "estimate":
        if exact is not None:
            ok = (low is None or exact >= exact_threshold(low)) and (
                high is None or exact <= exact_threshold(high)
            )
            return Status.PASS if ok else Status.FAIL
        return Status.PASS if within(value) else Status.FAIL
    if ci is None or not (_finite(ci[0]) and _finite(ci[1])):
        return Status.INCONCLUSIVE
    lo, hi = ci
    if within(lo) and within(hi):
        return Status.PASS
    if (high is not None and lo > high) or (low is not None and hi < low):
        return Status.FAIL
    return Status.INCONCLUSIVE


def _num(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _threshold(check: GroupMetricCheck | ScoreMetricCheck) -> dict[str, float]:
    return {k: v for k, v in (("min", check.min), ("max", check.max)) if v is not None}


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


def _name(check: GroupMetricCheck | ScoreMetricCheck, view: str) -> str:
    return f"{check.name or f'{check.metric} {check.disparity}'} [{view}]"


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
        message = (
            f"{d.metric} {d.kind} over {view}: {value_text}; the policy requires "
            f"{_bound_text(check)}."
        )
        if _finite(d.value):
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
            name=_name(check, view),
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
                "threshold_source": check.source,
                "meaning": _meaning(d.metric, d.kind),
            },
        )


def _score_disparity_ci(rows: Any, kind: str, confidence: float) -> tuple[float, float] | None:
    """Normal-approximation interval of the gap between the highest and lowest group.

    Each group's standard error is read back from its analytic interval; the difference uses
    ``sqrt(se1² + se2²)``, the ratio the delta method on the log scale. ``None`` where a
    group has no interval (the calibration error).
    """
    from statistics import NormalDist

    if len(rows) < 2 or rows.ci_low.isna().any():
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    hi, lo = rows.loc[rows.value.idxmax()], rows.loc[rows.value.idxmin()]
    se_hi, se_lo = ((r.ci_high - r.ci_low) / (2 * z) for r in (hi, lo))
    if kind == "difference":
        gap, se = hi.value - lo.value, float(np.hypot(se_hi, se_lo))
        return (float(max(gap - z * se, 0.0)), float(gap + z * se))
    if lo.value <= 0 or hi.value <= 0:
        return None
    log_ratio = np.log(lo.value / hi.value)
    se = float(np.hypot(se_hi / hi.value, se_lo / lo.value))
    return (float(np.exp(log_ratio - z * se)), float(min(np.exp(log_ratio + z * se), 1.0)))


def score_metric(
    check: ScoreMetricCheck, spec: AuditSpec, gm: GroupMetrics | None, evidence: dict[str, Any]
) -> Iterator[CheckResult]:
    """Disparity of a score metric between groups (needs probabilities), with a normal
    approximation interval from the groups' analytic intervals."""
    for view in spec.views(check):
        base = dict(
            name=_name(check, view),
            type=check.type,
            metric=check.metric,
            disparity=check.disparity,
            view=view,
            threshold=_threshold(check),
            decide_on=check.decide_on,
        )
        if gm is None or gm.scores is None:
            yield CheckResult(
                **base,
                status=Status.SKIPPED,
                value=None,
                ci=None,
                message="skipped: needs probabilities (the model has no "
                "predict_proba), so no score metric can be computed.",
            )
            continue
        rows = gm.scores[(gm.scores.view == view) & (gm.scores.metric == check.metric)]
        enough = rows.n >= gm.min_group_size
        value = (
            float(between_groups(rows.value[enough].to_numpy(), check.disparity))
            if enough.sum() >= 2
            else float("nan")
        )
        ci = _score_disparity_ci(rows[enough], check.disparity, gm.confidence)
        status = decide(value, ci, low=check.min, high=check.max, decide_on=check.decide_on)
        short = list(rows.group[~enough])
        if short and status is not Status.FAIL:
            status = Status.INSUFFICIENT
        yield CheckResult(
            **base,
            status=status,
            value=_num(value),
            ci=ci,
            message=(
                f"{check.metric} {check.disparity} over {view}: "
                f"{value:.3f}; the policy requires {_bound_text(check)}."
                + (f" Too few rows for: {', '.join(short)}." if short else "")
            ),
            by_group={
                r.group: {
                    "value": _num(r.value),
                    "ci": [_num(r.ci_low), _num(r.ci_high)],
                    "n": int(r.n),
                }
                for r in rows.itertuples(index=False)
            },
            details={
                "insufficient_groups": short,
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
                    name=_name(c, v) if hasattr(c, "metric") else (c.name or c.type),
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
                )
            )
    return out
