"""How a waiver reads in every report: one line, and the rows of the waivers table."""

from __future__ import annotations

from typing import Any

__all__ = ["WAIVER_STATES", "waiver_line", "waiver_rows"]

#: What each waiver state means for the verdict.
WAIVER_STATES = {
    "applied": "applied: the failure it names is waived (not passed)",
    "expired": "EXPIRED: the failure it names still fails",
    "not_yet_valid": "NOT YET VALID: the failure it names still fails",
    "unused": "unused: it names nothing that failed",
}


def _what(w: dict[str, Any]) -> str:
    what = f"checks[{w.get('check_index')}] {w.get('check_name') or w.get('check')}"
    if w.get("view"):
        what += f" [{w['view']}]"
    if w.get("group"):
        what += f", group {w['group']}"
    return what


def waiver_line(w: dict[str, Any]) -> str:
    """One sentence for a waiver: what it names, why, who approved it, its dates, its ticket."""
    return (
        f"{_what(w)}: {w.get('reason')} Approved by {w.get('approver')} on {w.get('date')}, "
        f"valid until {w.get('expiry')} (ticket {w.get('ticket')}; written in {w.get('source')})."
    )


def waiver_rows(document: dict[str, Any]) -> list[dict[str, str]]:
    """One row per waiver of a results document, for the reports' waivers table."""
    checks = document.get("checks") or []
    rows = []
    for w in document.get("waivers") or []:
        covered = [checks[i]["name"] for i in w.get("covers") or [] if i < len(checks)]
        failing = [checks[i]["name"] for i in w.get("left_failing") or [] if i < len(checks)]
        effect = (
            f"waives {', '.join(covered)}"
            if covered
            else f"leaves failing: {', '.join(failing)}"
            if failing
            else "no effect"
        )
        notes = "; ".join(w.get("notes") or [])
        rows.append(
            {
                "state": WAIVER_STATES.get(w.get("state", ""), str(w.get("state"))),
                "what": _what(w),
                "reason": str(w.get("reason")),
                "approver": str(w.get("approver")),
                "date": str(w.get("date")),
                "expiry": str(w.get("expiry")),
                "ticket": str(w.get("ticket")),
                "effect": effect + (f" ({notes})" if notes else ""),
            }
        )
    return rows
