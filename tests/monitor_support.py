"""Service logs for the circuit-breaker tests: decisions over time, reviewed or not."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-03-02T08:00:00Z")
HOUR = pd.Timedelta(hours=1)


def service_log(
    rates: Sequence[float | tuple[float, float]],
    *,
    per_window: int = 1000,
    share_a: float = 0.2,
    reviewed: float = 1.0,
    seed: int = 0,
    start: pd.Timestamp = START,
    window: pd.Timedelta = HOUR,
    tail: bool = True,
) -> pd.DataFrame:
    """One window of ``per_window`` decisions per entry of ``rates``: the misjudgment rate of
    group ``a`` (``share_a`` of traffic), or ``(rate of a, rate of b)``; ``b`` is at 5 % by
    default. ``reviewed`` is the share of rows whose review outcome (``outcome``) is known;
    ``tail`` adds one decision after the last window so that it is complete."""
    rng = np.random.default_rng(seed)
    frames = []
    for w, rate in enumerate(rates):
        ra, rb = rate if isinstance(rate, tuple) else (rate, 0.05)
        group = np.where(rng.random(per_window) < share_a, "a", "b")
        outcome = (rng.random(per_window) < 0.5).astype(int)
        r = np.where(group == "a", ra, rb)
        wrong = rng.random(per_window) < r
        decision = np.where(wrong, 1 - outcome, outcome)
        seconds = np.sort(rng.uniform(0, window.total_seconds() - 1, per_window))
        label = np.where(rng.random(per_window) < reviewed, outcome.astype(float), np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "ts": start + w * window + pd.to_timedelta(seconds, unit="s"),
                    "group": group,
                    "x": decision * 20.0,  # the served model decides from x alone
                    "decision": decision,
                    "outcome": label,
                    # calibrated P(outcome = 1): the decision is wrong with probability r
                    "score": np.where(decision == 1, 1 - r, r),
                }
            )
        )
    if tail:
        frames.append(
            pd.DataFrame(
                {
                    "ts": [start + len(rates) * window],
                    "group": ["b"],
                    "x": [0.0],
                    "decision": [0],
                    "outcome": [np.nan],
                    "score": [0.05],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def monitor_spec(log: Path | str, **monitor: Any) -> dict[str, Any]:
    """A spec watching the log ``log`` with ``monitor`` overriding the defaults."""
    return {
        "name": "service-watch",
        "model": {"kind": "predictions", "column": "decision"},
        "data": {"path": str(log), "label": "outcome", "sensitive": ["group"]},
        "checks": [{"metric": "error_rate", "disparity": "difference", "max": 0.1}],
        "monitor": {
            "timestamp": "ts",
            "window": "1h",
            "cool_down": 1,
            "recovery_windows": 2,
            **monitor,
        },
    }


def selection_log(
    base_a: Sequence[float], *, per_window: int = 1000, share_a: float = 0.3, seed: int = 0
) -> pd.DataFrame:
    """A service log whose decisions are right 95 % of the time in both groups, while the
    share of group ``a`` with the favourable outcome (1) is ``base_a[w]`` in window ``w``
    (group ``b``: 50 %): the selection-rate ratio between the groups follows ``base_a``."""
    log = service_log([0.05] * len(base_a), per_window=per_window, share_a=share_a, seed=seed)
    rng = np.random.default_rng(seed + 1)
    window = ((log["ts"] - START) // HOUR).clip(upper=len(base_a) - 1).to_numpy()
    base = np.where(log["group"] == "a", np.asarray(base_a)[window], 0.5)
    outcome = (rng.random(len(log)) < base).astype(int)
    wrong = rng.random(len(log)) < 0.05
    decision = np.where(wrong, 1 - outcome, outcome)
    reviewed = log["outcome"].notna()
    return log.assign(
        decision=decision,
        x=decision * 20.0,
        outcome=np.where(reviewed, outcome.astype(float), np.nan),
        score=np.where(decision == 1, 0.95, 0.05),
    )
