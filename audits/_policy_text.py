"""Checks in plain language, for ``fairgate explain-policy`` and the report's clause map."""

from __future__ import annotations

from typing import Any

__all__ = ["check_text"]

_REQUIREMENTS = {
    "bias_examination": "the audit data must be examined for bias: at least one check of a "
    "group rate or score across the sensitive attributes (Art. 10(2)(f)-(g))",
    "accuracy_metrics": "the deployment must declare its accuracy metrics "
    "(deployment.accuracy_metrics), each a rate the audit computes (Art. 15)",
    "human_oversight": "the deployment must say how people oversee and can override the "
    "system (deployment.human_oversight, Art. 14)",
    "logging": "the deployment must say what the system logs and for how long "
    "(deployment.logging, Art. 12)",
}


def _bounds(raw: dict[str, Any]) -> str:
    parts = []
    if raw.get("min") is not None:
        parts.append(f"at least {raw['min']:g}")
    if raw.get("max") is not None:
        parts.append(f"at most {raw['max']:g}")
    return " and ".join(parts)


def _over(raw: dict[str, Any]) -> str:
    if raw.get("roles"):
        roles = list(raw["roles"])
        text = ", ".join(roles)
        return f"for each of {text}" + (" and their intersection" if len(roles) > 1 else "")
    if raw.get("views"):
        return "over " + ", ".join(raw["views"])
    return "over each sensitive attribute and their intersection"


def check_text(raw: dict[str, Any]) -> str:
    """One sentence saying what a check (as written in a policy or spec) requires."""
    kind = raw.get("type") or ("group_metric" if "metric" in raw else "")
    if kind == "requirement":
        return _REQUIREMENTS.get(raw.get("requires", ""), str(raw.get("requires"))) + "."
    if kind == "prohibited_use":
        practices = " or ".join(p.replace("_", " ") for p in raw.get("practices", []))
        contexts = " or ".join(c.replace("_", " ") for c in raw.get("contexts", []))
        text = f"{practices} used in a {contexts} context is refused (exit 3, prohibited use)"
        if raw.get("medical_or_safety_exception", True):
            text += ", unless the deployment states a medical or safety reason"
        return text + ", whatever the metrics say."
    if kind == "impact_ratio":
        rate = "scoring rate (share above the whole sample's median score)"
        rate = rate if raw.get("rate") == "scoring" else "selection rate"
        text = (
            f"impact ratio of each category's {rate} to the highest category's, {_over(raw)}; "
            f"ratios under {raw.get('flag_below', 0.8):g} are flagged"
        )
        if raw.get("min") is not None:
            text += f", and a ratio under {raw['min']:g} blocks the release"
        else:
            text += " (reported, not blocking)"
        return text + "; categories, counts and unknowns are disclosed."
    if kind in ("group_metric", "score_metric"):
        metric = str(raw.get("metric", "")).replace("_", " ")
        disparity = raw.get("disparity", "")
        text = f"{metric} {disparity} {_over(raw)} must be {_bounds(raw)}"
        if raw.get("significance"):
            text += (
                f", with a two-proportion test at level {raw['significance']:g} beside the "
                "ratio (fails only when the shortfall is also significant)"
            )
        if raw.get("decide_on") == "interval":
            text += ", decided on the whole interval"
        return text + "."
    if kind == "robustness":
        return (
            f"under {raw.get('perturbation')} the accuracy drop may differ by {_bounds(raw)} "
            f"between groups {_over(raw)}."
        )
    return f"{kind.replace('_', ' ')} must be {_bounds(raw)}."
