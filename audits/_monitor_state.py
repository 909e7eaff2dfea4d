"""The breaker's state file (what the guard reads) and people's recorded actions.

Files: the state file ``<state dir>/<system>.json``, replaced in one rename, and people's
actions ``<state dir>/<system>.manual.jsonl``, appended and replayed by every monitor run.
Both are changed only under an exclusive lock on ``<state dir>/<system>.lock``
(:func:`state_lock`), so a person's action taken while a monitor replays the log is never
overwritten by the state that replay computed without it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from metrics import ManualAction

from ._provenance import utc_now

__all__ = [
    "DEFAULT_STATE_DIR",
    "manual_events",
    "read_state",
    "record_manual",
    "state_lock",
    "state_of",
    "state_path",
    "write_state",
]

#: Where state files live unless ``--state-dir`` says otherwise.
DEFAULT_STATE_DIR = Path(".fairgate") / "breaker"


def state_path(state_dir: Path, system: str) -> Path:
    """The state file of ``system``."""
    return Path(state_dir) / f"{system}.json"


@contextmanager
def state_lock(state_dir: Path, system: str) -> Iterator[None]:
    """Hold the exclusive lock of ``system``'s breaker files (blocks until it is free)."""
    path = Path(state_dir) / f"{system}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, Any] | None:
    """The state file, or ``None`` when there is none yet."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file in one rename (a reader never sees half a file)."""
    _write_atomic(path, json.dumps(state, indent=2, default=str))


def manual_events(state_dir: Path, system: str) -> list[dict[str, Any]]:
    """People's recorded actions on ``system``'s breaker, in the order taken."""
    path = Path(state_dir) / f"{system}.manual.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def record_manual(
    state_dir: Path, system: str, *, action: ManualAction, by: str, reason: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Record a person's action and apply it to the state file at once.

    Returns
    -------
    event : dict
        The action as recorded.
    state : dict
        The state file as written.
    """
    with state_lock(state_dir, system):
        return _record_manual(state_dir, system, action=action, by=by, reason=reason)


def _record_manual(
    state_dir: Path, system: str, *, action: ManualAction, by: str, reason: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    path = state_path(state_dir, system)
    try:
        state = read_state(path)
    except (ValueError, RecursionError):  # a corrupt state file never stops a person's action
        state = None
    if not isinstance(state, dict):
        state = {"system": system, "events": [], "last_window": None}
    if not isinstance(state.get("events"), list):
        state["events"] = []
    if state.get("tracking_uri"):  # a file written before only public URIs were kept
        state["tracking_uri"] = _public(str(state["tracking_uri"]))
    last = state.get("last_window") if isinstance(state.get("last_window"), dict) else {}
    event = {
        "action": action.value,
        "by": by,
        "reason": reason,
        "at": utc_now(),
        "after_end": last.get("end"),
        "after_label": last.get("label"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(state_dir) / f"{system}.manual.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event) + "\n")
    opened = action is ManualAction.FORCE_OPEN
    before = state.get("state", "closed")
    before = before if isinstance(before, str) else "unknown"
    state.update(
        state="open" if opened else "closed",
        forced=opened,
        reason=f"{'forced open' if opened else 'reset'} by {by}: {reason}",
        updated_at=event["at"],
    )
    state.setdefault("events", []).append(
        {
            "window": last.get("index"),
            "label": last.get("label") or "",
            "before": before,
            "after": state["state"],
            "cause": action.value,
            "by": by,
            "reason": reason,
            "at": event["at"],
        }
    )
    write_state(path, state)
    return event, state


def _public(uri: str) -> str:
    from models_under_test import public_uri

    return public_uri(uri)


def state_of(document: dict[str, Any], *, tracking_uri: str | None) -> dict[str, Any]:
    """The state file's content for a monitoring document. The tracking URI is kept as it
    may be shown (:func:`models_under_test.public_uri`): its credentials and query values,
    which may be secrets, are never written."""
    last = document["windows"][-1] if document["windows"] else None
    return {
        "system": document["system"],
        "state": document["state"],
        "forced": document["forced"],
        "reason": document["reason"],
        "updated_at": document["started_at"],
        "monitor_id": document["monitor_id"],
        "last_window": (
            {"index": last["window"], "label": last["label"], "end": last["end"]} if last else None
        ),
        "model_uri": document["model_uri"],
        # where the replay started: a later run whose log starts after it lost history
        "log_start": (document.get("log") or {}).get("first_decision"),
        "tracking_uri": _public(tracking_uri) if tracking_uri else None,
        "events": document["events"],
    }
