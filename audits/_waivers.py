"""Applying waivers to an audit's checks, and checking them again in a results document.

Only a ``fail`` is ever waived, and only the check (view, group) a waiver names: an error, an
insufficient or inconclusive check stays what it is. A waiver holds from its ``date`` to its
``expiry`` (both inclusive), judged on the audit's start date (UTC): an expired or not yet
valid waiver leaves its failures failing. Each waiver is reported with its state:

``applied``
    It covered at least one failure, which became ``waived``.
``expired`` / ``not_yet_valid``
    Its dates do not hold on the audit's date: whatever it names stays as it was.
``unused``
    It names nothing that failed (the failure was fixed, or the check errored): reported, no
    effect on the verdict, not an error (a waiver that names a check, view or group the spec
    does not have is refused before the audit: exit 4).

:func:`rederived_statuses` repeats the judgement from a results document alone, so that
``fairgate render`` and ``verify`` accept a waived check only where the document's own waivers
cover it on its own audit date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from ._status import Status
from ._waiver_spec import Waiver, approver_problem, check_label, reason_problem, resolve_check

__all__ = ["apply_waivers", "audit_date", "rederived_statuses"]

_TOLERANCE = 1e-9


def audit_date(document: dict[str, Any]) -> dt.date | None:
    """The audit's start date (UTC), from ``run.started_at``; ``None`` when there is none."""
    started = (document.get("run") or {}).get("started_at")
    try:
        return dt.date.fromisoformat(str(started)[:10])
    except ValueError:
        return None


def _state(entry: dict[str, Any], on: dt.date) -> str:
    start, end = dt.date.fromisoformat(entry["date"]), dt.date.fromisoformat(entry["expiry"])
    return "not_yet_valid" if on < start else "expired" if on > end else "active"


def _beyond(value: Any, threshold: dict[str, Any]) -> bool:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return False
    low, high = threshold.get("min"), threshold.get("max")
    return (low is not None and value < low - _TOLERANCE) or (
        high is not None and value > high + _TOLERANCE
    )


def group_cover(group: str, check: dict[str, Any]) -> str | None:
    """Why a waiver of ``group`` does not cover this failed check (``None``: it does).

    It covers the failure when ``group`` is the least favoured group and every other group
    compared is within the bound on its own (its comparison with the reference group, or the
    range of the other groups' values when there is no reference).
    """
    details, by_group = check.get("details") or {}, check.get("by_group") or {}
    worst = details.get("worst_group")
    if worst != group:
        return f"the least favoured group of {check['name']} is {worst!r}, not {group!r}"
    rows = [
        r
        for g, r in by_group.items()
        if g != group and isinstance(r, dict) and r.get("status") in ("compared", "reference")
    ]
    threshold, ratio = check.get("threshold") or {}, check.get("disparity") == "ratio"
    against = [r["vs_reference"] for r in rows if isinstance(r.get("vs_reference"), int | float)]
    if against:
        values = against if ratio else [abs(v) for v in against]
        breach = any(_beyond(v, threshold) for v in values)
    else:
        values = [r["value"] for r in rows if isinstance(r.get("value"), int | float)]
        if len(values) < 2:
            return None
        low, high = min(values), max(values)
        disparity = (low / high if high else math.nan) if ratio else high - low
        breach = not math.isfinite(disparity) or _beyond(disparity, threshold)
    if breach:
        return f"without {group!r}, {check['name']} is still beyond its bound"
    return None


def _names(entry: dict[str, Any], check: dict[str, Any], owner: int | None) -> bool:
    return owner == entry["check_index"] and entry["view"] in (None, check.get("view"))


def apply_waivers(
    checks: list[dict[str, Any]],
    owners: Sequence[int | None],
    waivers: Sequence[tuple[Waiver, str]],
    *,
    spec: Any,
    on: dt.date,
) -> list[dict[str, Any]]:
    """Waive the failures the waivers cover, in place; return the waivers' report entries.

    Parameters
    ----------
    checks : list of dict
        The document's checks; a covered failure's status becomes ``waived`` and it gains
        ``waived_by`` (the waivers' indices in the report).
    owners : sequence of int or None
        For each check, the index of the spec's check it is a result of.
    waivers : sequence of (Waiver, str)
        Each waiver with where it was written (``spec`` or the waivers file's path).
    spec : AuditSpec
        The audit's spec (to find the check each waiver names).
    on : date
        The audit's start date (UTC): the day each waiver's dates are judged on.
    """
    entries = []
    for n, (waiver, source) in enumerate(waivers):
        index, _ = resolve_check(waiver, list(spec.checks))
        entry: dict[str, Any] = {
            "check": waiver.check,
            "check_index": index,
            "check_name": check_label(spec.checks[index]) if index is not None else None,
            "view": waiver.view,
            "group": waiver.group,
            "reason": waiver.reason,
            "approver": waiver.approver,
            "date": waiver.date.isoformat(),
            "expiry": waiver.expiry.isoformat(),
            "ticket": waiver.ticket,
            "source": source,
        }
        dates = _state(entry, on)
        covers, notes = [], []
        for i, (check, owner) in enumerate(zip(checks, owners, strict=True)):
            if not _names(entry, check, owner):
                continue
            if check["status"] not in (Status.FAIL, Status.WAIVED):
                notes.append(f"{check['name']} is {check['status']}, not a failure")
                continue
            why = group_cover(waiver.group, check) if waiver.group else None
            if why:
                notes.append(why)
                continue
            covers.append(i)
        if dates == "active":
            for i in covers:
                checks[i]["status"] = Status.WAIVED.value
                checks[i].setdefault("waived_by", []).append(n)
        state = dates if dates != "active" else "applied" if covers else "unused"
        entry.update(state=state, covers=covers if dates == "active" else [])
        entry["left_failing"] = [] if dates == "active" else covers
        entry["notes"] = notes
        entries.append(entry)
    return entries


def _holds(entry: Any, check: dict[str, Any], i: int, content: dict[str, Any], on: Any) -> bool:
    """Whether a report entry validly covers the waived check ``i`` on the audit date."""
    if not isinstance(entry, dict) or entry.get("state") != "applied" or on is None:
        return False
    try:
        if i not in entry["covers"] or _state(entry, on) != "active":
            return False
        if approver_problem(str(entry["approver"])) or reason_problem(str(entry["reason"])):
            return False
        if not str(entry.get("ticket") or "").strip():
            return False
        spec_checks = content.get("checks") or []
        owner = entry["check_index"]
        if not isinstance(owner, int) or not 0 <= owner < len(spec_checks):
            return False
        if (spec_checks[owner] or {}).get("type", "group_metric") != check.get("type"):
            return False
        if entry["view"] not in (None, check.get("view")):
            return False
        return not (entry.get("group") and group_cover(entry["group"], check))
    except (KeyError, TypeError, ValueError):
        return False


def rederived_statuses(document: dict[str, Any], statuses: list[Status]) -> list[Status]:
    """``statuses`` with every ``waived`` check that the document's waivers do not validly
    cover on its audit date (an expired waiver, no named approver, a short reason, another
    check) turned back into ``fail``."""
    entries = document.get("waivers") or []
    if not isinstance(entries, list):
        entries = []
    content = (document.get("spec") or {}).get("content") or {}
    on = audit_date(document)
    out = []
    for i, (status, check) in enumerate(zip(statuses, document["checks"], strict=True)):
        if status == Status.WAIVED and not any(_holds(e, check, i, content, on) for e in entries):
            status = Status.FAIL
        out.append(status)
    return out
