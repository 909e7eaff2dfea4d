"""What changed between two audits: check by check, with the noise rule stated.

The comparison takes two results documents (what results.json holds) and reports, for each
check (matched by name): both values with their intervals, whether the change is larger than
the noise, and whether a failure is new or resolved; and which digests (spec, data, model) and
policy texts changed.

The noise rule is the one a results document allows. It records each check's value and its
interval, not the standard error nor the resamples, and two audits of one system usually read
the same people: no paired test can be computed from the documents. A change is called larger
than the noise only when the two intervals do not overlap. That is conservative: intervals
that overlap do not show that nothing changed, only that these documents cannot tell.
"""

from __future__ import annotations

from typing import Any

from ._gaming import value_hidden
from ._suppress import withheld_values
from ._text import _CONTROL, fmt, status_label

__all__ = ["NOISE_RULE", "diff_documents", "diff_text"]

NOISE_RULE = (
    "A change is called larger than the noise only when the two audits' intervals for the "
    "check do not overlap. Results documents record each value's interval, not its standard "
    "error nor its resamples, and both audits often read the same people, so no paired test "
    "can be computed from them; overlapping intervals do not show that nothing changed, only "
    "that the documents cannot tell."
)
_BAD = frozenset({"fail", "error", "inconclusive", "insufficient_evidence"})
_DIGESTS = (
    ("spec", "spec_sha256"),
    ("data", "data_sha256"),
    ("model", "model_sha256"),
)


def _interval(check: dict[str, Any] | None) -> list[float] | None:
    ci = (check or {}).get("ci")
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        return [float(ci[0]), float(ci[1])]
    return None


def _noise(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """``larger than the noise``, ``within the noise``, ``no change``, ``cannot tell (...)``
    or ``not comparable``."""
    if before is None or after is None:
        return "not comparable"
    if before.get("suppressed") or after.get("suppressed"):
        return "cannot tell (a value is suppressed by the disclosure rule)"
    a, b = _interval(before), _interval(after)
    if before.get("value") is None or after.get("value") is None:
        return "not comparable"
    if float(before["value"]) == float(after["value"]):
        return "no change"
    if a is None or b is None:
        return "cannot tell (no interval recorded)"
    if a[1] < b[0] or b[1] < a[0]:
        return "larger than the noise"
    return "within the noise"


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if before is None:
        return "new check"
    if after is None:
        return "check removed"
    was, now = before.get("status"), after.get("status")
    if was == now:
        return "unchanged status"
    if was in _BAD and now == "pass":
        return "resolved failure" if was == "fail" else "now decided: pass"
    if now == "fail":
        return "new failure"
    if now in _BAD:
        return f"now {status_label(now)}"
    return f"{status_label(was)} to {status_label(now)}"


def _side(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if check is None:
        return None
    hidden = bool(check.get("suppressed"))
    return {
        "status": check.get("status"),
        "value": None if hidden else check.get("value"),
        "ci": None if hidden else _interval(check),
        "suppressed": hidden,
        "threshold": check.get("threshold") or {},
    }


def _readable(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The document's checks by name, each value the disclosure rule hides in its report
    marked ``suppressed`` (and neither shown nor compared)."""
    withheld = withheld_values(document)
    return {
        c["name"]: {**c, "suppressed": value_hidden(c) or c["name"] in withheld}
        for c in document.get("checks", [])
    }


def _audit(document: dict[str, Any]) -> dict[str, Any]:
    spec, run = document.get("spec") or {}, document.get("run") or {}
    return {
        "audit_id": run.get("audit_id"),
        "spec_name": spec.get("name"),
        "started_at": run.get("started_at"),
        "verdict": document.get("verdict"),
        "model_uri": (document.get("model") or {}).get("uri"),
    }


def diff_documents(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Compare two results documents check by check.

    Parameters
    ----------
    before, after : dict
        The earlier and the later audit's results documents.

    Returns
    -------
    dict
        ``before`` and ``after`` (which audits), ``noise_rule``, ``checks`` (one entry per
        check name: both sides, ``change`` and ``noise``), ``new_failures``,
        ``resolved_failures``, ``digests`` (each with ``before``, ``after``, ``changed``) and
        ``policy`` (the policy texts and whether they changed).
    """
    old, new = _readable(before), _readable(after)
    names = list(old) + [n for n in new if n not in old]
    checks = []
    for name in names:
        b, a = old.get(name), new.get(name)
        value_b = None if b is None or b["suppressed"] else b.get("value")
        value_a = None if a is None or a["suppressed"] else a.get("value")
        checks.append(
            {
                "name": name,
                "before": _side(b),
                "after": _side(a),
                "difference": None
                if value_a is None or value_b is None
                else float(value_a) - float(value_b),
                "change": _change(b, a),
                "noise": _noise(b, a),
            }
        )
    digests = {}
    for label, key in _DIGESTS:
        x = (before.get("provenance") or {}).get(key)
        y = (after.get("provenance") or {}).get(key)
        digests[label] = {"before": x, "after": y, "changed": x != y}
    policy_b = (before.get("spec") or {}).get("policy")
    policy_a = (after.get("spec") or {}).get("policy")
    return {
        "before": _audit(before),
        "after": _audit(after),
        "noise_rule": NOISE_RULE,
        "checks": checks,
        "new_failures": [c["name"] for c in checks if c["change"] == "new failure"],
        "resolved_failures": [c["name"] for c in checks if c["change"] == "resolved failure"],
        "digests": digests,
        "policy": {"before": policy_b, "after": policy_a, "changed": policy_b != policy_a},
    }


def _value(side: dict[str, Any] | None) -> str:
    if side is None:
        return "(absent)"
    if side.get("suppressed"):
        return f"{status_label(side['status'] or '')} suppressed (disclosure rule)"
    ci = side["ci"]
    interval = f" [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else " [no interval]"
    return f"{status_label(side['status'] or '')} {fmt(side['value'])}{interval}"


def _clean(text: Any) -> str:
    return _CONTROL.sub(" ", str(text))


def diff_text(diff: dict[str, Any]) -> str:
    """The diff as plain text for a terminal (no colour: every change is said in words)."""
    b, a = diff["before"], diff["after"]
    lines = [
        f"before: {_clean(b['spec_name'])} audit {_clean(b['audit_id'])} "
        f"({_clean(b['started_at'])}), verdict {_clean(b['verdict'])}",
        f"after:  {_clean(a['spec_name'])} audit {_clean(a['audit_id'])} "
        f"({_clean(a['started_at'])}), verdict {_clean(a['verdict'])}",
        "",
    ]
    width = max([len(c["name"]) for c in diff["checks"]] + [5])
    for c in diff["checks"]:
        lines.append(
            f"{_clean(c['name']):<{width}}  {_value(c['before'])} -> {_value(c['after'])}; "
            f"{c['change']}; change {c['noise']}"
        )
    lines.append("")
    lines.append("new failures: " + (", ".join(map(_clean, diff["new_failures"])) or "none"))
    lines.append(
        "resolved failures: " + (", ".join(map(_clean, diff["resolved_failures"])) or "none")
    )
    for label, d in diff["digests"].items():
        state = "changed" if d["changed"] else "same"
        lines.append(f"{label} digest: {state} ({_clean(d['before'])} -> {_clean(d['after'])})")
    lines.append(f"policy text: {'changed' if diff['policy']['changed'] else 'same'}")
    lines.append("")
    lines.append("noise rule: " + diff["noise_rule"])
    return "\n".join(lines) + "\n"
