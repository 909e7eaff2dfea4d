"""report.html: one self-contained page (no scripts, no network), verdict first."""

from __future__ import annotations

import base64
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


_CHARTS = {
    "explain_importance.png": "Global importance of each feature, with 95% intervals.",
    "explain_beeswarm.png": "Each dot is one explained decision's attribution to a feature.",
    "explain_groups.png": "Mean attribution of the top features in each group.",
}


def render_html(document: dict[str, Any], images: dict[str, bytes] | None = None) -> str:
    """Render a results document as a self-contained HTML report.

    ``images`` are chart files named in ``document["artifacts"]``; PNGs among them are
    embedded as data URIs, so the page needs no other file and no network.
    """
    images = images or {}
    charts = [
        {
            "src": "data:image/png;base64," + base64.b64encode(images[name]).decode(),
            "caption": caption,
        }
        for name, caption in _CHARTS.items()
        if name in images
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        doc=document,
        title=VERDICT_TITLES[document["verdict"]],
        bars={
            c["name"]: _bars(c)
            for c in document["checks"]
            if c["type"] in ("group_metric", "score_metric")
        },
        charts=charts,
    )
