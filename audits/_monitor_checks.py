"""The spec's fairness checks, per window of a decision log in service.

Each complete window with ``monitor.min_cases`` reviewed decisions runs the spec's
``group_metric`` checks on its reviewed decisions with the audit's own engine
(:func:`metrics.group_metrics` and :func:`audits._checks.group_metric`): the same intervals,
minimum group sizes (``data.min_group_size``, ``data.min_denominator``), Holm correction and
statuses. A window with fewer reviewed decisions gives ``insufficient_evidence`` for every
check, never a pass. The review outcome is the label: rates are computed over the decisions
whose review is in, so a review process that picks whom it reviews shapes them.

Other check types (score metrics, explanations, robustness) need the model or its inputs and
are not run per window; the monitoring document lists them as not run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from metrics import CheckSignal, group_metrics
from reports import count_text

from ._checks import CheckResult, error_results, group_metric
from ._status import Status

if TYPE_CHECKING:
    from ._monitor_log import Windows
    from ._spec import AuditSpec

__all__ = ["NOT_JUDGED", "check_entry", "not_run", "prohibitions", "signal_of", "window_checks"]

#: Statuses that carry no evidence for the breaker: never a trip, never healthy.
NOT_JUDGED = (Status.INSUFFICIENT, Status.ERROR, Status.SKIPPED)


def not_run(spec: AuditSpec) -> list[dict[str, str]]:
    """The spec's checks that are not run per window, and why."""
    return [
        {
            "check": c.name or getattr(c, "metric", c.type),
            "type": c.type,
            "why": "needs the model or its inputs; fairgate monitor reads decisions only",
        }
        for c in spec.checks
        if c.type != "group_metric"
    ]


def prohibitions(spec: AuditSpec) -> list[str]:
    """Why the spec's declared deployment is prohibited by its policies (empty: it is not).

    A prohibited use is refused whatever the windows say: no breaker may close on it."""
    from ._policy_checks import prohibited_use

    if spec.deployment is None:
        return []
    return [
        r.message
        for c in spec.checks
        if c.type == "prohibited_use"
        for r in prohibited_use(c, spec)
        if r.status is Status.PROHIBITED
    ]


def _insufficient(spec: AuditSpec, message: str) -> list[CheckResult]:
    checks = [c for c in spec.checks if c.type == "group_metric"]
    return [replace(r, status=Status.INSUFFICIENT) for r in error_results(spec, message, checks)]


def window_checks(
    windows: Windows, spec: AuditSpec, *, min_cases: int, seed: int = 0
) -> list[list[CheckResult]]:
    """Per complete window, the results of the spec's ``group_metric`` checks.

    Parameters
    ----------
    windows : Windows
        The log cut into windows (with its reviewed rows).
    spec : AuditSpec
        The checks, the data's group-size floors and the interval's confidence.
    min_cases : int
        Reviewed decisions (in the monitored rate's denominator) a window needs.
    seed : int
        Seed of the bootstrap (used with ``data.cluster_column`` only); window ``w`` draws
        from ``seed + w``.

    Returns
    -------
    list of lists of CheckResult
        One list per window, one result per check and view.
    """
    checks = [c for c in spec.checks if c.type == "group_metric"]
    rows = windows.reviewed_rows
    out: list[list[CheckResult]] = []
    if not checks or rows is None:
        return [[] for _ in windows.counts]
    by_window = dict(tuple(rows.groupby("w", sort=True)))
    cluster = spec.data.cluster_column
    for w, counts in enumerate(windows.counts):
        cases = counts["overall"][1]
        if cases < min_cases:
            out.append(
                _insufficient(
                    spec,
                    f"insufficient evidence: the window has {count_text(cases)} reviewed "
                    "decision(s), "
                    f"under monitor.min_cases ({min_cases}); the check is not computed.",
                )
            )
            continue
        part = by_window[w]
        results: list[CheckResult] = []
        try:
            gm = group_metrics(
                part["y_true"].to_numpy(),
                part["y_pred"].to_numpy(),
                part[list(spec.data.sensitive)],
                pos_label=True,
                n_boot=spec.n_boot,
                seed=seed + w,
                confidence=spec.confidence,
                min_group_size=spec.data.min_group_size,
                min_denominator=spec.data.min_denominator,
                **({"clusters": part[cluster].to_numpy()} if cluster else {}),
            )
        except Exception as err:  # a window the engine cannot count is never a pass
            out.append(error_results(spec, f"could not be computed: {err}", checks))
            continue
        for check in checks:
            try:
                results.extend(group_metric(check, spec, gm, {}))
            except Exception as err:
                results.extend(error_results(spec, f"could not be computed: {err}", [check]))
        out.append(results)
    return out


def signal_of(result: CheckResult) -> CheckSignal:
    """What the breaker reads of a check's result: its interval against its thresholds."""
    ci = result.ci or (None, None)
    return CheckSignal(
        name=result.name,
        value=result.value,
        low=ci[0],
        high=ci[1],
        min=result.threshold.get("min"),
        max=result.threshold.get("max"),
        sufficient=result.status not in NOT_JUDGED,
        group=result.details.get("worst_group"),
    )


def check_entry(result: CheckResult) -> dict[str, Any]:
    """One check in one window, as the monitoring document holds it (no group counts)."""
    signal = signal_of(result)
    return {
        "name": result.name,
        "metric": result.metric,
        "disparity": result.disparity,
        "view": result.view,
        "status": result.status.value,
        "value": result.value,
        "ci": None if result.ci is None else list(result.ci),
        "threshold": result.threshold,
        "decide_on": result.decide_on,
        # the breaker's reading: trip (interval beyond a threshold), healthy (within),
        # uncertain, insufficient
        "evidence": signal.health.value,
        "worst_group": result.details.get("worst_group"),
        "insufficient_groups": result.details.get("insufficient_groups", []),
        "message": result.message,
    }
