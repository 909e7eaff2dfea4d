"""A check's result on one view, and the rule that decides its status from a value, its
interval and the policy's bounds: shared by every check type (see :mod:`._checks`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from metrics import exact_threshold

from ._spec import GroupMetricCheck, ScoreMetricCheck
from ._status import Status

__all__ = ["CheckResult", "decide"]


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
    #: The policy clause the check implements (policy, version, id, citation), if any.
    clause: dict[str, str] | None = None


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
    bounds = (("min", getattr(check, "min", None)), ("max", getattr(check, "max", None)))
    return {k: v for k, v in bounds if v is not None}
