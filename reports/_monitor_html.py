"""The monitoring report: one chart per group (rate, interval, bound, open periods), events.

Renders a monitoring document (what ``monitoring.json`` holds). Counts of people under
:data:`~reports._suppress.MIN_CELL` are never shown, nor a rate, interval or count from which
one could be recovered (:mod:`reports._monitor_disclose`).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from ._monitor_disclose import event_disclosed, window_disclosure
from ._monitor_fairness import fairness_section
from ._suppress import count_of, count_text, size_text

__all__ = ["monitor_chart", "render_monitor_html"]

_OPEN = {"open": "#d62728", "half_open": "#ff7f0e"}


def monitor_chart(document: dict[str, Any], group: str) -> bytes:
    """PNG of one group's misjudgment rate per window, its interval, the bound, open periods.

    Only windows where the group had enough reviewed decisions to be judged, and whose rate
    may be shown, are drawn.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    windows = document["windows"]
    xs, rate, low, high = [], [], [], []
    for w in windows:
        cell = next((c for c in w["cells"] if c["group"] == group), None)
        if cell and cell["judged"] and window_disclosure(w)[group].rate is not None:
            xs.append(w["window"])
            rate.append(cell["rate"])
            low.append(cell["low"])
            high.append(cell["high"])
    fig = Figure(figsize=(8, 2.6), dpi=90)
    ax = fig.subplots()
    for w in windows:
        if w["state"] in _OPEN:
            ax.axvspan(
                w["window"] - 0.5, w["window"] + 0.5, color=_OPEN[w["state"]], alpha=0.15, lw=0
            )
    if xs:
        ax.fill_between(
            xs,
            low,
            high,
            alpha=0.3,
            color="#1f77b4",
            label=f"{document['policy']['confidence']:.0%} interval",
        )
        ax.plot(xs, rate, "o-", ms=3, color="#1f77b4", label="misjudgment rate")
    ax.axhline(document["policy"]["trip_above"], color="black", ls="--", lw=1, label="bound")
    ax.set_xlim(-0.5, max(len(windows) - 0.5, 0.5))
    ax.set_ylim(0, 1 if not high else min(1.0, max(max(high), 0.3) * 1.1))
    ax.set_xlabel("window")
    ax.set_ylabel("rate")
    ax.set_title(f"{group} (red: open, orange: half-open)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _pct(v: Any) -> str:
    return "—" if v is None else f"{v:.1%}"


def _pooled_text(policy: dict[str, Any]) -> str:
    k = policy.get("pool_windows", 1)
    if k <= 1:
        return " in a window"
    return (
        f" in a window or over the last {k} consecutive windows with enough reviewed "
        "decisions (their counts pooled)"
    )


def _event_row(document: dict[str, Any], raw: dict[str, Any]) -> str:
    e = html.escape
    ev = event_disclosed(document, raw)
    cases = ev.get("cases")
    shown = "—" if raw.get("cases") is None else ("&lt;11" if cases is None else f"{cases}")
    if ev.get("check"):  # a fairness check: its value and interval, not a rate
        what = f"{ev['check']} (least favoured: {ev.get('group') or '—'})"
        value = "—" if ev.get("rate") is None else f"{ev['rate']:.3f}"
        interval = "—" if ev.get("low") is None else f"{ev['low']:.3f}–{ev['high']:.3f}"
    else:
        what = str(ev.get("group") or "")
        if (ev.get("pooled") or 1) > 1:
            what += f" (last {ev['pooled']} windows)"
        value = "suppressed" if raw.get("rate") is not None and ev["rate"] is None else None
        value = value or _pct(ev.get("rate"))
        interval = "—" if ev.get("low") is None else f"{_pct(ev['low'])}–{_pct(ev['high'])}"
    return (
        f"<tr><td>{e(str(ev['label']))}</td><td>{e(ev['before'])}</td>"
        f"<td>{e(ev['after'])}</td><td>{e(ev['cause'])}</td>"
        f"<td>{e(what)}</td><td>{shown}</td><td>{value}</td><td>{interval}</td>"
        f"<td>{e(str(ev.get('by') or ''))}</td><td>{e(str(ev.get('reason') or ''))}</td>"
        "</tr>"
    )


def render_monitor_html(document: dict[str, Any]) -> str:
    """The committee's monitoring report as one self-contained HTML page."""
    e = html.escape
    groups = []
    for w in document["windows"]:
        for c in w["cells"]:
            if c["group"] not in groups:
                groups.append(c["group"])
    state = document["state"]
    log, rows = document["log"], document["log"]["rows"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Monitoring: {e(document['title'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".open{color:#b00}.s-fail{color:#b00}.s-pass{color:#070}</style></head><body>",
        f"<h1>Monitoring: {e(document['title'])}</h1>",
        f"<p class='{'open' if state != 'closed' else ''}'><strong>Breaker {e(state)}</strong>"
        f": {e(document['reason'])} (exit {document['exit_code']})</p>",
        f"<p>{e(document['message'])}</p>",
        "<p>Rule: the breaker trips when the lower bound of the "
        f"{document['policy']['confidence']:.0%} Wilson interval of the "
        f"{e(document['policy']['metric'].replace('_', ' '))}, overall or of any group with at "
        f"least {document['policy']['min_cases']} reviewed decisions, is above "
        f"{document['policy']['trip_above']:.0%}{_pooled_text(document['policy'])}; it goes "
        "half-open after "
        f"{document['policy']['cool_down_windows']} window(s) and closes after "
        f"{document['policy']['recovery_windows']} consecutive healthy window(s). Windows "
        "with too few reviewed decisions are <em>insufficient</em>, never healthy.</p>",
        # the log's counts under the one rule: no count under 11, nor its complement
        f"<p>Log: {count_text(rows)} decisions, {e(count_of(log['reviewed'], rows))} reviewed, "
        f"{len(document['windows'])} complete windows ({e(count_of(log['pending_rows'], rows))} "
        "decisions in the window still open).</p>",
        "<h2>Events</h2>",
    ]
    if document["events"]:
        parts.append(
            "<table><tr><th>window</th><th>from</th><th>to</th><th>cause</th><th>evidence</th>"
            "<th>reviewed</th><th>rate</th><th>interval</th><th>by</th><th>reason</th></tr>"
        )
        parts += [_event_row(document, ev) for ev in document["events"]]
        parts.append("</table>")
    else:
        parts.append("<p>No transition: the breaker stayed closed.</p>")
    warnings = [w for w in document["windows"] if w.get("estimate")]
    if warnings:
        parts.append(
            "<h2>Early warnings (estimated from the model's scores)</h2><p>The misjudgment "
            "rate estimated from calibrated scores, over every decision (reviewed or not), "
            "has a lower bound above the bound in these windows:</p><ul>"
        )
        for w in warnings:
            est = w["estimate"]
            parts.append(
                f"<li>{e(w['label'])}: {e(est['group'])} estimated {_pct(est['rate'])} "
                f"({_pct(est['low'])}–{_pct(est['high'])}); window {e(w['health'])}</li>"
            )
        parts.append("</ul>")
    parts.append("<h2>Misjudgment rate per group</h2>")
    for group in groups:
        png = base64.b64encode(monitor_chart(document, group)).decode()
        parts.append(
            f"<h3>{e(group)}</h3><img alt='misjudgment rate of {e(group)} per window' "
            f"src='data:image/png;base64,{png}'>"
        )
    parts += fairness_section(document)
    parts.append(
        "<h2>Windows</h2><table><tr><th>window</th><th>health</th><th>state</th>"
        "<th>group</th><th>reviewed</th><th>rate</th></tr>"
    )
    for w in document["windows"]:
        disclosed = window_disclosure(w)
        for c in w["cells"]:
            shown = disclosed[c["group"]]
            cases = e(size_text(c["cases"], hidden=shown.denominator is None))
            rate = (
                "insufficient"
                if not c["judged"]
                else "suppressed"
                if shown.rate is None
                else _pct(c["rate"])
            )
            parts.append(
                f"<tr><td>{e(w['label'])}</td><td>{e(w['health'])}</td><td>{e(w['state'])}</td>"
                f"<td>{e(c['group'])}</td><td>{cases}</td><td>{rate}</td></tr>"
            )
    parts.append("</table></body></html>")
    return "\n".join(parts)
