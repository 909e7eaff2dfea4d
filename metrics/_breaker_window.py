"""One window of reviewed decisions, judged against the breaker's bound.

* a window **trips** the breaker when the lower Wilson bound of the misjudgment rate, overall
  or of any group with at least ``min_cases`` reviewed decisions, is above ``trip_above``;
* a window is **healthy** when the overall cell has ``min_cases`` reviewed decisions and the
  upper Wilson bound of every cell with enough cases is below ``trip_above``;
* a window with fewer than ``min_cases`` reviewed decisions overall is **insufficient**,
  never healthy; any other window is **uncertain**.

Fairness checks computed on the window (:class:`CheckSignal`) are judged by the same rule
when ``policy.trip_on_checks``: a check whose interval lies wholly beyond its threshold trips
the window (conclusive evidence only); a window is healthy only if every check's interval
lies wholly within its thresholds.

This module knows no spec, log or file: it takes counts and returns typed results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ._intervals import wilson_interval

__all__ = [
    "OVERALL",
    "BreakerPolicy",
    "CellStat",
    "CheckSignal",
    "WindowHealth",
    "WindowStats",
    "assess_window",
    "estimated_cells",
    "pooled_trip",
]

#: The key of the cell holding every reviewed decision of a window.
OVERALL = "overall"


class WindowHealth(StrEnum):
    """What one window says about the misjudgment rate."""

    HEALTHY = "healthy"  # every judged upper bound below the bound
    TRIP = "trip"  # a judged lower bound above the bound
    UNCERTAIN = "uncertain"  # neither: the intervals straddle the bound
    INSUFFICIENT = "insufficient"  # too few reviewed decisions overall: never healthy


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
    pool_windows : int
        A group's (and the overall) counts are also judged pooled over the last
        ``pool_windows`` consecutive windows with enough reviewed decisions, since the last
        transition: a pooled lower bound above ``trip_above`` trips the breaker (1: each
        window on its own). Recovery is judged window by window.
    trip_on_checks : bool
        Whether a fairness check whose interval lies wholly beyond its threshold trips the
        breaker (and, while half-open, whether a window is healthy only when every check's
        interval lies within its thresholds). Otherwise checks are recorded only.
    """

    trip_above: float = 0.15
    min_cases: int = 50
    cool_down: int = 1
    recovery_windows: int = 2
    confidence: float = 0.95
    estimate_may_open: bool = False
    pool_windows: int = 3
    trip_on_checks: bool = False

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
        if self.pool_windows < 1:
            raise ValueError(
                f"The 'pool_windows' parameter of BreakerPolicy must be at least 1. "
                f"Got {self.pool_windows!r} instead."
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


def _finite(x: float | None) -> bool:
    return x is not None and bool(np.isfinite(x))


@dataclass(frozen=True)
class CheckSignal:
    """A fairness check's evidence in one window, as the breaker reads it.

    ``sufficient`` is false when the check could not be judged (too few cases in a group,
    fewer than two groups, an error): such a check never trips and is never healthy.
    """

    name: str
    value: float | None
    low: float | None
    high: float | None
    min: float | None = None
    max: float | None = None
    sufficient: bool = True
    group: str | None = None  # the least favoured group

    @property
    def health(self) -> WindowHealth:
        """``trip`` when the interval lies wholly beyond a threshold, ``healthy`` when it
        lies wholly within them, ``insufficient`` without evidence, else ``uncertain``."""
        if not (self.sufficient and _finite(self.low) and _finite(self.high)):
            return WindowHealth.INSUFFICIENT
        lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
        if (self.max is not None and lo > self.max) or (self.min is not None and hi < self.min):
            return WindowHealth.TRIP
        if (self.max is None or hi <= self.max) and (self.min is None or lo >= self.min):
            return WindowHealth.HEALTHY
        return WindowHealth.UNCERTAIN

    @property
    def bound(self) -> float:
        """The threshold the interval is beyond (or, when it is not, the first one set)."""
        if self.min is not None and _finite(self.high) and self.high < self.min:  # type: ignore[operator]
            return self.min
        return self.max if self.max is not None else float(self.min)  # type: ignore[arg-type]


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
    checks: tuple[CheckSignal, ...] = ()  # the fairness checks computed on the window
    #: the check that tripped the window or kept it from being healthy (trip_on_checks)
    check_reason: CheckSignal | None = None
    #: windows the trip's evidence (``reason``) covers: 1, or ``pool_windows`` when the
    #: counts pooled over the last windows tripped it
    pooled: int = 1

    def cell(self, group: str) -> CellStat | None:
        """The cell of ``group``, or ``None`` when the window has none."""
        return next((c for c in self.cells if c.group == group), None)


def assess_window(
    counts: Mapping[str, tuple[int, int]],
    *,
    policy: BreakerPolicy,
    window: int = 0,
    label: str = "",
    checks: Sequence[CheckSignal] = (),
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
    checks : sequence of CheckSignal
        The fairness checks computed on the window's reviewed decisions. They count only
        when ``policy.trip_on_checks`` and the overall cell has ``min_cases`` reviewed
        decisions; a misjudgment trip is reported before a check's.

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
    checks = tuple(checks)
    check_reason = None
    if policy.trip_on_checks and checks and cells[0].judged:
        failing = [c for c in checks if c.health is WindowHealth.TRIP]
        if failing:
            if health is not WindowHealth.TRIP:
                reason = None  # the check, not a misjudgment rate, trips the window
            health, check_reason = WindowHealth.TRIP, failing[0]
        elif health is WindowHealth.HEALTHY:
            unsure = [c for c in checks if c.health is not WindowHealth.HEALTHY]
            if unsure:
                health, check_reason = WindowHealth.UNCERTAIN, unsure[0]
    return WindowStats(
        window=window,
        label=label,
        cells=cells,
        health=health,
        reason=reason,
        checks=checks,
        check_reason=check_reason,
    )


def pooled_trip(pool: Sequence[WindowStats], *, policy: BreakerPolicy) -> CellStat | None:
    """The cell whose counts, pooled over the windows of ``pool``, trip the bound, if any.

    Every window of ``pool`` must have enough reviewed decisions overall; a group is judged
    on its pooled counts (``min_cases`` applies to them).
    """
    totals: dict[str, tuple[int, int]] = {}
    for stats in pool:
        for c in stats.cells:
            k, n = totals.get(c.group, (0, 0))
            totals[c.group] = (k + c.errors, n + c.cases)
    pooled = assess_window(totals, policy=policy)
    return pooled.reason if pooled.health is WindowHealth.TRIP else None


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
