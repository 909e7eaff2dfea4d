"""The disclosure rule (:func:`~reports._suppress.disclose`) for a monitoring document.

A window's cells hold each group's reviewed decisions (``cases``), misjudged ones
(``errors``) and their rate with its interval. What a person reads of them (report.html,
transitions.csv, the MLflow metrics and transitions table) follows the audit's one rule: no
count from 1 to 10, and no rate or interval from which such a count (or its complement) can
be recovered with its denominator. Counts add up twice in a window (the groups' reviewed
decisions to the window's, their misjudged ones to the window's), so a second cell is held
back where one alone would be recovered by subtraction. ``monitoring.json`` keeps the exact
values as the evidence, as ``results.json`` does for an audit.
"""

from __future__ import annotations

from typing import Any

from ._suppress import MIN_CELL, Disclosure, disclose, suppressed

__all__ = ["check_hidden", "event_disclosed", "window_disclosure"]

_HIDDEN = Disclosure(None, None, None, True)


def window_disclosure(window: dict[str, Any]) -> dict[str, Disclosure]:
    """What may be shown of each cell of ``window`` (``overall`` and every group), by group:
    its reviewed count (``denominator``), misjudged count (``numerator``) and ``rate``
    (``None`` where held back; the interval goes with the rate)."""
    cells = {c["group"]: c for c in window["cells"]}
    groups = {g: c["cases"] for g, c in cells.items() if g != "overall"}
    hidden = suppressed(groups)
    overall = cells.get("overall")
    if overall is not None and 0 < overall["cases"] < MIN_CELL:
        hidden |= set(cells)
    shown: dict[str, Disclosure] = {}
    for group, c in cells.items():
        if group in hidden:
            shown[group] = _HIDDEN
        elif not c.get("judged") or c.get("rate") is None:
            shown[group] = Disclosure(None, c["cases"], None, False)
        else:
            shown[group] = disclose(numerator=c["errors"], denominator=c["cases"], rate=c["rate"])
    # The groups' misjudged counts add up to the window's: one unknown alone is recovered.
    unknown = [g for g in groups if shown[g].rate is None and cells[g]["cases"]]
    if len(unknown) == 1 and overall is not None and shown["overall"].rate is not None:
        shown["overall"] = Disclosure(None, shown["overall"].denominator, None, True)
    return shown


def check_hidden(document: dict[str, Any], window: dict[str, Any], check: dict[str, Any]) -> bool:
    """Whether a fairness check's value and interval in ``window`` must not be shown: a
    disparity of the very rate the window's cells hold, while one of the groups' rates is
    held back, gives that rate back (with the other groups' rates, or the window's)."""
    if check.get("metric") != (document.get("policy") or {}).get("metric"):
        return False
    cases = {c["group"]: c["cases"] for c in window["cells"]}
    shown = window_disclosure(window)
    return any(shown[g].rate is None and cases[g] for g in shown if g != "overall" and cases[g])


def _pooled_hidden(document: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether one of the windows an event pools holds back its group's count or rate."""
    group, last = event.get("group"), event.get("window")
    pooled = int(event.get("pooled") or 1)
    seen = 0
    for window in reversed(document.get("windows") or []):
        if last is None or window["window"] > last:
            continue
        cell = next((c for c in window["cells"] if c["group"] == group), None)
        if cell is None or not cell.get("judged"):
            continue
        shown = window_disclosure(window)[group]
        if shown.rate is None or shown.denominator is None:
            return True
        seen += 1
        if seen >= pooled:
            return False
    return seen < pooled  # the pooled windows cannot be told: hold back


def event_disclosed(document: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """``event`` as a person may read it: its counts, rate and interval (a fairness check's
    value and interval) ``None`` where the rule holds them back."""
    out = dict(event)
    if event.get("check"):
        window = next(
            (w for w in document.get("windows") or [] if w["window"] == event.get("window")),
            None,
        )
        check = next(
            (c for c in (window or {}).get("checks", []) if c["name"] == event["check"]), None
        )
        if window is None or check is None or check_hidden(document, window, check):
            out.update(rate=None, low=None, high=None)
        return out
    if event.get("cases") is None:
        return out
    shown = disclose(
        numerator=event.get("errors"), denominator=event["cases"], rate=event.get("rate")
    )
    if shown.rate is not None and _pooled_hidden(document, event):
        shown = _HIDDEN
    out["errors"], out["cases"] = shown.numerator, shown.denominator
    if shown.rate is None:
        out.update(rate=None, low=None, high=None)
    return out
