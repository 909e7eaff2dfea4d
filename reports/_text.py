"""Shared wording and number formatting for the human-readable renderings."""

from __future__ import annotations

__all__ = ["STATUS_LABELS", "VERDICT_TITLES", "fmt", "status_label"]

VERDICT_TITLES = {
    "pass": "RELEASE",
    "fail": "BLOCKED",
    "inconclusive": "CANNOT DECIDE",
    "error": "CANNOT DECIDE",
}
STATUS_LABELS = {
    "pass": "pass",
    "fail": "FAIL",
    "inconclusive": "inconclusive",
    "insufficient_evidence": "insufficient evidence",
    "error": "ERROR",
    "skipped": "skipped",
}


def status_label(status: str) -> str:
    """A readable label for a check status."""
    return STATUS_LABELS.get(status, status)


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or an en dash when there is none."""
    return "–" if value is None else f"{value:.{digits}f}"
