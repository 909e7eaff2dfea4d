"""``fairgate monitor``: read a decision log in service, cut it into windows, run the breaker.

The log is replayed from its first row at every run (labels that arrived late count in the
windows they belong to); a window is judged once the log holds a decision after its end (time
windows) or once it is full (count windows). People's actions (``fairgate breaker``) are kept
beside the state file and replayed at the point where they were taken: after the windows the
monitor had judged then. A log that no longer holds the windows an earlier run judged (rotated,
truncated, replaced) never makes the breaker less strict (:mod:`audits._monitor_history`).

Each judged window also runs the spec's ``group_metric`` checks on its reviewed decisions
(:mod:`audits._monitor_checks`); they trip the breaker only with ``monitor.trip_on_fairness``
and only on conclusive evidence.

Files: the state file ``<state dir>/<system>.json`` (what the guard reads), people's actions
``<state dir>/<system>.manual.jsonl``, and the monitoring evidence (``monitoring.json``,
``report.html``, ``transitions.csv``) staged and published like an audit's.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metrics import (
    BreakerPolicy,
    BreakerRun,
    BreakerState,
    ManualAction,
    ManualEvent,
    WindowHealth,
    run_breaker,
)
from reports import event_disclosed

from ._checks import CheckResult
from ._monitor_checks import NOT_JUDGED, check_entry, not_run, signal_of, window_checks
from ._monitor_history import SEVERITY, history_lost
from ._monitor_log import MonitorDataError, Windows, cut_windows, read_log
from ._monitor_state import (
    DEFAULT_STATE_DIR,
    manual_events,
    read_state,
    record_manual,
    state_lock,
    state_of,
    state_path,
    write_state,
)
from ._provenance import utc_now
from ._spec import SpecError
from ._status import ExitCode

if TYPE_CHECKING:
    from ._spec import AuditSpec

__all__ = [
    "DEFAULT_STATE_DIR",
    "ManualLogError",
    "MonitorDataError",
    "MonitorOutcome",
    "Windows",
    "cut_windows",
    "manual_events",
    "monitor",
    "policy_of",
    "read_log",
    "read_state",
    "record_manual",
    "state_lock",
    "state_of",
    "state_path",
    "write_state",
]


class ManualLogError(MonitorDataError):
    """People's recorded actions cannot be read: one of them may have stopped the model."""


@dataclass(frozen=True)
class MonitorOutcome:
    """What a monitor run found, and its exit code."""

    document: dict[str, Any]
    run: BreakerRun
    code: ExitCode
    message: str
    #: How many of people's recorded actions the replay applied.
    manual_seen: int = 0


def policy_of(spec: AuditSpec) -> BreakerPolicy:
    """The breaker policy a spec's ``monitor:`` block sets."""
    mon = spec.monitor
    if mon is None:
        raise SpecError(["monitor is required by fairgate monitor: the spec has no monitor block."])
    if mon.trip_on_fairness and not any(c.type == "group_metric" for c in spec.checks):
        raise SpecError(
            [
                "monitor.trip_on_fairness needs a group_metric check in checks (the fairness "
                "check run on each window). Got none."
            ]
        )
    return BreakerPolicy(
        trip_above=mon.trip_above,
        min_cases=mon.min_cases,
        cool_down=mon.cool_down_windows,
        recovery_windows=mon.recovery_windows,
        confidence=mon.confidence,
        estimate_may_open=mon.estimate_may_open,
        trip_on_checks=mon.trip_on_fairness,
        pool_windows=mon.pool_windows,
    )


def _after_windows(event: dict[str, Any], windows: Windows, *, time_windows: bool) -> int:
    end = event.get("after_end")
    if end is None:
        return 0
    if time_windows:
        return sum(e <= end for e in windows.ends)  # ISO times in UTC sort as text
    return sum(int(e) <= int(end) for e in windows.ends)


def _beyond(fairness: list[list[CheckResult]], labels: list[str]) -> dict[str, list[str]]:
    """Per check, the windows whose interval lies wholly beyond a threshold."""
    out: dict[str, list[str]] = {}
    for w, results in enumerate(fairness):
        for r in results:
            if signal_of(r).health is WindowHealth.TRIP:
                out.setdefault(r.name, []).append(labels[w])
    return out


