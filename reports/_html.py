"""report.html: the ethics committee's document, one self-contained file (no scripts, no
network), verdict first, then what was audited, each check in plain language with its group
table (small cells suppressed) and chart, data validation, and limitations. The charts are
drawn in :mod:`reports._html_charts`."""

from __future__ import annotations

import base64
from typing import Any

from ._gaming import GAMING_TYPES, gaming_rows, named_changes, value_hidden
from ._html_charts import _chart, _drop_chart
from ._plain import (
    check_sentence,
    group_label,
    meaning_text,
    metric_label,
    threshold_text,
    units,
)
from ._policy_report import annex_iv, clause_rows, clause_text, ll144_tables
from ._suppress import (
    MIN_CELL,
    SUPPRESSED,
    count_text,
    disclose,
    group_values,
    size_text,
    suppressed,
    withheld_values,
)
from ._text import _CONTROL, VERDICT_TITLES, fmt, status_label
from ._waiver_text import waiver_rows

__all__ = ["render_html"]

_CHARTS = {
    "explain_importance.png": "Global importance of each feature, with 95% intervals.",
    "explain_beeswarm.png": "Each dot is one explained decision's attribution to a feature.",
    "explain_groups.png": "Mean attribution of the top features in each group.",
}
_LEADS = {
    "pass": "The model may be released: every check passed.",
    "pass_with_waivers": "The model may be released only under the waivers below: every check "
    "passed or failed with a signed-off, unexpired waiver.",
    "fail": "The model must not be released: it fails the policy.",
    "inconclusive": "The model must not be released yet: the audit could not decide.",
    "error": "The model must not be released: the audit could not be completed.",
    "prohibited": "The model must not be used: a policy prohibits its declared use, whatever "
    "the metrics say.",
}


def _printable(value: Any) -> Any:
    """Every printed value without control characters (names and groups come from data)."""
    from markupsafe import Markup

    if isinstance(value, Markup):
        return Markup(_CONTROL.sub(" ", value))
    return _CONTROL.sub(" ", value) if isinstance(value, str) else value


def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_printable,
    )
    env.filters["fmt"] = fmt
    env.filters["count"] = count_text
    env.filters["observed"] = _observed
    env.filters["status"] = status_label
    return env


def _rows(
    check: dict[str, Any], hidden_n: set[str], hidden_den: set[str], document: dict[str, Any]
) -> list[dict]:
    """The group table, under the disclosure rule: small counts, rates that recover them,
    and the complements that would recover them from totals or from the disparity."""
    shown = group_values(check, document=document)
    rows = []
    for group, g in check["by_group"].items():
        if "n" not in g:
            continue
        hide_all = group in hidden_n or shown[group].denominator is None
        hide_rate = hide_all or group in hidden_den or shown[group].rate is None
        ci = g.get("ci") or [None, None]
        rows.append(
            {
                "group": group_label(group),
                # "<11" only for a count under 11; a larger one hidden to protect it is
                # "withheld" (saying "<11" would tell the reader a large group is small)
                "n": size_text(g["n"], hidden=group in hidden_n),
                "denominator": SUPPRESSED
                if hide_all or group in hidden_den
                else g.get("denominator", "–"),
                "value": SUPPRESSED if hide_rate else fmt(g.get("value")),
                "ci": SUPPRESSED if hide_rate else f"{fmt(ci[0])} to {fmt(ci[1])}",
                "evidence": {
                    "compared": "enough",
                    "insufficient": "too little",
                    "excluded": "excluded",
                    "reference": "reference",
                }.get(g.get("status", ""), ""),
                "raw": None if hide_rate else g.get("value"),
                "lo": None if hide_rate else ci[0],
                "hi": None if hide_rate else ci[1],
            }
        )
    return rows


def _observed(result: dict[str, Any], rows: int | None) -> str:
    """An expectation's observed value; a group's share of the rows under the rule. A named
    expectation's (any of Great Expectations') is not shown: it may be a count of people or
    a rate over the rows (a column's sum or mean, its distinct values), which the rule
    cannot tell apart; results.json keeps it."""
    value = result.get("observed_value")
    if result.get("kind") == "named" and value is not None:
        return f"{SUPPRESSED} (kept in results.json)"
    if isinstance(value, dict):
        parts = []
        for key, x in value.items():
            if key == "share" and disclose(rate=x, denominator=rows).rate is None:
                x = SUPPRESSED
            parts.append(f"{key}: {x}")
        return "; ".join(parts)
    return "" if value is None else str(value)


