"""A circuit breaker for decisions in service: window statistics and the state machine.

The breaker follows the resilience pattern service engineers know (resilience4j, Hystrix):
``closed`` (the model decides), ``open`` (people decide) and ``half_open`` (the model runs in
shadow, people decide, agreement is measured). It is driven by windows of reviewed decisions:

* a window **trips** the breaker when the lower Wilson bound of the misjudgment rate, overall
  or of any group with at least ``min_cases`` reviewed decisions, is above ``trip_above``;
* a window is **healthy** when the overall cell has ``min_cases`` reviewed decisions and the
  upper Wilson bound of every cell with enough cases is below ``trip_above``;
* a window with fewer than ``min_cases`` reviewed decisions overall is **insufficient**,
  never healthy; any other window is **uncertain**.

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

import numpy as np

from ._intervals import wilson_interval

__all__ = [
    "OVERALL",
    "BreakerEvent",
    "BreakerPolicy",
    "BreakerRun",
    "BreakerSnapshot",
    "BreakerState",
    "CellStat",
    "ManualAction",
    "ManualEvent",
    "WindowHealth",
    "WindowStats",
    "assess_window",
    "estimated_cells",
    "run_breaker",
    "step_breaker",
]

#: The key of the cell holding every reviewed decision of a window.
OVERALL = "overall"


class BreakerState(StrEnum):
    """Where decisions go: to the model (closed) or to people (open, half-open)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class WindowHealth(StrEnum):
    """What one window says about the misjudgment rate."""

    HEALTHY = "healthy"  # every judged upper bound below the bound
    TRIP = "trip"  # a judged lower bound above the bound
    UNCERTAIN = "uncertain"  # neither: the intervals straddle the bound
    INSUFFICIENT = "insufficient"  # too few reviewed decisions overall: never healthy


class ManualAction(StrEnum):
    """What a named person can do to the breaker."""

    FORCE_OPEN = "force_open"
    RESET = "reset"


@dataclass(frozen=True)
class BreakerPolicy:
    """The trip and recovery rules.

    Parameters
    ----------
    trip_above : float
        The bound on the misjudgment rate, in (0, 1).
    min_cases : int
        Reviewed decisions a cell needs to be judged (at least 1).
    cool_down : int
        Windows the breaker stays open after a trip before it goes half-open (at least 0).
    recovery_windows : int
        Consecutive healthy half-open windows needed to close (at least 1).
    confidence : float
        Confidence of the two-sided Wilson interval whose bounds are compared, in (0, 1).
    estimate_may_open : bool
        Whether an estimated rate (confidence-based estimation from calibrated scores) may
        trip the breaker in a window without enough reviewed decisions. Otherwise such an
        estimate is an early warning only.
    """

    trip_above: float = 0.15
    min_cases: int = 50
    cool_down: int = 1
    recovery_windows: int = 2
    confidence: float = 0.95
    estimate_may_open: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.trip_above < 1.0:
            raise ValueError(
                f"The 'trip_above' parameter of BreakerPolicy must be in (0, 1). "
                f"Got {self.trip_above!r} instead."
            )
        if self.min_cases < 1:
            raise ValueError(
                f"The 'min_cases' parameter of BreakerPolicy must be at least 1. "
                f"Got {self.min_cases!r} instead."
            )
        if self.cool_down < 0:
            raise ValueError(
                f"The 'cool_down' parameter of BreakerPolicy must be at least 0. "
                f"Got {self.cool_down!r} instead."
            )
        if self.recovery_windows < 1:
            raise ValueError(
                f"The 'recovery_windows' parameter of BreakerPolicy must be at least 1. "
                f"Got {self.recovery_windows!r} instead."
            )
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(
                f"The 'confidence' parameter of BreakerPolicy must be in (0, 1). "
                f"Got {self.confidence!r} instead."
            )


@dataclass(frozen=True)
class CellStat:
    """The misjudgment rate of one cell (``overall`` or a group) in one window."""

    group: str
    errors: int
    cases: int
    rate: float
    low: float
    high: float
    judged: bool  # enough reviewed cases to be compared with the bound


@dataclass(frozen=True)
class WindowStats:
    """One window's cells and what they say."""

    window: int
    label: str
    cells: tuple[CellStat, ...]
    health: WindowHealth
    reason: CellStat | None  # the cell that decided a trip (the highest lower bound)
    #: the estimated cell (from scores) whose lower bound passes the bound, if any
    estimate: CellStat | None = None
    estimated: bool = False  # the trip rests on the estimate (no reviews yet)

    def cell(self, group: str) -> CellStat | None:
        """The cell of ``group``, or ``None`` when the window has none."""
        return next((c for c in self.cells if c.group == group), None)


@dataclass(frozen=True)
class BreakerEvent:
    """A transition, with the evidence that caused it."""

    window: int
    label: str
    before: BreakerState
    after: BreakerState
    cause: str  # trip | cool_down | recovered | force_open | reset
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
        return sum(e.cause in ("trip", "estimated_trip") for e in self.events)

    @property
    def early_warnings(self) -> tuple[WindowStats, ...]:
        """Windows without enough reviews whose estimated rate passes the bound."""
        return tuple(
            w
            for w in self.windows
            if w.estimate is not None and (w.estimated or w.health is not WindowHealth.TRIP)
        )