def _entries(
    run: BreakerRun, windows: Windows, fairness: list[list[CheckResult]]
) -> list[dict[str, Any]]:
    """Each window of the replay as the monitoring document holds it."""
    return [
        {
            "window": w.window,
            "label": w.label,
            "end": windows.ends[w.window],
            "decisions": windows.decisions[w.window],
            "health": w.health.value,
            "state": run.states[w.window].value,
            "estimate": None if w.estimate is None else asdict(w.estimate),
            "estimated": w.estimated,  # judged on the estimate: too few reviews
            "pooled": w.pooled,  # windows whose pooled counts tripped it
            "checks": [check_entry(r) for r in fairness[w.window]],
            "cells": [
                {
                    "group": c.group,
                    "errors": c.errors,
                    "cases": c.cases,
                    "rate": None if c.cases == 0 else c.rate,
                    "low": None if c.cases == 0 else c.low,
                    "high": None if c.cases == 0 else c.high,
                    "judged": c.judged,
                }
                for c in w.cells
            ],
        }
        for w in run.windows
    ]


def _reason(run: BreakerRun, entries: list[dict[str, Any]], policy: dict[str, Any]) -> str:
    if run.final.state is BreakerState.CLOSED or not run.events:
        return "the model decides"
    last = run.events[-1]
    if last.by:
        return f"forced open by {last.by}: {last.reason}"
    opened = next((e for e in reversed(run.events) if e.after is BreakerState.OPEN), last)
    shown = event_disclosed({"windows": entries, "policy": policy}, opened.to_dict())
    if opened.check is not None:
        worst = f"; least favoured group {opened.group}" if opened.group else ""
        cause = (
            f"tripped in window {opened.label}: fairness check {opened.check} at "
            f"{opened.rate:.3f} (interval {opened.low:.3f} to {opened.high:.3f}, wholly beyond "
            f"the threshold {opened.bound:g}{worst})"
            if shown["rate"] is not None
            else f"tripped in window {opened.label}: fairness check {opened.check} with its "
            f"interval wholly beyond the threshold {opened.bound:g}{worst} (its value is "
            "suppressed: a count under 11 could be recovered from it)"
        )
    elif opened.rate is not None:
        over = f" over the last {opened.pooled} windows" if opened.pooled > 1 else ""
        cause = (
            f"tripped in window {opened.label}: {opened.group} misjudged at {opened.rate:.1%}"
            f"{over} (lower bound {opened.low:.1%} above {opened.bound:.0%})"
            if shown["rate"] is not None
            else f"tripped in window {opened.label}: {opened.group} misjudged{over} with the "
            f"lower bound of its rate above {opened.bound:.0%} (its rate is suppressed: a "
            "count under 11 could be recovered from it)"
        )
    else:
        cause = "opened"
    if run.final.state is BreakerState.HALF_OPEN:
        return f"half-open (people decide, the model runs in shadow); {cause}"
    return cause


