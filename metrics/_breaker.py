"""A circuit breaker for decisions in service: the state machine.

The breaker follows the resilience pattern service engineers know (resilience4j, Hystrix):
``closed`` (the model decides), ``open`` (people decide) and ``half_open`` (the model runs in
shadow, people decide, agreement is measured). It is driven by windows of reviewed decisions,
judged by :func:`~metrics._breaker_window.assess_window`.

After a trip the breaker stays open for ``cool_down`` windows, then goes half-open; it closes
after ``recovery_windows`` consecutive healthy windows, and opens again on a trip. A person
can force it open (it then stays open until a person resets it) or reset it. Every transition
is a :class:`BreakerEvent` carrying its evidence.

This module knows no spec, log or file: it takes counts and returns typed results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum

from ._breaker_window import (
    OVERALL,
    BreakerPolicy,
    CellStat,
    CheckSignal,
    WindowHealth,
    WindowStats,
    assess_window,
    estimated_cells,
    pooled_trip,
)

__all__ = [
    "BreakerEvent",
    "BreakerRun",
    "BreakerSnapshot",
    "BreakerState",
    "ManualAction",
    "ManualEvent",
    "run_breaker",
    "step_breaker",
]


class BreakerState(StrEnum):
    """Where decisions go: to the model (closed) or to people (open, half-open)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ManualAction(StrEnum):
    """What a named person can do to the breaker."""

    FORCE_OPEN = "force_open"
    RESET = "reset"


#: The causes of a transition to open that the rule (not a person) made.
_TRIPS = ("trip", "estimated_trip", "fairness_trip")


@dataclass(frozen=True)
class BreakerEvent:
    """A transition, with the evidence that caused it."""

    window: int
    label: str
    before: BreakerState
    after: BreakerState
    #: trip | estimated_trip | fairness_trip | cool_down | recovered | force_open | reset
    cause: str
    bound: float
    group: str | None = None
    errors: int | None = None
    cases: int | None = None
    rate: float | None = None
    low: float | None = None
    high: float | None = None
    by: str | None = None
    reason: str | None = None
    at: str | None = None  # when a person acted (ISO 8601)
    #: the fairness check that tripped the breaker (``rate``/``low``/``high`` are then its
    #: value and interval, ``bound`` the threshold they are beyond)
    check: str | None = None
    #: windows whose pooled counts are the evidence (1: the window alone)
    pooled: int = 1

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (states as their text)."""
        out = asdict(self)
        out["before"] = self.before.value
        out["after"] = self.after.value
        return out


@dataclass(frozen=True)
class ManualEvent:
    """A person's action, applied after the breaker has seen ``after_windows`` windows."""

    action: ManualAction
    by: str
    reason: str
    after_windows: int = 0
    at: str | None = None


@dataclass(frozen=True)
class BreakerSnapshot:
    """The breaker between two windows."""

    state: BreakerState = BreakerState.CLOSED
    windows_in_state: int = 0  # windows seen since the last transition
    healthy_streak: int = 0  # consecutive healthy windows while half-open
    forced: bool = False  # forced open by a person: only a reset closes it


@dataclass(frozen=True)
class BreakerRun:
    """The breaker replayed over a sequence of windows."""

    windows: tuple[WindowStats, ...]
    states: tuple[BreakerState, ...]  # the state after each window
    events: tuple[BreakerEvent, ...]
    final: BreakerSnapshot
    policy: BreakerPolicy = field(default_factory=BreakerPolicy)

    @property
    def trips(self) -> int:
        """How many times the rule (not a person) opened the breaker."""
        return sum(e.cause in _TRIPS for e in self.events)

    @property
    def early_warnings(self) -> tuple[WindowStats, ...]:
        """Windows without enough reviews whose estimated rate passes the bound."""
        return tuple(
            w
            for w in self.windows
            if w.estimate is not None and (w.estimated or w.health is not WindowHealth.TRIP)
        )