def assess_window(
    counts: Mapping[str, tuple[int, int]],
    *,
    policy: BreakerPolicy,
    window: int = 0,
    label: str = "",
) -> WindowStats:
    """Compute the Wilson interval of every cell of a window and judge the window.

    Parameters
    ----------
    counts : mapping of str to (errors, cases)
        Misjudged and reviewed decisions per cell; :data:`OVERALL` holds the whole window
        (it is computed as the sum over the other cells when absent, which is right only
        when the cells partition the window).
    policy : BreakerPolicy
        The rules.
    window : int
        The window's position.
    label : str
        The window's name (its start time, its first row).

    Returns
    -------
    WindowStats
    """
    counts = dict(counts)
    if OVERALL not in counts:
        counts[OVERALL] = (
            sum(k for k, _ in counts.values()),
            sum(n for _, n in counts.values()),
        )
    groups = [OVERALL, *sorted(g for g in counts if g != OVERALL)]
    k = np.array([counts[g][0] for g in groups], dtype=float)
    n = np.array([counts[g][1] for g in groups], dtype=float)
    if (k < 0).any() or (k > n).any():
        raise ValueError(
            "The 'counts' parameter of assess_window must hold 0 <= errors <= cases per "
            f"cell. Got {counts!r} instead."
        )
    low, high = wilson_interval(k, n, confidence=policy.confidence)
    cells = tuple(
        CellStat(
            group=g,
            errors=int(k[i]),
            cases=int(n[i]),
            rate=float(k[i] / n[i]) if n[i] else float("nan"),
            low=float(low[i]),
            high=float(high[i]),
            judged=bool(n[i] >= policy.min_cases),
        )
        for i, g in enumerate(groups)
    )
    judged = [c for c in cells if c.judged]
    tripping = [c for c in judged if c.low > policy.trip_above]
    if tripping:
        health = WindowHealth.TRIP
        reason: CellStat | None = max(tripping, key=lambda c: (c.low, c.group != OVERALL))
    elif not cells[0].judged:
        health, reason = WindowHealth.INSUFFICIENT, None
    elif all(c.high < policy.trip_above for c in judged):
        health, reason = WindowHealth.HEALTHY, None
    else:
        health = WindowHealth.UNCERTAIN
        reason = max(judged, key=lambda c: (c.high, c.group != OVERALL))
    return WindowStats(window=window, label=label, cells=cells, health=health, reason=reason)


def estimated_cells(
    estimates: Mapping[str, tuple[float, float, int]], *, policy: BreakerPolicy
) -> tuple[CellStat, ...]:
    """Estimated misjudgment rates from calibrated scores (confidence-based estimation).

    Parameters
    ----------
    estimates : mapping of str to (expected errors, variance, decisions)
        Per cell, the sum over decisions of the probability that the decision is wrong, the
        sum of its Bernoulli variances, and the number of decisions (reviewed or not).
    policy : BreakerPolicy
        The rules (``confidence`` and ``min_cases``).

    Returns
    -------
    tuple of CellStat
        ``errors`` is the expected count, rounded; the bounds are the normal approximation
        of the Poisson-binomial count, clipped to [0, 1].
    """
    from ._intervals import _z

    z = _z(policy.confidence)
    out = []
    for group in sorted(estimates, key=lambda g: (g != OVERALL, g)):
        expected, variance, n = estimates[group]
        if n <= 0:
            continue
        half = z * float(np.sqrt(max(variance, 0.0)))
        out.append(
            CellStat(
                group=group,
                errors=round(float(expected)),
                cases=int(n),
                rate=expected / n,
                low=float(np.clip((expected - half) / n, 0.0, 1.0)),
                high=float(np.clip((expected + half) / n, 0.0, 1.0)),
                judged=bool(n >= policy.min_cases),
            )
        )
    return tuple(out)


def _event(
    stats: WindowStats,
    snap: BreakerSnapshot,
    after: BreakerState,
    cause: str,
    policy: BreakerPolicy,
    cell: CellStat | None = None,
) -> BreakerEvent:
    cell = cell if cell is not None else stats.cell(OVERALL)
    return BreakerEvent(
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
    trip = "estimated_trip" if stats.estimated else "trip"
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
    for i, counts in enumerate(windows):
        label = labels[i] if labels is not None else str(i)
        stats = assess_window(counts, policy=policy, window=i, label=label)
        if estimates is not None:
            cells = [c for c in estimated_cells(estimates[i], policy=policy) if c.judged]
            high = [c for c in cells if c.low > policy.trip_above]
            if high:
                early = max(high, key=lambda c: (c.low, c.group != OVERALL))
                stats = replace(stats, estimate=early)
                if stats.health is WindowHealth.INSUFFICIENT and policy.estimate_may_open:
                    stats = replace(stats, health=WindowHealth.TRIP, reason=early, estimated=True)
        snap, evs = step_breaker(snap, stats, policy=policy)
        all_stats.append(stats)
        events.extend(evs)
        apply_manual(i + 1, label)
        states.append(snap.state)
    apply_manual(10**12, all_stats[-1].label if all_stats else "")  # actions after the log
    return BreakerRun(
        windows=tuple(all_stats),
        states=tuple(states),
        events=tuple(events),
        final=snap,
        policy=policy,
    )
