"""A check's value over a system's audits, as a static SVG with a text alternative.

Drawn on the server (no script), in black and grey: a pass is a filled circle, a failure a
cross, anything else a hollow square, and every point is labelled with its status in the data
table that goes with the chart, so nothing is said by colour alone.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ._gaming import value_hidden
from ._suppress import withheld_values
from ._text import fmt, status_label

__all__ = ["trend_points", "trend_summary", "trend_svg"]

_W, _H = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 20, 16, 70


def trend_points(name: str, audits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per audit (oldest first) holding the check called ``name``."""
    points = []
    for doc in audits:
        check = next((c for c in doc.get("checks", []) if c.get("name") == name), None)
        if check is None:
            continue
        ci = check.get("ci") if isinstance(check.get("ci"), list | tuple) else None
        # A value the disclosure rule hides in the audit's report is hidden here too.
        hidden = value_hidden(check) or name in withheld_values(doc)
        ci = None if hidden else ci
        points.append(
            {
                "version": doc["spec"]["name"],
                "audit_id": doc["run"]["audit_id"],
                "date": str(doc["run"].get("started_at") or "")[:10],
                "status": check.get("status"),
                "status_label": status_label(check.get("status") or ""),
                "value": None if hidden else check.get("value"),
                "suppressed": hidden,
                "lo": None if not ci or ci[0] is None else float(ci[0]),
                "hi": None if not ci or ci[1] is None else float(ci[1]),
                "threshold": check.get("threshold") or {},
            }
        )
    return points


def _bounds(points: list[dict[str, Any]]) -> tuple[float, float]:
    values = [
        float(v)
        for p in points
        for v in (p["value"], p["lo"], p["hi"], *p["threshold"].values())
        if isinstance(v, int | float)
    ]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or 0.05
    return lo - pad, hi + pad


def _marker(status: str | None, x: float, y: float) -> str:
    if status == "pass":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#000"></circle>'
    if status == "fail":
        return (
            f'<path d="M{x - 6:.1f} {y - 6:.1f}L{x + 6:.1f} {y + 6:.1f}M{x - 6:.1f} '
            f'{y + 6:.1f}L{x + 6:.1f} {y - 6:.1f}" stroke="#000" stroke-width="2.5"></path>'
        )
    return (
        f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="#fff" '
        'stroke="#000" stroke-width="2"></rect>'
    )


def trend_summary(name: str, points: list[dict[str, Any]]) -> str:
    """The chart's text alternative: every point in words."""
    if not points:
        return f"No audit holds the check {name}."
    parts = []
    for p in points:
        interval = "" if p["lo"] is None else f" (interval {fmt(p['lo'])} to {fmt(p['hi'])})"
        value = "suppressed" if p.get("suppressed") else fmt(p["value"])
        parts.append(f"{p['version']} on {p['date']}: {value}{interval}, {p['status_label']}")
    limits = "; ".join(f"{k} {fmt(v)}" for k, v in points[-1]["threshold"].items())
    return (
        f"{name}, audit by audit: "
        + "; ".join(parts)
        + (f". Threshold: {limits}." if limits else ".")
    )


def trend_svg(name: str, points: list[dict[str, Any]], *, chart_id: str) -> str:
    """The chart as inline SVG markup (``role="img"``, titled and described by its summary)."""
    lo, hi = _bounds(points)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    step = plot_w / max(len(points), 1)

    def y(v: float) -> float:
        return _TOP + (hi - v) / (hi - lo) * plot_h

    cid = escape(chart_id)
    parts = [
        f'<svg role="img" aria-labelledby="{cid}-t {cid}-d" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" class="trend" focusable="false">',
        f'<title id="{cid}-t">{escape(name)}: value by audit</title>',
        f'<desc id="{cid}-d">{escape(trend_summary(name, points))}</desc>',
        f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}" stroke="#000"></line>',
        f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}" '
        'stroke="#000"></line>',
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="12">'
            f"{v:.2f}</text>"
            f'<line x1="{_LEFT - 3}" x2="{_LEFT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#000"></line>'
        )
    limits = points[-1]["threshold"] if points else {}
    for kind, value in limits.items():
        if isinstance(value, int | float) and lo <= value <= hi:
            parts.append(
                f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                'stroke="#000" stroke-dasharray="6 4"></line>'
                f'<text x="{_W - _RIGHT - 4}" y="{y(value) - 4:.1f}" text-anchor="end" '
                f'font-size="12">threshold ({escape(kind)}) {value:g}</text>'
            )
    for i, p in enumerate(points):
        x = _LEFT + step * (i + 0.5)
        if p["lo"] is not None and p["hi"] is not None:
            parts.append(
                f'<path d="M{x:.1f} {y(p["lo"]):.1f}V{y(p["hi"]):.1f}M{x - 5:.1f} '
                f'{y(p["lo"]):.1f}H{x + 5:.1f}M{x - 5:.1f} {y(p["hi"]):.1f}H{x + 5:.1f}" '
                'stroke="#555" stroke-width="1.5" fill="none"></path>'
            )
        if isinstance(p["value"], int | float):
            parts.append(_marker(p["status"], x, y(p["value"])))
        parts.append(
            f'<text x="{x:.1f}" y="{_TOP + plot_h + 18}" text-anchor="middle" font-size="12">'
            f"{escape(p['version'][-24:])}</text>"
            f'<text x="{x:.1f}" y="{_TOP + plot_h + 34}" text-anchor="middle" font-size="12">'
            f"{escape(p['date'])}</text>"
            f'<text x="{x:.1f}" y="{_TOP + plot_h + 50}" text-anchor="middle" font-size="12">'
            f"{escape(p['status_label'])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
