"""The checks policies add: NYC Local Law 144 impact ratios, prohibited uses and declared
requirements (EU AI Act), and the EEOC significance rule beside the four-fifths ratio."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from metrics import RATES, SCORE_METRICS, exact_threshold, wilson_interval
from metrics._rates import _ALIASES

from ._checks import CheckResult
from ._spec import AuditSpec, GroupMetricCheck
from ._spec_policy import ImpactRatioCheck, ProhibitedUseCheck, RequirementCheck
from ._status import Status

__all__ = ["POLICY_CHECKS", "four_fifths", "impact_ratio", "prohibited_use", "requirement"]


def _cited(check: Any) -> str:
    c = check.clause
    return f" ({c.citation}; policy {c.policy} {c.version}, clause {c.id})" if c else ""


def four_fifths(
    check: GroupMetricCheck, status: Status, worst_p: float | None
) -> tuple[Status, str, dict[str, Any]]:
    """The EEOC rule (29 CFR 1607.4(D)): the four-fifths ratio with a significance test.

    Under the bound and significant: ``FAIL``. Under the bound, not significant (a small
    sample): ``INCONCLUSIVE``, reported as such. At or above it but significant: ``PASS``,
    flagged. Returns the status, a sentence for the message, and the details.
    """
    alpha = check.significance
    significant = worst_p is not None and np.isfinite(worst_p) and worst_p < alpha
    p_text = "not computable" if worst_p is None or not np.isfinite(worst_p) else f"{worst_p:.3g}"
    info = {"alpha": alpha, "p_value": worst_p, "significant": bool(significant), "flag": False}
    if status is Status.FAIL and not significant:
        text = (
            f" The ratio is under the bound but the difference is not statistically significant "
            f"(two-proportion test of the least against the most favoured group, Holm-adjusted "
            f"p = {p_text}, level {alpha:g}): in a sample this small it is reported as "
            "inconclusive, not as adverse impact."
        )
        return Status.INCONCLUSIVE, text, {**info, "flag": True}
    if status is Status.FAIL:
        text = f" The shortfall is statistically significant (p = {p_text}, level {alpha:g})."
        return status, text, {**info, "flag": True}
    if status is Status.PASS and significant:
        text = (
            f" Flagged: the ratio meets the bound, but the difference is statistically "
            f"significant (p = {p_text}, level {alpha:g}); the Guidelines let it count as "
            "adverse impact where it is also of practical significance, for the committee."
        )
        return status, text, {**info, "flag": True}
    return status, "", info


def _keys(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    parts = [col + "=" + frame[col].astype(str) for col in cols]
    out = parts[0]
    for part in parts[1:]:
        out = out + "|" + part
    return out


def _outcome(check: ImpactRatioCheck, spec: AuditSpec, evidence: Any) -> np.ndarray | str:
    if check.rate == "selection":
        return np.asarray(pd.Series(evidence.decisions) == spec.data.positive_label)
    scores = getattr(evidence, "scores", None)
    if scores is None:
        return "needs scores (a model with predict_proba, or model.score_column)"
    scores = np.asarray(scores, dtype=float)
    return scores > np.median(scores)  # the whole sample's median (6 RCNY 5-300)


def impact_ratio(
    check: ImpactRatioCheck, spec: AuditSpec, gm: Any, evidence: Any
) -> Iterator[CheckResult]:
    """Each category's rate over the highest category's, per view (6 RCNY 5-301)."""
    frame = evidence.frame
    outcome = _outcome(check, spec, evidence)
    reasons = {e.group: e.justification for e in (*spec.exclusions, *check.exclude_groups)}
    for view in spec.views(check):
        cols = view.split("|")
        base = {
            "name": f"{check.name or f'impact ratio of {check.rate} rate'} [{view}]",
            "type": check.type,
            "metric": f"{check.rate}_rate",
            "disparity": "impact_ratio",
            "view": view,
            "threshold": {} if check.min is None else {"min": check.min},
            "decide_on": "estimate",
        }
        if isinstance(outcome, str):
            yield CheckResult(
                **base, status=Status.SKIPPED, value=None, ci=None, message=f"skipped: {outcome}"
            )
            continue
        values = frame[cols].astype(object)
        unknown = values.isna().any(axis=1) | values.astype(str).isin(check.unknown).any(axis=1)
        keys = _keys(frame, cols)
        total = len(frame)
        table = (
            pd.DataFrame({"key": keys[~unknown], "hit": outcome[~unknown.to_numpy()]})
            .groupby("key", sort=True)["hit"]
            .agg(["size", "sum"])
        )
        problems = [
            f"{g} ({table.loc[g, 'size'] / total:.1%} of the data)"
            for g in reasons
            if g in table.index and table.loc[g, "size"] / total >= check.small_share
        ]
        by_group: dict[str, dict[str, Any]] = {}
        compared = [g for g in table.index if g not in reasons]
        rates = {g: table.loc[g, "sum"] / table.loc[g, "size"] for g in table.index}
        top = max((rates[g] for g in compared), default=float("nan"))
        best = max(compared, key=lambda g: rates[g]) if compared else None
        low, high = wilson_interval(
            table["sum"].to_numpy(), table["size"].to_numpy(), confidence=spec.confidence
        )
        for (g, row), lo, hi in zip(table.iterrows(), low, high, strict=True):
            ratio = rates[g] / top if g in compared and top > 0 else None
            by_group[g] = {
                "n": int(row["size"]),
                "numerator": int(row["sum"]),
                "denominator": int(row["size"]),
                "value": float(rates[g]),
                "ci": [float(lo), float(hi)],
                "share": float(row["size"] / total),
                "impact_ratio": None if ratio is None else float(ratio),
                "status": "excluded" if g in reasons else "highest" if g == best else "compared",
            }
        ratios = {g: by_group[g]["impact_ratio"] for g in compared if top > 0}
        size = spec.data.min_group_size
        small = sorted(g for g in compared if by_group[g]["n"] < size)
        # The headline value: the lowest ratio of a category large enough to judge.
        judged = {g: r for g, r in ratios.items() if g not in small}
        lowest = min(judged, key=judged.get) if len(judged) >= 2 and best not in small else None
        value = judged[lowest] if lowest else None
        flagged = sorted(g for g, r in ratios.items() if r < check.flag_below)
        named, hidden, flags = _disclosed(view, by_group, best, lowest, int(unknown.sum()), flagged)
        against = named or "the highest category, not named under the disclosure rule"
        message = (
            f"impact ratios of the {check.rate} rate over {view}"
            + (f": lowest {value:.3f} ({lowest} against {against})" if lowest else "")
            + "; individuals of unknown category are counted in the disclosure table, not in "
            "the ratios."
        )
        if flagged:  # named where the rates are shown (reports.flagged_named)
            unnamed = [f"{flags[1]} whose rates are not shown"] if flags[1] else []
            message += f" Flagged under {check.flag_below:g}: {', '.join(flags[0] + unnamed)}."
        if small:
            # With the highest category unnamed, no category whose count is suppressed is
            # named either: among the hidden ones, the highest is not told apart.
            listed = [g for g in small if named or g not in hidden]
            more = len(small) - len(listed)
            message += f" Under {size} rows, reported but not judged: " + ", ".join(
                listed + ([f"{more} whose counts are suppressed"] if more else [])
            )
            message += "."
        if problems:
            status = Status.ERROR
            message += (
                f" Only categories under {check.small_share:.0%} of the data may be excluded; "
                f"excluded but larger: {', '.join(problems)}."
            )
        elif len(ratios) < 2:
            status = Status.INSUFFICIENT
            message += " Not computable: fewer than two categories with a positive rate."
        elif best in small:
            status = Status.INSUFFICIENT
            message += (
                f" The most selected category ({best}) has under {size} rows: its rate is "
                "too uncertain to divide by"
                if named
                else " The ratios cannot be judged against the highest category (not "
                "named, its rate not shown: the disclosure rule)"
            ) + " (a category under 2% may be excluded with a reason)."
        elif lowest is None:
            status = Status.INSUFFICIENT
            message += f" Fewer than two categories with at least {size} rows to compare."
        elif check.min is None:
            status = Status.PASS
            message += (
                " The law sets no pass mark: reported, blocking only under a bound the "
                "committee sets (min)" + _cited(check) + "."
            )
        else:
            exact = Fraction(int(table.loc[lowest, "sum"]), int(table.loc[lowest, "size"])) / (
                Fraction(int(table.loc[best, "sum"]), int(table.loc[best, "size"]))
            )
            status = Status.PASS if exact >= exact_threshold(check.min) else Status.FAIL
            message += f" The committee requires at least {check.min:g}{_cited(check)}."
            if status is Status.PASS and small:
                status = Status.INSUFFICIENT
        yield CheckResult(
            **base,
            status=status,
            value=value,
            ci=None,
            message=message,
            by_group=by_group,
            details={
                "rate": check.rate,
                "flag_below": check.flag_below,
                "flagged_groups": flagged,
                "unknown_count": int(unknown.sum()),
                "rows": total,
                "highest_group": best,
                "lowest_group": lowest,
                "unjudged_groups": small,
                "insufficient_groups": small if check.min is not None else [],
                "excluded_groups": [
                    {"group": g, "justification": reasons[g], "share": by_group[g]["share"]}
                    for g in reasons
                    if g in by_group
                ],
                "threshold_source": check.source,
                "meaning": (
                    "The impact ratio is a category's selection rate (or scoring rate: the "
                    "share scoring above the whole sample's median) divided by the highest "
                    "category's (NYC Local Law 144, 6 RCNY 5-300)."
                ),
            },
        )


def _disclosed(
    view: str,
    by_group: dict[str, Any],
    best: str | None,
    lowest: str | None,
    unknown: int,
    flagged: list[str],
) -> tuple[str | None, set[str], tuple[list[str], int]]:
    """The highest category as the reports may name it (``None``: its rate is suppressed,
    so it is not named), the categories whose counts they suppress, and the flagged
    categories they may name (and how many others): the one disclosure rule
    (``reports.highest_named``, ``reports.flagged_named``), applied to the message every
    report shows."""
    from reports import check_counts, flagged_named, highest_named, suppressed

    check = {
        "type": "impact_ratio",
        "view": view,
        "by_group": by_group,
        "details": {"highest_group": best, "lowest_group": lowest, "unknown_count": unknown},
    }
    return (
        highest_named(check),
        suppressed(check_counts(check)),
        flagged_named(check, flagged),
    )


def _deployment_name(check: Any) -> str:
    if check.type == "requirement":
        return f"requirement: {check.requires.replace('_', ' ')}"
    return "prohibited use: " + " or ".join(p.replace("_", " ") for p in check.practices)


def _deployment_result(check: Any, status: Status, value: float, message: str) -> CheckResult:
    bound = {"max": 0.0} if check.type == "prohibited_use" else {"min": 1.0}
    return CheckResult(
        name=check.name or _deployment_name(check),
        type=check.type,
        metric=check.type,
        disparity="",
        view="deployment",
        status=status,
        value=value,
        ci=None,
        threshold=bound,
        decide_on="estimate",
        message=message,
        details={"threshold_source": check.source},
    )


def prohibited_use(
    check: ProhibitedUseCheck, spec: AuditSpec, gm: Any = None, evidence: Any = None
) -> Iterator[CheckResult]:
    """``PROHIBITED`` when the deployment's practice and context are prohibited."""
    d = spec.deployment
    assert d is not None  # the policy refuses a spec without a deployment block
    hit = d.practice in check.practices and d.context in check.contexts
    what = f"{d.practice.replace('_', ' ')} in a {d.context.replace('_', ' ')} context"
    if hit and check.medical_or_safety_exception and d.medical_or_safety_reason:
        yield _deployment_result(
            check,
            Status.PASS,
            0.0,
            f"{what} is prohibited{_cited(check)}, except for medical or safety reasons; the "
            f"deployment states one: {d.medical_or_safety_reason}",
        )
    elif hit:
        yield _deployment_result(
            check,
            Status.PROHIBITED,
            1.0,
            f"prohibited use: {what} is prohibited{_cited(check)}. The audit is refused "
            "whatever the metrics say.",
        )
    else:
        yield _deployment_result(
            check, Status.PASS, 0.0, f"{what} is not a prohibited practice{_cited(check)}."
        )


