"""Explanation charts as PNG and SVG: global importance, a beeswarm, group-wise attribution.

Charts show aggregates, except the beeswarm, whose dots are rows' attributions without their
feature values (no dot can be tied to a person's data).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from metrics import Attributions

__all__ = ["explanation_charts"]

_TOP = 12


def _save(fig) -> dict[str, bytes]:
    out = {}
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(
            buf,
            format=ext,
            dpi=110,
            bbox_inches="tight",
            metadata={"Date": None} if ext == "svg" else None,
        )
        out[ext] = buf.getvalue()
    return out


def explanation_charts(
    att: Attributions, groups: pd.DataFrame, *, importance: list[dict]
) -> dict[str, bytes]:
    """Render the three charts; returns ``{file name: bytes}``.

    Parameters
    ----------
    att : Attributions
    groups : DataFrame
        The sensitive columns of the explained rows (same order as ``att.values``).
    importance : list of dict
        Global importance with intervals (``feature``, ``mean_abs_shap``, ``ci``).
    """
    # The object-oriented API only: no pyplot, so no global backend or figure state changes
    # (a notebook that runs an audit keeps its own inline backend).
    from matplotlib.figure import Figure

    files: dict[str, bytes] = {}
    top = importance[:_TOP][::-1]
    fig = Figure(figsize=(7, 0.35 * len(top) + 1.2))
    ax = fig.subplots()
    means = [t["mean_abs_shap"] for t in top]
    err = [
        [m - t["ci"][0] for m, t in zip(means, top, strict=True)],
        [t["ci"][1] - m for m, t in zip(means, top, strict=True)],
    ]
    ax.barh([t["feature"] for t in top], means, xerr=err, color="#7a8fa6", capsize=2)
    ax.set_xlabel(f"mean |SHAP| ({att.explained}), 95% bootstrap interval")
    ax.set_title("Global importance")
    for ext, data in _save(fig).items():
        files[f"explain_importance.{ext}"] = data

    names = list(att.feature_names)
    order = [names.index(t["feature"]) for t in importance[:_TOP]][::-1]
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(7, 0.35 * len(order) + 1.2))
    ax = fig.subplots()
    for y, j in enumerate(order):
        v = att.values[:, j]
        ax.scatter(v, y + rng.uniform(-0.3, 0.3, len(v)), s=4, alpha=0.4, color="#333")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.set_xlabel(f"SHAP value ({att.explained}); left pushes towards refusal")
    ax.set_title("Attributions of each row (beeswarm, top features)")
    for ext, data in _save(fig).items():
        files[f"explain_beeswarm.{ext}"] = data

    top_idx = [names.index(t["feature"]) for t in importance[:6]]
    frames = []
    for attribute in groups.columns:
        for level, idx in groups.groupby(attribute, sort=True).indices.items():
            frames.append(
                pd.Series(
                    att.values[idx][:, top_idx].mean(axis=0),
                    index=[names[j] for j in top_idx],
                    name=f"{attribute}={level}",
                )
            )
    table = pd.concat(frames, axis=1)
    fig = Figure(figsize=(7, 0.5 * len(top_idx) * max(1, len(frames)) / 3 + 1.5))
    ax = fig.subplots()
    table.plot.barh(ax=ax, width=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"mean SHAP value by group ({att.explained})")
    ax.set_title("Group-wise mean attribution, top features")
    ax.legend(fontsize=7, loc="best")
    for ext, data in _save(fig).items():
        files[f"explain_groups.{ext}"] = data
    return files
