"""Whether a decision log still holds what the breaker's earlier runs judged.

``fairgate monitor`` replays the log from its first row at every run, so the state it reaches
is only the state of the earlier runs when the log still starts where they read it. A log
rotated (its oldest rows moved away), truncated or replaced by another file would otherwise
replay without the windows that tripped the breaker, and close it with no cool-down, no
recovery and no person's reset. The state file keeps where the log started (``log_start``)
and the last window judged (``last_window``); a replay that cannot have seen them may not
make the breaker less strict than the state file says (:func:`history_lost`).
"""

from __future__ import annotations

from typing import Any

from ._monitor_log import Windows

__all__ = ["SEVERITY", "history_lost"]

#: How strict a breaker state is: a replay that lost history may not lower it.
SEVERITY = {"closed": 0, "half_open": 1, "open": 2}


def _later(new: str, old: str) -> bool:
    import pandas as pd

    try:
        return bool(pd.Timestamp(new) > pd.Timestamp(old))
    except (TypeError, ValueError):
        return False


def history_lost(previous: Any, windows: Windows) -> str | None:
    """What shows that ``windows`` (the log as read now) no longer hold the windows the
    earlier run judged (the state file ``previous``), or ``None`` when nothing does."""
    if not isinstance(previous, dict):
        return None
    last = previous.get("last_window")
    index = last.get("index") if isinstance(last, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    start = previous.get("log_start")
    if isinstance(start, str) and windows.first_decision and _later(windows.first_decision, start):
        return (
            f"its first decision is now at {windows.first_decision}, after {start} where the "
            "earlier run read it from: rows were rotated away or removed"
        )
    if index >= len(windows.labels):
        return (
            f"it now holds {len(windows.labels)} complete window(s), fewer than the {index + 1} "
            "the earlier run judged: it was truncated or replaced"
        )
    if windows.labels[index] != last.get("label"):
        return (
            f"its window {index + 1} is now {windows.labels[index]}, where the earlier run "
            f"judged {last.get('label')}: rows were rotated away or removed"
        )
    return None