_KNOWN_METRICS = (*RATES, *_ALIASES, *SCORE_METRICS)


def requirement(
    check: RequirementCheck, spec: AuditSpec, gm: Any = None, evidence: Any = None
) -> Iterator[CheckResult]:
    """``PASS`` when the deployment declares (or the audit examines) what is required."""
    d = spec.deployment
    assert d is not None
    need = check.requires
    if need == "bias_examination":
        fair = [
            c for c in spec.checks if c.type in ("group_metric", "score_metric", "impact_ratio")
        ]
        ok = bool(fair)
        text = (
            f"the audit examines the data for bias with {len(fair)} group check(s)"
            if ok
            else "the audit examines no group rate or score: no bias examination of the data"
        )
    elif need == "accuracy_metrics":
        unknown = [m for m in d.accuracy_metrics if m not in _KNOWN_METRICS]
        ok = bool(d.accuracy_metrics) and not unknown
        text = (
            f"declared accuracy metrics: {', '.join(d.accuracy_metrics)}"
            if ok
            else "deployment.accuracy_metrics must name the rates the audit computes; got "
            f"{d.accuracy_metrics or 'none'}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    else:
        declared = getattr(d, need)
        ok = declared is not None
        label = need.replace("_", " ")
        text = f"{label} declared: {declared}" if ok else f"no {label} declared (deployment.{need})"
    status = Status.PASS if ok else Status.FAIL
    yield _deployment_result(check, status, 1.0 if ok else 0.0, f"{text}{_cited(check)}.")


POLICY_CHECKS = {
    "impact_ratio": impact_ratio,
    "prohibited_use": prohibited_use,
    "requirement": requirement,
}