def _event(
    stats: WindowStats,
    snap: BreakerSnapshot,
    after: BreakerState,
    cause: str,
    policy: BreakerPolicy,
    cell: CellStat | None = None,
) -> BreakerEvent:
    if cause == "fairness_trip" and stats.check_reason is not None:
        check = stats.check_reason
        return BreakerEvent(
            window=stats.window,
            label=stats.label,
            before=snap.state,
            after=after,
            cause=cause,
            bound=check.bound,
            group=check.group,
            rate=check.value,
            low=check.low,
            high=check.high,
            check=check.name,
        )
    pooled = stats.pooled if cell is not None and cell is stats.reason else 1
    cell = cell if cell is not None else stats.cell(OVERALL)
    return BreakerEvent(
        pooled=pooled,
        window=stats.window,
        label=stats.label,
        before=snap.state,
        after=after,
        cause=cause,
        bound=policy.trip_above,
        group=cell.group if cell else None,
        errors=cell.errors if cell else None,
        cases=cell.cases if cell else None,
        rate=cell.rate if cell else None,
        low=cell.low if cell else None,
        high=cell.high if cell else None,
    )


def step_breaker(
    snap: BreakerSnapshot, stats: WindowStats, *, policy: BreakerPolicy
) -> tuple[BreakerSnapshot, list[BreakerEvent]]:
    """Advance the breaker by one judged window.

    Returns
    -------
    snapshot : BreakerSnapshot
        The breaker after the window.
    events : list of BreakerEvent
        The transitions the window caused (none, one, or a trip followed by an immediate
        half-open when ``cool_down`` is 0).
    """
    events: list[BreakerEvent] = []
    trip = (
        "estimated_trip"
        if stats.estimated
        else "fairness_trip"
        if stats.reason is None and stats.check_reason is not None
        else "trip"
    )
    if snap.state is BreakerState.CLOSED:
        if stats.health is WindowHealth.TRIP:
            events.append(_event(stats, snap, BreakerState.OPEN, trip, policy, stats.reason))
            snap = BreakerSnapshot(state=BreakerState.OPEN)
        else:
            return replace(snap, windows_in_state=snap.windows_in_state + 1), events
    elif snap.state is BreakerState.OPEN:
        if snap.forced:
            return replace(snap, windows_in_state=snap.windows_in_state + 1), events
        snap = replace(snap, windows_in_state=snap.windows_in_state + 1)
    else:  # half-open: people decide, the model's agreement is measured
        if stats.health is WindowHealth.TRIP:
            events.append(_event(stats, snap, BreakerState.OPEN, trip, policy, stats.reason))
            snap = BreakerSnapshot(state=BreakerState.OPEN)
        elif stats.health is WindowHealth.HEALTHY:
            streak = snap.healthy_streak + 1
            if streak >= policy.recovery_windows:
                events.append(_event(stats, snap, BreakerState.CLOSED, "recovered", policy))
                return BreakerSnapshot(state=BreakerState.CLOSED), events
            return replace(
                snap, windows_in_state=snap.windows_in_state + 1, healthy_streak=streak
            ), events
        else:  # uncertain or insufficient windows break the run of healthy ones
            return replace(
                snap, windows_in_state=snap.windows_in_state + 1, healthy_streak=0
            ), events
    if snap.state is BreakerState.OPEN and snap.windows_in_state >= policy.cool_down:
        prev = snap
        events.append(_event(stats, prev, BreakerState.HALF_OPEN, "cool_down", policy))
        snap = BreakerSnapshot(state=BreakerState.HALF_OPEN)
    return snap, events


def _manual(
    snap: BreakerSnapshot, event: ManualEvent, *, policy: BreakerPolicy, window: int, label: str
) -> tuple[BreakerSnapshot, BreakerEvent]:
    if event.action is ManualAction.FORCE_OPEN:
        after = BreakerSnapshot(state=BreakerState.OPEN, forced=True)
    else:
        after = BreakerSnapshot(state=BreakerState.CLOSED)
    return after, BreakerEvent(
        window=window,
        label=label,
        before=snap.state,
        after=after.state,
        cause=event.action.value,
        bound=policy.trip_above,
        by=event.by,
        reason=event.reason,
        at=event.at,
    )