def monitor(
    spec: AuditSpec,
    *,
    spec_path: Path,
    log: str,
    state_dir: Path,
    monitor_id: str,
) -> MonitorOutcome:
    """Replay the breaker over the log and build the monitoring document.

    Raises
    ------
    MonitorDataError
        When the log cannot be read or lacks the spec's columns (exit 2).
    SpecError
        When the spec has no ``monitor:`` block or names no decision column (exit 4).
    """
    policy = policy_of(spec)
    mon = spec.monitor
    assert mon is not None
    if not (mon.decision or getattr(spec.model, "column", None)):
        raise SpecError(
            [
                "monitor.decision is required: a model of kind "
                f"{spec.model.kind!r} names no decision column of the log."
            ]
        )
    data = spec.data
    uses = [mon.timestamp, data.label, mon.decision or getattr(spec.model, "column", None)]
    uses += [*data.sensitive, mon.score, data.cluster_column]
    frame, files = read_log(log, text=list(data.sensitive), needed=uses)  # groups as written
    windows = cut_windows(frame, spec)
    try:
        previous = read_state(state_path(state_dir, spec.name))
    except (OSError, ValueError, RecursionError):
        previous = None  # no earlier state to hold the replay to
    lost = history_lost(previous, windows)
    time_windows = mon.window_seconds is not None
    try:
        people = manual_events(state_dir, spec.name)
        manual = [
            ManualEvent(
                ManualAction(e["action"]),
                by=e["by"],
                reason=e["reason"],
                after_windows=_after_windows(e, windows, time_windows=time_windows),
                at=e.get("at"),
            )
            for e in people
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        where = Path(state_dir) / f"{spec.name}.manual.jsonl"
        raise ManualLogError(
            f"people's actions in {str(where)!r} cannot be replayed ({type(err).__name__}: "
            f"{err}): repair the file (each line one action written by fairgate breaker)"
        ) from err
    fairness = window_checks(windows, spec, min_cases=policy.min_cases, seed=spec.seed)
    run = run_breaker(
        windows.counts,
        policy=policy,
        labels=windows.labels,
        manual=manual,
        estimates=windows.estimates,
        checks=[[signal_of(r) for r in results] for results in fairness],
    )
    judged = sum(w.health is not WindowHealth.INSUFFICIENT for w in run.windows)
    entries = _entries(run, windows, fairness)
    reason = _reason(run, entries, {"metric": mon.metric})
    final = run.final.state
    was = previous.get("state") if isinstance(previous, dict) else None  # unknown: open
    if lost and SEVERITY[final.value] < SEVERITY.get(str(was), 2):
        raise MonitorDataError(
            f"the breaker is {was} by its earlier runs, but the log no longer holds the windows "
            f"they judged ({lost}); a replay from here would make it {final.value} with no "
            "cool-down or recovery. The breaker is left as it was: a person who has checked "
            f"the model resets it (fairgate breaker reset {spec.name} --by ... --reason ...)"
        )
    if final is not BreakerState.CLOSED:
        code, message = ExitCode.BREAKER_OPEN, f"breaker {final.value}: {reason}"
    elif not judged:
        code = ExitCode.UNDECIDED
        message = (
            f"could not decide: none of the {len(run.windows)} complete window(s) had "
            f"{policy.min_cases} reviewed decisions (monitor.min_cases)"
        )
    elif policy.trip_on_checks and not any(
        r.status not in NOT_JUDGED for results in fairness for r in results
    ):
        # Asked to gate on fairness, it never had the evidence to: never a release.
        code = ExitCode.UNDECIDED
        message = (
            "could not decide: monitor.trip_on_fairness is on, but no window's fairness check "
            "had enough evidence (every group under data.min_group_size or "
            "data.min_denominator, or too few reviewed decisions)"
        )
    else:
        code, message = ExitCode.OK, "breaker closed: the model decides"
    if run.early_warnings:
        last = run.early_warnings[-1]
        message += (
            f"; early warning: in window {last.label} the rate estimated from scores for "
            f"{last.estimate.group} is {last.estimate.rate:.1%} (lower bound "
            f"{last.estimate.low:.1%}), above the bound before the reviews are in"
        )
    beyond = _beyond(fairness, windows.labels)
    if beyond and not policy.trip_on_checks:
        name, labels = next(iter(beyond.items()))
        message += (
            f"; fairness: {name}'s interval lies beyond its threshold in {len(labels)} "
            f"window(s) (last {labels[-1]}), recorded only (monitor.trip_on_fairness is off)"
        )
    spec_sha = hashlib.sha256(Path(spec_path).read_bytes()).hexdigest()
    document = {
        "kind": "fairgate-monitor",
        "monitor_id": monitor_id,
        "system": spec.name,
        "title": spec.system or spec.name,
        "started_at": utc_now(),
        "spec": {"path": str(spec_path), "sha256": spec_sha},
        "model_uri": getattr(spec.model, "uri", None),
        "log": {
            "files": [str(f) for f in files],
            "rows": windows.rows,
            "reviewed": windows.reviewed,
            "pending_rows": windows.pending_rows,
            "first_decision": windows.first_decision,
        },
        "policy": {
            "metric": mon.metric,
            "window": mon.window,
            "trip_above": policy.trip_above,
            "min_cases": policy.min_cases,
            "cool_down_windows": policy.cool_down,
            "recovery_windows": policy.recovery_windows,
            "confidence": policy.confidence,
            "pool_windows": policy.pool_windows,
            "trip_on_fairness": policy.trip_on_checks,
        },
        "fairness": {
            "checks": sorted({r.name for results in fairness for r in results}),
            "not_run": not_run(spec),
            "beyond_threshold": beyond,
        },
        "windows": entries,
        "events": [e.to_dict() for e in run.events],
        "state": final.value,
        "forced": run.final.forced,
        "reason": reason,
        "trips": run.trips,
        "early_warnings": [w.label for w in run.early_warnings],
        "judged_windows": judged,
        "exit_code": int(code),
        "message": message,
    }
    return MonitorOutcome(
        document=document, run=run, code=code, message=message, manual_seen=len(people)
    )
