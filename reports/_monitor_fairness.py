"""The monitoring report's fairness section: each check of the spec over the windows.

Renders the ``checks`` of each window of a monitoring document: a chart per check (value,
interval, thresholds, open periods) and one table of statuses. Disparities are shown, never
a group's count, nor a disparity that would give back a rate the windows table holds back.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from ._monitor_disclose import check_hidden

__all__ = ["check_chart", "fairness_section"]

_OPEN = {"open": "#d62728", "half_open": "#ff7f0e"}
_COLOUR = {"pass": "#2ca02c", "fail": "#d62728", "inconclusive": "#7f7f7f"}


def _names(document: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for w in document["windows"]:
        for c in w.get("checks", []):
            if c["name"] not in names:
                names.append(c["name"])
    return names


def check_chart(document: dict[str, Any], name: str) -> bytes:
    """PNG of one check's value per window, its interval, its thresholds, open periods.

    Windows where the check could not be judged (too few reviewed decisions, a group too
    small) are left out; points are coloured by status (green pass, red fail, grey
    inconclusive).
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    windows = document["windows"]
    xs, value, low, high, colour = [], [], [], [], []
    threshold: dict[str, float] = {}
    for w in windows:
        c = next((c for c in w.get("checks", []) if c["name"] == name), None)
        if c is None:
            continue
        threshold = c["threshold"] or threshold
        if c["value"] is not None and c["ci"] is not None and not check_hidden(document, w, c):
            xs.append(w["window"])
            value.append(c["value"])
            low.append(c["ci"][0])
            high.append(c["ci"][1])
            colour.append(_COLOUR.get(c["status"], "#7f7f7f"))
    fig = Figure(figsize=(8, 2.6), dpi=90)
    ax = fig.subplots()
    for w in windows:
        if w["state"] in _OPEN:
            ax.axvspan(
                w["window"] - 0.5, w["window"] + 0.5, color=_OPEN[w["state"]], alpha=0.15, lw=0
            )
    if xs:
        ax.fill_between(xs, low, high, alpha=0.3, color="#1f77b4", label="interval")
        ax.plot(xs, value, "-", lw=1, color="#1f77b4")
        ax.scatter(xs, value, c=colour, s=12, zorder=3, label="value (colour: status)")
    for key, v in threshold.items():
        ax.axhline(v, color="black", ls="--", lw=1, label=f"{key} {v:g}")
    ax.set_xlim(-0.5, max(len(windows) - 0.5, 0.5))
    ax.set_xlabel("window")
    ax.set_title(f"{name} (red: open, orange: half-open)", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _cell(c: dict[str, Any] | None, hidden: bool) -> str:
    if c is None:
        return "<td>—</td>"
    shown = "" if c["value"] is None else f" {c['value']:.3f}"
    if hidden:
        shown = " (value suppressed: a count under 11 could be recovered from it)"
    elif c["ci"] is not None:
        shown += f" [{c['ci'][0]:.3f}–{c['ci'][1]:.3f}]"
    return f"<td class='s-{html.escape(c['status'])}'>{html.escape(c['status'])}{shown}</td>"


def fairness_section(document: dict[str, Any]) -> list[str]:
    """The section's HTML parts (empty when the spec has no check run per window)."""
    e = html.escape
    names = _names(document)
    fairness = document.get("fairness") or {}
    trips = document["policy"].get("trip_on_fairness", False)
    parts = ["<h2>Fairness checks per window</h2>"]
    if not names:
        parts.append("<p>No fairness check of the spec is run per window.</p>")
    else:
        parts.append(
            "<p>The spec's group_metric checks, computed with the audit's engine on each "
            "window's reviewed decisions (the review outcome is the label); a window with too "
            "few reviewed decisions is <em>insufficient_evidence</em>, never a pass. "
            + (
                "A check whose interval lies wholly beyond its threshold trips the breaker "
                "(monitor.trip_on_fairness); while half-open a window is healthy only when "
                "every check's interval lies within its thresholds."
                if trips
                else "The checks are recorded only: they do not trip the breaker "
                "(monitor.trip_on_fairness is off)."
            )
            + "</p>"
        )
        for name in names:
            png = base64.b64encode(check_chart(document, name)).decode()
            parts.append(
                f"<h3>{e(name)}</h3><img alt='{e(name)} per window' "
                f"src='data:image/png;base64,{png}'>"
            )
        parts.append(
            "<table><tr><th>window</th><th>state</th>"
            + "".join(f"<th>{e(n)}</th>" for n in names)
            + "</tr>"
        )
        for w in document["windows"]:
            by_name = {c["name"]: c for c in w.get("checks", [])}
            parts.append(
                f"<tr><td>{e(w['label'])}</td><td>{e(w['state'])}</td>"
                + "".join(
                    _cell(by_name.get(n), n in by_name and check_hidden(document, w, by_name[n]))
                    for n in names
                )
                + "</tr>"
            )
        parts.append("</table>")
    not_run = fairness.get("not_run") or []
    if not_run:
        parts.append("<p>Not run per window:</p><ul>")
        parts += [f"<li>{e(c['check'])} ({e(c['type'])}): {e(c['why'])}</li>" for c in not_run]
        parts.append("</ul>")
    return parts
