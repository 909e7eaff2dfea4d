"""report.html: one self-contained page (no scripts, no network), verdict first."""

from __future__ import annotations

from typing import Any

from ._text import VERDICT_TITLES, fmt, status_label

__all__ = ["render_html"]


def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["status"] = status_label
    return env


def _bars(check: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-group value and interval as fractions of the chart width (rates are in [0, 1])."""
    rows = []
    for group, g in check["by_group"].items():
        value = g.get("value")
        lo, hi = (g.get("ci") or [None, None])[:2]
        rows.append(
            {"group": group, "value": value, "lo": lo, "hi": hi, "status": g.get("status", "")}
        )
    return rows


def render_html(document: dict[str, Any]) -> str:
    """Render a results document as a self-contained HTML report."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        doc=document,
        title=VERDICT_TITLES[document["verdict"]],
        bars={c["name"]: _bars(c) for c in document["checks"]},
    )
