"""``fairgate monitor``: read a decision log in service, cut it into windows, run the breaker.

The log is replayed from its first row at every run (labels that arrived late count in the
windows they belong to); a window is judged once the log holds a decision after its end (time
windows) or once it is full (count windows). People's actions (``fairgate breaker``) are kept
beside the state file and replayed at the point where they were taken: after the windows the
monitor had judged then.

Files: the state file ``<state dir>/<system>.json`` (what the guard reads), people's actions
``<state dir>/<system>.manual.jsonl``, and the monitoring evidence (``monitoring.json``,
``report.html``, ``transitions.csv``) staged and published like an audit's.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metrics import (
    OVERALL,
    BreakerPolicy,
    BreakerRun,
    BreakerState,
    ManualAction,
    ManualEvent,
    WindowHealth,
    run_breaker,
)

from ._provenance import utc_now
from ._spec import SpecError
from ._status import ExitCode

if TYPE_CHECKING:
    import pandas as pd

    from ._spec import AuditSpec

__all__ = [
    "DEFAULT_STATE_DIR",
    "MonitorDataError",
    "MonitorOutcome",
    "Windows",
    "cut_windows",
    "manual_events",
    "monitor",
    "read_log",
    "read_state",
    "record_manual",
    "state_path",
    "write_state",
]

#: Where state files live unless ``--state-dir`` says otherwise.
DEFAULT_STATE_DIR = Path(".fairgate") / "breaker"
_SUFFIXES = (".csv", ".parquet", ".pq")
#: The most windows one run judges (a 1 s window over a year of log would be 31 million).
MAX_WINDOWS = 100_000


class MonitorDataError(ValueError):
    """The log cannot be judged (missing, empty, without the spec's columns): exit 2."""


@dataclass(frozen=True)
class Windows:
    """A log cut into complete windows of counts, ready for the breaker."""

    counts: list[dict[str, tuple[int, int]]]  # per window: cell -> (misjudged, reviewed)
    labels: list[str]
    ends: list[str]  # ISO end time (time windows) or rows covered (count windows)
    decisions: list[int]  # decisions per window, reviewed or not
    pending_rows: int  # rows of the window still open
    rows: int
    reviewed: int
    #: per window: cell -> (expected misjudged, variance, decisions), from calibrated scores
    estimates: list[dict[str, tuple[float, float, int]]] | None = None


@dataclass(frozen=True)
class MonitorOutcome:
    """What a monitor run found, and its exit code."""

    document: dict[str, Any]
    run: BreakerRun
    code: ExitCode
    message: str


def state_path(state_dir: Path, system: str) -> Path:
    """The state file of ``system``."""
    return Path(state_dir) / f"{system}.json"


def _log_files(path: str) -> list[Path]:
    if any(c in path for c in "*?["):
        files = [Path(p) for p in sorted(glob.glob(path, recursive=True))]
    elif Path(path).is_dir():
        files = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in _SUFFIXES)
    else:
        files = [Path(path)]
    files = [f for f in files if f.suffix.lower() in _SUFFIXES or not f.is_dir()]
    if not files:
        raise MonitorDataError(f"The log {path!r} matches no CSV or Parquet file.")
    return files