def _reason_rows(check: dict[str, Any]) -> list[dict[str, Any]]:
    """Reason codes per group: adverse decisions, the share with valid reasons, and the most
    common first reasons, each under the disclosure rule (shares of the group's refusals)."""
    rows = []
    for group, g in check["by_group"].items():
        n = g.get("n")
        valid = disclose(rate=g.get("value"), denominator=n)
        reasons = []
        for feature, share in (g.get("top_reasons") or {}).items():
            if disclose(rate=share, denominator=n).rate is not None:
                reasons.append(f"{feature} ({100 * share:.0f}%)")
        hidden = len(g.get("top_reasons") or {}) - len(reasons)
        if hidden:
            reasons.append(
                f"{hidden} other reason(s) suppressed (a count under {MIN_CELL} could be "
                "recovered from them)"
            )
        rows.append(
            {
                "group": group_label(group),
                "n": count_text(n),
                "value": SUPPRESSED if valid.rate is None else fmt(valid.rate),
                "reasons": "; ".join(reasons),
            }
        )
    return rows


def _limitations(document: dict[str, Any]) -> list[str]:
    checks = document["checks"]
    out = []
    small = sorted({g for c in checks for g in c["details"].get("insufficient_groups", [])})
    if small:
        out.append(
            f"Too little evidence to judge these groups (fewer {units(document)} than the minimum, "
            "or too few cases for a rate): " + ", ".join(group_label(g) for g in small) + "."
        )
    excluded = [e for c in checks for e in c["details"].get("excluded_groups", [])]
    for e in excluded:
        out.append(
            f"Left out on purpose: {group_label(e['group'])}. Reason given: {e['justification']}"
        )
    if any(
        c["disparity"] == "difference" and len(c["by_group"]) > 2
        for c in checks
        if c["type"] == "group_metric"
    ):
        out.append(
            "With many groups, the largest-minus-smallest difference of estimated rates "
            "tends to exceed the true one in small samples; the intervals show this "
            "uncertainty but do not remove the bias."
        )
    clusters = document["data"].get("clusters") or {}
    if clusters:
        robust = any(c["type"] == "robustness" and c["value"] is not None for c in checks)
        also = (
            f" The robustness intervals resample whole {clusters['column']}s within groups."
            if robust
            else ""
        )
        if clusters.get("rates_resample") == "clusters":
            out.append(
                f"Rows that share a {clusters['column']} are not independent: the intervals "
                f"resample whole {clusters['column']}s within groups, and a group with fewer "
                f"than three {clusters['column']}s is not judged."
            )
        else:
            out.append(
                f"Rows that share a {clusters['column']} are not independent, but the rates' "
                "intervals resample rows, not whole clusters: they are narrower than they "
                "should be." + also
            )
        few = [g for g, n in clusters["per_group"].items() if n <= 2]
        if few:
            out.append(
                f"These groups hold only one or two {clusters['column']}s, so the group "
                f"and the {clusters['column']} cannot be told apart: "
                + ", ".join(group_label(g) for g in few)
                + "."
            )
    if document["spec"]["content"]["data"].get("synthetic"):
        out.append(
            "The audit data are synthetic (generated), not records of real people: the "
            "results describe the model's behaviour on that generator, and real people "
            "may differ."
        )
    families = {c["type"] for c in checks}
    if not families & {"sensitive_attribution", "proxy_attribution", "reason_codes"}:
        out.append("The model's explanations were not examined (no explainability check).")
    if "robustness" not in families:
        out.append(
            "Robustness to changed inputs (lighting, noise, accents) was not tested by this audit."
        )
    else:
        tested = sorted({c["details"].get("perturbation", "") for c in checks} - {""})
        out.append(
            "Robustness was tested only against the perturbations named ("
            + ", ".join(tested)
            + "), each simulated on the audit data; real conditions may differ."
        )
    if families & set(GAMING_TYPES):
        out.append(
            "The gaming and recourse searches try only the features, values and costs the "
            "spec declares (a seeded grid for a range): a change outside them is not tested, "
            "and a cost is the policy's estimate of the effort, not the applicant's."
        )
    out.append(
        "The audit judges the decisions on the audit data only; it says nothing about "
        "people unlike those in the data."
    )
    return out


