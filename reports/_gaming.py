"""What the gaming and recourse checks found, for the report and the summary: the group
tables and the named manipulations, under the disclosure rule.

The groups' counts here are of the people the check looked at (the refused applicants, or
every decision), shown with the check's overall count: a count under 11 is hidden, with a
second cell of its line where one hidden cell could be recovered by subtraction
(:func:`~reports._suppress.suppressed`), and a share is hidden when it would give back a
small count. A manipulation is named with how many refusals it flips only when that count
may be shown; the others are counted as suppressed.
"""

from __future__ import annotations

from typing import Any

from ._plain import group_label
from ._suppress import MIN_CELL, SUPPRESSED, count_text, disclose, size_text, suppressed
from ._text import fmt

__all__ = ["GAMING_TYPES", "gaming_lines", "gaming_rows", "named_changes", "value_hidden"]

GAMING_TYPES = ("manipulability", "counterfactual_flip", "recourse")


def gaming_rows(check: dict[str, Any]) -> list[dict[str, Any]]:
    """The group table of a gaming check: people counted, with the property, share, interval
    (and the median cost of a cost-gap result)."""
    groups = check.get("by_group") or {}
    hidden = suppressed({g: e.get("n") for g, e in groups.items()})
    rows = []
    for group, e in groups.items():
        n = e.get("n")
        hide_n = group in hidden or count_text(n) != str(n)
        if "median_cost" in e:
            rows.append(
                {
                    "group": group_label(group),
                    "n": size_text(n, hidden=hide_n),
                    "count": "–",
                    "share": "–",
                    "ci": "–",
                    "median_cost": SUPPRESSED if hide_n else fmt(e["median_cost"], 2),
                    "evidence": "enough" if e.get("status") == "compared" else "too little",
                }
            )
            continue
        shown = disclose(numerator=e.get("numerator"), denominator=n, rate=e.get("value"))
        hide_rate = hide_n or shown.rate is None
        ci = e.get("ci") or [None, None]
        rows.append(
            {
                "group": group_label(group),
                "n": size_text(n, hidden=hide_n),
                "count": SUPPRESSED if hide_rate else e.get("numerator"),
                "share": SUPPRESSED if hide_rate else f"{100 * e['value']:.1f}%",
                "ci": SUPPRESSED if hide_rate else f"{100 * ci[0]:.1f}% to {100 * ci[1]:.1f}%",
                "median_cost": None,
                "evidence": "enough" if e.get("status") == "compared" else "too little",
            }
        )
    return rows


def named_changes(check: dict[str, Any]) -> tuple[list[str], int]:
    """The most effective manipulations (or cheapest changes) that may be named, as
    sentences, and how many were held back because their count is small."""
    details = check.get("details") or {}
    n = details.get("n")
    entries = details.get("top_manipulations") or details.get("cheapest_changes") or []
    verb = "flips" if check["type"] == "manipulability" else "is the cheapest way out for"
    shown, held = [], 0
    for e in entries:
        what = disclose(numerator=e["count"], denominator=n)
        if what.numerator is None:
            held += 1
            continue
        share = f" ({100 * e['count'] / n:.0f}% of them)" if n else ""
        shown.append(f"{e['change']} {verb} {e['count']} refusals{share}")
    return shown, held


def gaming_lines(document: dict[str, Any]) -> list[str]:
    """Plain-language lines for the summary: what each gaming check's overall result found,
    the manipulations named, the columns flipped."""
    lines = []
    for c in document["checks"]:
        if c["type"] not in GAMING_TYPES or c["view"] != "all":
            continue
        lines.append(f"{c['name']}: {c['message']}")
        named, held = named_changes(c)
        lines += [f"  {t}" for t in named]
        if held:
            lines.append(
                f"  {held} other change(s) suppressed (a count under {MIN_CELL} could be "
                "recovered from them)"
            )
    return lines


def value_hidden(check: dict[str, Any]) -> bool:
    """Whether a gaming check's overall share must not be shown: with its count of people
    (shown or recoverable), it would give back a count under 11."""
    details = check.get("details") or {}
    if check.get("type") not in GAMING_TYPES or check.get("view") != "all":
        return False
    count, n = details.get("count"), details.get("n")
    if count is None or n is None:
        return False
    return disclose(numerator=count, denominator=n).numerator is None