def read_log(path: str) -> tuple[pd.DataFrame, list[Path]]:
    """Read a decision log: a CSV or Parquet file, a folder of them, or a glob."""
    import pandas as pd

    files = _log_files(path)
    frames = []
    for file in files:
        try:
            if file.suffix.lower() in (".parquet", ".pq"):
                frames.append(pd.read_parquet(file))
            else:
                frames.append(pd.read_csv(file))
        except FileNotFoundError as err:
            raise MonitorDataError(f"The log file {str(file)!r} does not exist.") from err
        except pd.errors.EmptyDataError as err:
            raise MonitorDataError(f"The log file {str(file)!r} is empty.") from err
        except Exception as err:
            raise MonitorDataError(
                f"The log file {str(file)!r} cannot be read: {type(err).__name__}: {err}"
            ) from err
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise MonitorDataError(f"The log {path!r} holds no decisions (0 rows).")
    return frame, files


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality of decisions and labels, tolerant of ``1`` vs ``1.0``."""
    from pandas.api.types import is_numeric_dtype

    if is_numeric_dtype(a) and is_numeric_dtype(b):
        return a.astype(float) == b.astype(float)

    def text(s: pd.Series) -> pd.Series:
        if is_numeric_dtype(s):
            s = s.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
        return s.astype(str)

    return text(a) == text(b)


def cut_windows(frame: pd.DataFrame, spec: AuditSpec) -> Windows:
    """Cut the log into the spec's windows and count misjudgments per window and group."""
    import numpy as np
    import pandas as pd

    mon = spec.monitor
    assert mon is not None
    data = spec.data
    decision = mon.decision or getattr(spec.model, "column", None)
    needed = {"timestamp (monitor.timestamp)": mon.timestamp, "label (data.label)": data.label}
    needed["decision (monitor.decision)"] = decision
    needed.update({f"sensitive (data.sensitive)[{c}]": c for c in data.sensitive})
    missing = [f"{what} {col!r}" for what, col in needed.items() if col not in frame.columns]
    if missing:
        raise MonitorDataError(
            f"The log has no {', '.join(missing)} column. Its columns: {list(frame.columns)}."
        )
    ts = pd.to_datetime(frame[mon.timestamp], utc=True, errors="coerce", format="mixed")
    bad = int(ts.isna().sum())
    if bad:
        raise MonitorDataError(
            f"The log's timestamp column {mon.timestamp!r} holds {bad} value(s) that are not "
            "times: every decision needs a time."
        )
    order = np.argsort(ts.to_numpy(), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    ts = ts.iloc[order].reset_index(drop=True)
    label = frame[data.label]
    decided = frame[decision]
    values = getattr(spec.model, "decision_values", None)
    if values:
        decided = decided.map(lambda v: values.get(v, v))
    reviewed = label.notna() & decided.notna()
    positive = _same(label, pd.Series([data.positive_label] * len(frame)))
    says_positive = _same(decided, pd.Series([data.positive_label] * len(frame)))
    wrong = ~_same(decided, label)
    if mon.metric == "false_positive_rate":
        inside = reviewed & ~positive
    elif mon.metric == "false_negative_rate":
        inside = reviewed & positive
    else:
        inside = reviewed
    errors = (
        (inside & wrong)
        if mon.metric == "error_rate"
        else inside & (says_positive if mon.metric == "false_positive_rate" else ~says_positive)
    )
    p_wrong = None
    if mon.score is not None:
        if mon.score not in frame.columns:
            raise MonitorDataError(
                f"The log has no score (monitor.score) column {mon.score!r}. "
                f"Its columns: {list(frame.columns)}."
            )
        score = pd.to_numeric(frame[mon.score], errors="coerce")
        if score.isna().any() or ((score < 0) | (score > 1)).any():
            raise MonitorDataError(
                f"The log's score column {mon.score!r} must hold probabilities in [0, 1] for "
                "every decision."
            )
        p_wrong = np.where(says_positive, 1.0 - score, score)
    if mon.window_seconds is not None:
        step = pd.Timedelta(seconds=mon.window_seconds)
        starts = ts.dt.floor(step)
        first, last = starts.iloc[0], starts.iloc[-1]
        n_windows = int((last - first) / step)  # the last window is still open
        if n_windows > MAX_WINDOWS:
            raise MonitorDataError(
                f"The log spans {n_windows:,} windows of {mon.window}, more than the "
                f"{MAX_WINDOWS:,} a monitor run judges: choose a longer monitor.window."
            )
        index = ((starts - first) / step).astype(int).to_numpy()
        bounds = [first + i * step for i in range(n_windows + 1)]
        labels = [b.isoformat() for b in bounds[:-1]]
        ends = [b.isoformat() for b in bounds[1:]]
    else:
        size = int(mon.window_count or 1)
        n_windows = len(frame) // size
        index = np.arange(len(frame)) // size
        labels = [f"decisions {i * size + 1}-{(i + 1) * size}" for i in range(n_windows)]
        ends = [str((i + 1) * size) for i in range(n_windows)]
    work = pd.DataFrame({"w": index, "k": errors.to_numpy(), "n": inside.to_numpy()})
    for col in data.sensitive:
        work[col] = frame[col].astype(str).where(frame[col].notna(), "<missing>").to_numpy()
    work = work[work["w"] < n_windows]
    counts: list[dict[str, tuple[int, int]]] = [{} for _ in range(n_windows)]
    overall = work.groupby("w")[["k", "n"]].sum()
    for w in range(n_windows):
        k, n = overall.loc[w] if w in overall.index else (0, 0)
        counts[w][OVERALL] = (int(k), int(n))
    for col in data.sensitive:
        for (w, value), row in work.groupby(["w", col])[["k", "n"]].sum().iterrows():
            counts[int(w)][f"{col}={value}"] = (int(row["k"]), int(row["n"]))
    decisions = np.bincount(work["w"].to_numpy(), minlength=n_windows).tolist()
    estimates = None
    if p_wrong is not None:
        est = work[["w", *data.sensitive]].copy()
        est["e"] = p_wrong[work.index.to_numpy()]
        est["v"] = est["e"] * (1.0 - est["e"])
        est["c"] = 1
        estimates = [{} for _ in range(n_windows)]
        for w, row in est.groupby("w")[["e", "v", "c"]].sum().iterrows():
            estimates[int(w)][OVERALL] = (float(row["e"]), float(row["v"]), int(row["c"]))
        for col in data.sensitive:
            for (w, value), row in est.groupby(["w", col])[["e", "v", "c"]].sum().iterrows():
                estimates[int(w)][f"{col}={value}"] = (
                    float(row["e"]),
                    float(row["v"]),
                    int(row["c"]),
                )
    return Windows(
        counts=counts,
        labels=labels,
        ends=ends,
        decisions=[int(d) for d in decisions],
        pending_rows=int((index >= n_windows).sum()),
        rows=len(frame),
        reviewed=int(reviewed.sum()),
        estimates=estimates,
    )


def policy_of(spec: AuditSpec) -> BreakerPolicy:
    """The breaker policy a spec's ``monitor:`` block sets."""
    mon = spec.monitor
    if mon is None:
        raise SpecError(["monitor is required by fairgate monitor: the spec has no monitor block."])
    return BreakerPolicy(
        trip_above=mon.trip_above,
        min_cases=mon.min_cases,
        cool_down=mon.cool_down_windows,
        recovery_windows=mon.recovery_windows,
        confidence=mon.confidence,
        estimate_may_open=mon.estimate_may_open,
    )


# -- state file and people's actions ------------------------------------------------------


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
    path = state_path(state_dir, system)
    state = read_state(path) or {"system": system, "events": [], "last_window": None}
    last = state.get("last_window") or {}
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


def _after_windows(event: dict[str, Any], windows: Windows, *, time_windows: bool) -> int:
    end = event.get("after_end")
    if end is None:
        return 0
    if time_windows:
        return sum(e <= end for e in windows.ends)  # ISO times in UTC sort as text
    return sum(int(e) <= int(end) for e in windows.ends)


def _reason(run: BreakerRun) -> str:
    if run.final.state is BreakerState.CLOSED or not run.events:
        return "the model decides"
    last = run.events[-1]
    if last.by:
        return f"forced open by {last.by}: {last.reason}"
    opened = next((e for e in reversed(run.events) if e.after is BreakerState.OPEN), last)
    cause = (
        f"tripped in window {opened.label}: {opened.group} misjudged at {opened.rate:.1%} "
        f"(lower bound {opened.low:.1%} above {opened.bound:.0%})"
        if opened.rate is not None
        else "opened"
    )
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
    frame, files = read_log(log)
    windows = cut_windows(frame, spec)
    time_windows = mon.window_seconds is not None
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
    run = run_breaker(
        windows.counts,
        policy=policy,
        labels=windows.labels,
        manual=manual,
        estimates=windows.estimates,
    )
    judged = sum(w.health is not WindowHealth.INSUFFICIENT for w in run.windows)
    final = run.final.state
    if final is not BreakerState.CLOSED:
        code, message = ExitCode.BREAKER_OPEN, f"breaker {final.value}: {_reason(run)}"
    elif not judged:
        code = ExitCode.UNDECIDED
        message = (
            f"could not decide: none of the {len(run.windows)} complete window(s) had "
            f"{policy.min_cases} reviewed decisions (monitor.min_cases)"
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
        },
        "policy": {
            "metric": mon.metric,
            "window": mon.window,
            "trip_above": policy.trip_above,
            "min_cases": policy.min_cases,
            "cool_down_windows": policy.cool_down,
            "recovery_windows": policy.recovery_windows,
            "confidence": policy.confidence,
        },
        "windows": [
            {
                "window": w.window,
                "label": w.label,
                "end": windows.ends[w.window],
                "decisions": windows.decisions[w.window],
                "health": w.health.value,
                "state": run.states[w.window].value,
                "estimate": None if w.estimate is None else asdict(w.estimate),
                "estimated": w.estimated,  # judged on the estimate: too few reviews
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
        ],
        "events": [e.to_dict() for e in run.events],
        "state": final.value,
        "forced": run.final.forced,
        "reason": _reason(run),
        "trips": run.trips,
        "early_warnings": [w.label for w in run.early_warnings],
        "judged_windows": judged,
        "exit_code": int(code),
        "message": message,
    }
    return MonitorOutcome(document=document, run=run, code=code, message=message)


def state_of(document: dict[str, Any], *, tracking_uri: str | None) -> dict[str, Any]:
    """The state file's content for a monitoring document."""
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
        "tracking_uri": tracking_uri,
        "events": document["events"],
    }