def _robustness_rows(check: dict[str, Any], hidden_n: set[str]) -> list[dict]:
    """Per group: accuracy before and after, the drop with its interval, and n."""
    rows = []
    for group, g in check["by_group"].items():
        hide = group in hidden_n or (g.get("n") or 0) < MIN_CELL
        ci = g.get("ci") or [None, None]
        pts = lambda v: "–" if v is None else f"{100 * v:.1f}"  # noqa: E731
        rows.append(
            {
                "group": group_label(group),
                "n": size_text(g.get("n"), hidden=hide),
                "clusters": g.get("clusters"),
                "before": "suppressed" if hide else pts(g.get("before")) + "%",
                "after": "suppressed" if hide else pts(g.get("after")) + "%",
                "drop": "suppressed" if hide else pts(g.get("value")),
                "ci": "suppressed" if hide else f"{pts(ci[0])} to {pts(ci[1])}",
                "evidence": "enough" if g.get("status") == "compared" else "too little",
                "raw": None if hide else g.get("value"),
                "lo": None if hide else ci[0],
                "hi": None if hide else ci[1],
            }
        )
    return rows


def render_html(document: dict[str, Any], images: dict[str, bytes] | None = None) -> str:
    """Render a results document as the committee's self-contained HTML report.

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
    hidden_n = suppressed({k: g.get("n") for k, g in document["groups"].items()})
    denominators: dict[str, dict[str, int]] = {}
    for c in document["checks"]:
        for group, g in c["by_group"].items():
            if "denominator" in g:
                denominators.setdefault(c["metric"], {})[group] = g["denominator"]
    hidden_den = {m: suppressed(d) for m, d in denominators.items()}
    checks = []
    withheld = withheld_values(document)
    for c in document["checks"]:
        rows = (
            _rows(c, hidden_n, hidden_den.get(c["metric"], set()), document)
            if c["type"] == "group_metric"
            else []
        )
        robust = _robustness_rows(c, hidden_n) if c["type"] == "robustness" else []
        gaming = c["type"] in GAMING_TYPES
        named, held = named_changes(c) if gaming else ([], 0)
        checks.append(
            {
                **c,
                "hidden": value_hidden(c) or c["name"] in withheld,
                "gaming_rows": gaming_rows(c) if gaming else [],
                "named": named,
                "held": held,
                "status_label": status_label(c["status"]),
                "sentence": check_sentence(c, document),
                "meaning": meaning_text(c, document),
                "source": c["details"].get("threshold_source", ""),
                "threshold_text": threshold_text(c) or "–",
                # The detectable difference is computed from group sizes: not shown when
                # one of them is hidden (with the disparity it could give that size back).
                "mdd": None
                if any(g in hidden_n for g in c["by_group"])
                else c["details"].get("minimum_detectable_difference"),
                "rows": rows,
                "reason_rows": _reason_rows(c) if c["type"] == "reason_codes" else [],
                "chart": _chart(c, rows, document) if rows else None,
                "robust_rows": robust,
                "drop_chart": _drop_chart(c, robust) if robust else None,
                "metric_label": metric_label(c["metric"], document).capitalize(),
                "clause_text": clause_text(c),
            }
        )
    reasons = [
        {"name": c["name"], "status": c["status_label"], "sentence": c["sentence"]}
        for c in checks
        if c["status"] != "pass"
    ]
    template = _environment().get_template("committee.html.j2")
    return template.render(
        doc=document,
        title=VERDICT_TITLES[document["verdict"]],
        lead=_LEADS[document["verdict"]],
        reasons=reasons,
        waivers=waiver_rows(document),
        checks=checks,
        charts=charts,
        limitations=_limitations(document),
        clause_rows=clause_rows(document) if document.get("policies") else [],
        ll144=ll144_tables(document),
        annex=annex_iv(document),
        units=units(document),
        rows_text=units(document, document["data"]["rows"])
        if document["data"].get("rows") is not None
        else "not read",
    )
