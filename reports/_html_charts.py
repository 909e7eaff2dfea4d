"""The report's inline SVG charts: a group metric's rates with their intervals and the
threshold line, and the robustness check's accuracy drop per group."""

from __future__ import annotations

from html import escape
from typing import Any

from ._suppress import group_values

__all__: list[str] = []


def _chart(check: dict[str, Any], rows: list[dict], document: dict[str, Any]) -> str | None:
    """Rates with interval bars and the threshold line, as inline SVG."""
    shown = [r for r in rows if r["raw"] is not None]
    if not shown:
        return None
    # the threshold line must not reveal a suppressed rate
    disclosed = group_values(check, document=document)
    best_group, worst_group = (check["details"].get(k) or "" for k in ("best_group", "worst_group"))
    best = disclosed[best_group].rate if best_group in disclosed else None
    line = None
    t = check["threshold"]
    if best is not None and check["disparity"] == "ratio" and "min" in t:
        line = best * t["min"]
    elif best is not None and check["disparity"] == "difference" and "max" in t:
        worst = (disclosed[worst_group].rate if worst_group in disclosed else None) or best
        line = best - t["max"] if worst <= best else best + t["max"]
    x0, width, height = 250, 330, 24 * len(shown) + 34
    parts = [
        f'<svg role="img" width="620" height="{height}" viewBox="0 0 620 {height}" '
        f'aria-label="{escape(check["metric"])} by group with 95% intervals">'
    ]
    for i, r in enumerate(shown):
        y = 8 + 24 * i
        parts.append(f'<text x="0" y="{y + 12}">{escape(r["group"][:38])}</text>')
        parts.append(
            f'<rect x="{x0}" y="{y + 3}" width="{r["raw"] * width:.1f}" height="12" '
            'fill="#9aa9b9" stroke="#333" stroke-width="0.5"></rect>'
        )
        if r["lo"] is not None:
            parts.append(
                f'<line x1="{x0 + r["lo"] * width:.1f}" x2="{x0 + r["hi"] * width:.1f}" '
                f'y1="{y + 9}" y2="{y + 9}" stroke="#000" stroke-width="2"></line>'
            )
        parts.append(f'<text x="{x0 + width + 6}" y="{y + 12}">{r["raw"]:.2f}</text>')
    base = 8 + 24 * len(shown)
    parts.append(
        f'<line x1="{x0}" x2="{x0 + width}" y1="{base + 4}" y2="{base + 4}" stroke="#000"></line>'
    )
    parts.append(
        f'<text x="{x0 - 3}" y="{base + 18}">0</text>'
        f'<text x="{x0 + width - 4}" y="{base + 18}">1</text>'
    )
    if line is not None and 0 <= line <= 1:
        parts.append(
            f'<line x1="{x0 + line * width:.1f}" x2="{x0 + line * width:.1f}" y1="2" '
            f'y2="{base + 4}" stroke="#000" stroke-dasharray="5 3"></line>'
        )
        parts.append(
            f'<text x="{x0 + line * width + 3:.1f}" y="{base + 18}">threshold {line:.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _drop_chart(check: dict[str, Any], rows: list[dict]) -> str | None:
    """Each group's accuracy drop (points) with its interval, zero marked, as inline SVG."""
    shown = [r for r in rows if r["raw"] is not None]
    if not shown:
        return None
    values = [v for r in shown for v in (r["raw"], r["lo"], r["hi"]) if v is not None]
    lo, hi = min(0.0, *values), max(0.0, *values)
    span = (hi - lo) or 1.0
    x0, width, height = 250, 330, 24 * len(shown) + 34

    def x(v: float) -> float:
        return x0 + (v - lo) / span * width

    parts = [
        f'<svg role="img" width="620" height="{height}" viewBox="0 0 620 {height}" '
        'aria-label="accuracy drop by group, in points, with 95% intervals">'
    ]
    for i, r in enumerate(shown):
        y = 8 + 24 * i
        left, right = sorted((x(0.0), x(r["raw"])))
        parts.append(f'<text x="0" y="{y + 12}">{escape(r["group"][:38])}</text>')
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 3}" width="{right - left:.1f}" height="12" '
            'fill="#9aa9b9" stroke="#333" stroke-width="0.5"></rect>'
        )
        if r["lo"] is not None and r["hi"] is not None:
            parts.append(
                f'<line x1="{x(r["lo"]):.1f}" x2="{x(r["hi"]):.1f}" y1="{y + 9}" '
                f'y2="{y + 9}" stroke="#000" stroke-width="2"></line>'
            )
        parts.append(f'<text x="{x0 + width + 6}" y="{y + 12}">{100 * r["raw"]:.1f}</text>')
    base = 8 + 24 * len(shown)
    parts.append(
        f'<line x1="{x(0.0):.1f}" x2="{x(0.0):.1f}" y1="2" y2="{base + 4}" stroke="#000"></line>'
        f'<text x="{x(0.0) - 3:.1f}" y="{base + 18}">0 (no drop)</text>'
        f'<text x="{x0 + width - 40}" y="{base + 18}">{100 * hi:.0f} points</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