def run_breaker(
    windows: Iterable[Mapping[str, tuple[int, int]]],
    *,
    policy: BreakerPolicy,
    labels: Sequence[str] | None = None,
    manual: Iterable[ManualEvent] = (),
    estimates: Sequence[Mapping[str, tuple[float, float, int]]] | None = None,
    checks: Sequence[Sequence[CheckSignal]] | None = None,
) -> BreakerRun:
    """Replay the breaker over windows of counts, from closed.

    Parameters
    ----------
    windows : iterable of mappings of str to (errors, cases)
        Each window's cells, in time order (see :func:`assess_window`).
    policy : BreakerPolicy
        The rules.
    labels : sequence of str, optional
        The windows' names (default: their positions).
    manual : iterable of ManualEvent
        People's actions, each applied after ``after_windows`` windows, in the given order.
    estimates : sequence of mappings, optional
        Per window, the confidence-based estimates of :func:`estimated_cells`. An estimate
        whose lower bound passes the bound marks the window (``WindowStats.estimate``); it
        trips the breaker only in a window without enough reviews, and only when
        ``policy.estimate_may_open``.
    checks : sequence of sequences of CheckSignal, optional
        Per window, the fairness checks computed on its reviewed decisions (see
        :func:`assess_window`); they trip the breaker only when ``policy.trip_on_checks``.

    Returns
    -------
    BreakerRun
    """
    pending = sorted(enumerate(manual), key=lambda x: (x[1].after_windows, x[0]))
    snap = BreakerSnapshot()
    all_stats: list[WindowStats] = []
    states: list[BreakerState] = []
    events: list[BreakerEvent] = []

    def apply_manual(seen: int, label: str) -> None:
        nonlocal snap, pending
        while pending and pending[0][1].after_windows <= seen:
            snap, ev = _manual(snap, pending.pop(0)[1], policy=policy, window=seen - 1, label=label)
            events.append(ev)

    apply_manual(0, "")
    pool: list[WindowStats] = []  # consecutive judged windows since the last transition
    for i, counts in enumerate(windows):
        label = labels[i] if labels is not None else str(i)
        signals = checks[i] if checks is not None else ()
        stats = assess_window(counts, policy=policy, window=i, label=label, checks=signals)
        if estimates is not None:
            cells = [c for c in estimated_cells(estimates[i], policy=policy) if c.judged]
            high = [c for c in cells if c.low > policy.trip_above]
            if high:
                early = max(high, key=lambda c: (c.low, c.group != OVERALL))
                stats = replace(stats, estimate=early)
                if stats.health is WindowHealth.INSUFFICIENT and policy.estimate_may_open:
                    stats = replace(stats, health=WindowHealth.TRIP, reason=early, estimated=True)
        judged = stats.cells[0].judged
        pool = [*pool, stats][-policy.pool_windows :] if judged else []
        if stats.health is not WindowHealth.TRIP and len(pool) == policy.pool_windows > 1:
            cell = pooled_trip(pool, policy=policy)
            if cell is not None:
                stats = replace(stats, health=WindowHealth.TRIP, reason=cell, pooled=len(pool))
        seen = len(events)
        snap, evs = step_breaker(snap, stats, policy=policy)
        all_stats.append(stats)
        events.extend(evs)
        apply_manual(i + 1, label)
        states.append(snap.state)
        if len(events) > seen:
            pool = []  # evidence from before a transition does not count after it
    apply_manual(10**12, all_stats[-1].label if all_stats else "")  # actions after the log
    return BreakerRun(
        windows=tuple(all_stats),
        states=tuple(states),
        events=tuple(events),
        final=snap,
        policy=policy,
    )
