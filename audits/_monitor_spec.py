"""The spec's ``monitor:`` block: how a decision log in service is cut into windows and judged.

Unknown keys are refused; every value is checked against its range, so that a typo or a
window of ``0`` is a usage error (exit 4), never a monitor that silently watches nothing.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._spec_rules import MIN_SHOWN, disclosed_minimum

__all__ = ["MONITOR_METRICS", "MonitorSpec", "parse_duration"]

#: Misjudgment rates the monitor can watch.
MONITOR_METRICS = ("error_rate", "false_positive_rate", "false_negative_rate")

_UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"^\s*(\d+)\s*(s|min|h|d|w)\s*$")
_COUNT = re.compile(r"^\s*(\d+)\s*(decisions)?\s*$")


def parse_duration(text: str) -> int | None:
    """Seconds in ``'90s'``, ``'15min'``, ``'1h'``, ``'2d'``, ``'1w'``; ``None`` if not one."""
    match = _DURATION.match(text)
    return int(match[1]) * _UNITS[match[2]] if match else None


class MonitorSpec(BaseModel):
    """``monitor:``: the circuit breaker watching the system's decisions in service."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: The log's column holding when each decision was made.
    timestamp: Annotated[str, Field(min_length=1)]
    #: ``1h`` (a duration: s, min, h, d, w) or a number of decisions (``5000``).
    window: int | str
    #: The bound on the misjudgment rate: the breaker trips when a lower bound passes it.
    trip_above: Annotated[float, Field(gt=0, lt=1)] = 0.15
    #: Reviewed decisions a window (overall) or a group needs to be judged.
    min_cases: Annotated[
        int,
        Field(json_schema_extra={"minimum": MIN_SHOWN}),  # the message says why
        disclosed_minimum("a window or group judged with fewer reviewed decisions"),
    ] = 50
    #: Windows (or a duration, with time windows) the breaker stays open after a trip.
    cool_down: int | str = 1
    #: Each group's counts are also judged pooled over the last ``pool_windows`` consecutive
    #: windows with enough reviews (since the last transition); 1 judges windows alone.
    pool_windows: Annotated[int, Field(ge=1, le=100)] = 3
    #: Consecutive healthy half-open windows needed to close.
    recovery_windows: Annotated[int, Field(ge=1, le=1000)] = 2
    #: The misjudgment rate watched.
    metric: Literal[MONITOR_METRICS] = "error_rate"  # type: ignore[valid-type]
    #: The log's decision column (default: ``model.column`` of a ``predictions`` model).
    decision: str | None = None
    #: Confidence of the two-sided Wilson interval whose bounds are compared with the bound.
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    #: The log's column of calibrated probabilities of ``data.positive_label``: the
    #: misjudgment rate is then also estimated before reviews come in (an early warning).
    score: Annotated[str, Field(min_length=1)] | None = None
    #: Whether that estimate may open the breaker in a window without enough reviews.
    estimate_may_open: bool = False
    #: Whether a ``group_metric`` check of the spec, run on each window's reviewed decisions,
    #: trips the breaker when its interval lies wholly beyond its threshold (and, while
    #: half-open, keeps a window from being healthy unless its interval lies within them).
    #: Otherwise the checks are recorded and reported only.
    trip_on_fairness: bool = False

    @field_validator("window")
    @classmethod
    def _window(cls, value: int | str) -> int | str:
        if isinstance(value, bool):
            raise ValueError(f"must be a duration such as '1h' or a count. Got {value!r} instead.")
        if isinstance(value, str):
            count = _COUNT.match(value)
            if count:
                value = int(count[1])
            elif parse_duration(value) is None:
                raise ValueError(
                    "must be a duration such as '1h' (units s, min, h, d, w) or a number of "
                    f"decisions such as 5000. Got {value!r} instead."
                )
            elif parse_duration(value) == 0:
                raise ValueError(f"must be a duration above 0. Got {value!r} instead.")
        if isinstance(value, int) and not 1 <= value <= 10_000_000:
            raise ValueError(
                f"must be a number of decisions in [1, 10000000]. Got {value!r} instead."
            )
        return value

    @field_validator("cool_down")
    @classmethod
    def _cool_down(cls, value: int | str) -> int | str:
        if isinstance(value, bool) or (isinstance(value, int) and not 0 <= value <= 10_000):
            raise ValueError(f"must be a number of windows in [0, 10000]. Got {value!r} instead.")
        if isinstance(value, str) and parse_duration(value) is None:
            raise ValueError(
                f"must be a number of windows or a duration such as '2h'. Got {value!r} instead."
            )
        return value

    @model_validator(mode="after")
    def _cool_down_fits_the_window(self) -> MonitorSpec:
        if isinstance(self.cool_down, str) and self.window_seconds is None:
            raise ValueError(
                "monitor.cool_down may be a duration only with time windows (window: '1h'); "
                f"with windows of {self.window} decisions give a number of windows. "
                f"Got {self.cool_down!r} instead."
            )
        return self

    @model_validator(mode="after")
    def _estimate_needs_scores(self) -> MonitorSpec:
        if self.estimate_may_open and self.score is None:
            raise ValueError(
                "monitor.estimate_may_open needs monitor.score (the column of calibrated "
                "probabilities the estimate is made from). Got no monitor.score."
            )
        if self.score is not None and self.metric != "error_rate":
            raise ValueError(
                "monitor.score estimates the error_rate only; set monitor.metric: error_rate. "
                f"Got {self.metric!r} instead."
            )
        return self

    @property
    def window_seconds(self) -> int | None:
        """The window's length in seconds, or ``None`` for count windows."""
        return parse_duration(self.window) if isinstance(self.window, str) else None

    @property
    def window_count(self) -> int | None:
        """Decisions per window, or ``None`` for time windows."""
        return self.window if isinstance(self.window, int) else None

    @property
    def cool_down_windows(self) -> int:
        """``cool_down`` in windows (a duration is rounded up to whole windows)."""
        if isinstance(self.cool_down, int):
            return self.cool_down
        seconds = parse_duration(self.cool_down) or 0
        return math.ceil(seconds / (self.window_seconds or 1))
