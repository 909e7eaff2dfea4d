"""Plain-language sentences for an ethics committee, built from the results document."""

from __future__ import annotations

from typing import Any

from ._suppress import MIN_CELL, count_text, group_values, withheld_values

__all__ = [
    "LABELS",
    "check_message",
    "check_sentence",
    "group_label",
    "meaning_text",
    "metric_label",
    "threshold_text",
    "units",
]

#: Each rate's name in words.
LABELS = {
    "selection_rate": "rate of favourable decisions",
    "true_positive_rate": "rate at which people who merit the favourable outcome receive it",
    "false_positive_rate": "rate at which people who do not merit the favourable outcome "
    "receive it",
    "true_negative_rate": "rate at which people who do not merit the favourable outcome are "
    "refused",
    "false_negative_rate": "rate at which people who merit the favourable outcome are refused",
    "precision": "share of favourable decisions that are right",
    "negative_predictive_value": "share of unfavourable decisions that are right",
    "false_discovery_rate": "share of favourable decisions that are wrong",
    "false_omission_rate": "share of unfavourable decisions that are wrong",
    "accuracy": "share of decisions that are right",
    "error_rate": "share of decisions that are wrong",
    "base_rate": "share of people who merit the favourable outcome",
    "equalized_odds": "worse of the true and false positive rates",
}


_PLURAL = {"person": "people", "image": "images", "clip": "clips", "call": "calls"}


def units(document: dict[str, Any] | None, count: int | None = None) -> str:
    """What the rows are, from the spec's ``data.unit``: ``people``, ``images``, ``clips``...

    With ``count``, the number and its unit (``1 clip``, ``200 clips``), under the
    disclosure rule (``fewer than 11 clips``).
    """
    data = ((document or {}).get("spec", {}).get("content") or {}).get("data") or {}
    unit = data.get("unit") or "person"
    if count is None:
        return _PLURAL.get(unit, unit + "s")
    if count_text(count) != str(round(count)):
        return f"{count_text(count)} {_PLURAL.get(unit, unit + 's')}"
    return f"{count:,} {unit if count == 1 else _PLURAL.get(unit, unit + 's')}"


def metric_label(metric: str, document: dict[str, Any] | None = None) -> str:
    """A rate's name in words; with the spec's ``positive_meaning`` and ``unit``, in theirs
    (``rate at which an alarm is raised``) rather than words that assume a favour."""
    data = ((document or {}).get("spec", {}).get("content") or {}).get("data") or {}
    meaning = data.get("positive_meaning")
    if not meaning:
        return LABELS.get(metric, metric.replace("_", " "))
    rows, pos = units(document), data.get("positive_label")
    merit, other = f"{rows} labelled {pos}", f"{rows} not labelled {pos}"
    worded = {
        "selection_rate": f"rate at which {meaning}",
        "true_positive_rate": f"share of {merit} for which {meaning}",
        "false_positive_rate": f"share of {other} for which {meaning}",
        "true_negative_rate": f"share of {other} for which it is not the case that {meaning}",
        "false_negative_rate": f"share of {merit} for which it is not the case that {meaning}",
        "precision": f"share of the cases where {meaning} that are right",
        "false_discovery_rate": f"share of the cases where {meaning} that are wrong",
        "base_rate": f"share of {merit}",
    }
    return worded.get(metric, LABELS.get(metric, metric.replace("_", " ")))


def meaning_text(check: dict[str, Any], document: dict[str, Any] | None = None) -> str:
    """What a check measures; a rate's own words give way to the spec's ``positive_meaning``
    (the disparity's explanation is kept)."""
    meaning = check["details"].get("meaning", "")
    label = metric_label(check["metric"], document)
    if check["type"] != "group_metric" or label == LABELS.get(check["metric"]):
        return meaning
    rest = meaning[meaning.index("The disparity") :] if "The disparity" in meaning else ""
    return f"{label[0].upper()}{label[1:]}, in each group. {rest}".strip()


def group_label(key: str | None) -> str:
    """``'sex=female|age_band=<25'`` → ``'sex female, age band <25'``."""
    if not key:
        return "no group"
    parts = (part.partition("=") for part in key.split("|"))
    return ", ".join(f"{a.replace('_', ' ')} {v}" if eq else a for a, eq, v in parts)


def _pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def threshold_text(check: dict[str, Any], pct: bool = False) -> str:
    """The check's bounds in words, e.g. ``at least 0.8``; percentages with ``pct``."""
    show = _pct if pct else (lambda v: f"{v:g}")
    t = check["threshold"]
    parts = ([f"at least {show(t['min'])}"] if "min" in t else []) + (
        [f"at most {show(t['max'])}"] if "max" in t else []
    )
    return " and ".join(parts)


def _withheld(check: dict[str, Any]) -> str:
    return (
        f"{check['name']}: {check['status']}. Its value and interval are suppressed: with "
        f"another check of the {check['metric']} over {check['view']}, they would give back "
        f"two group rates from which a count under {MIN_CELL} could be recovered."
    )


def check_message(check: dict[str, Any], document: dict[str, Any]) -> str:
    """A check's message as a person may read it (the message in results.json, unless the
    check's value is withheld by :func:`reports.withheld_values`)."""
    if check["name"] in withheld_values(document):
        return _withheld(check)
    return check["message"]


def check_sentence(check: dict[str, Any], document: dict[str, Any] | None = None) -> str:
    """One sentence saying what a check found, in words a committee reads (the spec's
    ``positive_meaning`` and ``unit`` when ``document`` is given)."""
    if document is not None and check["name"] in withheld_values(document):
        return _withheld(check)
    status, value, ci = check["status"], check["value"], check["ci"]
    if check["type"] != "group_metric" or value is None or status in ("error", "skipped"):
        return check["message"]
    details = check["details"]
    worst, best = details.get("worst_group"), details.get("best_group")
    disclosed = group_values(check, document=document)
    wv, bv = (disclosed[g].rate if g in disclosed else None for g in (worst, best))
    if wv is None or bv is None:  # both or neither: the difference and one give the other
        wv = bv = None
    what = metric_label(check["metric"], document)
    if not ci:
        interval = ""
    elif check["disparity"] == "ratio":
        interval = f" (interval {_pct(ci[0])} to {_pct(ci[1])})"
    else:
        interval = f" (interval {100 * ci[0]:.1f} to {100 * ci[1]:.1f} points)"
    if check["disparity"] == "ratio":
        sentence = (
            f"For the group {group_label(worst)}, the {what} is {_pct(value)} of that "
            f"of the group {group_label(best)}{interval}; the policy requires "
            f"{threshold_text(check, pct=True)}."
        )
    else:
        allowed = threshold_text(check, pct=True).replace("%", " points")
        rates = (f" ({_pct(wv)})", f" ({_pct(bv)})") if wv is not None else ("", "")
        sentence = (
            f"The {what} differs by {100 * value:.1f} points between the groups "
            f"{group_label(worst)}{rates[0]} and {group_label(best)}{rates[1]}"
            f"{interval}; the policy allows {allowed}."
        )
        if wv is None:
            sentence += (
                f" The two groups' rates are not shown: a count under {MIN_CELL} could be "
                "recovered from them."
            )
    if status == "insufficient_evidence":
        small = ", ".join(group_label(g) for g in details.get("insufficient_groups", []))
        sentence += f" Some groups are too small to judge: {small}."
    if status == "inconclusive":
        sentence += " The interval crosses the threshold: the evidence cannot decide."
    return sentence
