"""A public transparency record of one system, after the UK Algorithmic Transparency
Recording Standard (ATRS): the fields fairgate knows from the audits' results documents,
and the fields only people can fill in, left empty and marked so.

Only aggregates, under the disclosure rule: check values with their intervals, statuses and
thresholds, the number of rows (as :func:`count_text` gives it) and the names of the
attributes compared. Nothing from any row.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ._suppress import count_text
from ._text import _CONTROL, fmt, spreadsheet_cell, status_label

__all__ = ["TO_FILL", "policy_text", "record_csv", "transparency_record"]

#: The mark of a field fairgate cannot know.
TO_FILL = "TO BE COMPLETED BY THE SYSTEM OWNER"
_EXPLAIN = {"sensitive_attribution", "proxy_attribution", "reason_codes", "explanation_stability"}
#: (section, field, where fairgate finds it in a structured ``system``/``deployment`` block).
_PEOPLE = (
    ("Tier 1", "Contact email", ("contact", "email")),
    ("Tier 1", "Website", ("website", "url")),
    ("Owner and responsibility", "Organisation", ("organisation", "organization", "owner")),
    ("Owner and responsibility", "Team", ("team",)),
    ("Owner and responsibility", "Senior responsible owner", ("senior_responsible_owner", "sro")),
    ("Owner and responsibility", "External supplier", ("supplier",)),
    ("Description and rationale", "Purpose", ("purpose",)),
    ("Description and rationale", "Benefits", ("benefits", "benefit")),
    ("Description and rationale", "Alternatives considered", ("alternatives",)),
    ("Decision-making process", "Process integration", ("process", "process_integration")),
    ("Decision-making process", "Frequency and scale of usage", ("scale", "frequency")),
    ("Decision-making process", "Human decisions and review", ("human_oversight", "oversight")),
    ("Decision-making process", "Appeals and review", ("appeals", "appeal")),
    ("Data specification", "Data collection", ("data_collection",)),
    ("Data specification", "Data sharing agreements", ("data_sharing",)),
    ("Data specification", "Data access and storage", ("data_storage", "data_access")),
    ("Risks, mitigations and impact assessments", "Impact assessment", ("impact_assessment",)),
)


def policy_text(document: dict[str, Any]) -> str:
    """The policies as the document states them: each applied policy's name and version
    (``provenance.policies``), else the spec's policy names, else its free-text note."""
    applied = (document.get("provenance") or {}).get("policies")
    if isinstance(applied, list) and applied:
        return ", ".join(
            f"{p.get('name')} (version {p.get('version')})"
            if p.get("version")
            else str(p.get("name"))
            for p in applied
            if isinstance(p, dict)
        )
    spec = document.get("spec") or {}
    policy = spec.get("policy") or (spec.get("content") or {}).get("policy")
    if isinstance(policy, list):
        return ", ".join(str(p) for p in policy) or str(spec.get("policy_note") or "not stated")
    if isinstance(policy, dict):
        name = policy.get("name") or policy.get("id") or "structured policy"
        version = policy.get("version")
        return f"{name} (version {version})" if version else str(name)
    return str(policy or spec.get("policy_note") or "not stated")


def _clean(value: Any) -> str:
    return _CONTROL.sub(" ", str(value)).strip()


def _blocks(document: dict[str, Any]) -> dict[str, Any]:
    """The structured ``system`` and ``deployment`` blocks of the spec, when there are."""
    content = (document.get("spec") or {}).get("content") or {}
    found: dict[str, Any] = {}
    for key in ("system", "deployment"):
        block = content.get(key)
        if isinstance(block, dict):
            found.update({k: v for k, v in block.items() if v not in (None, "", [], {})})
    return found


def _field(section: str, name: str, value: Any, source: str) -> dict[str, str]:
    text = _clean(value) if value not in (None, "") else ""
    return {
        "section": section,
        "field": name,
        "value": text or TO_FILL,
        "filled_by": source if text else "people",
    }


def _results(document: dict[str, Any], *, explain: bool) -> str:
    parts = []
    for c in document.get("checks", []):
        if (c.get("type") in _EXPLAIN) != explain:
            continue
        ci = c.get("ci") if isinstance(c.get("ci"), list) else None
        interval = f" (interval {fmt(ci[0])} to {fmt(ci[1])})" if ci and None not in ci else ""
        limits = ", ".join(f"{k} {v:g}" for k, v in (c.get("threshold") or {}).items())
        parts.append(
            f"{c['name']}: {status_label(c.get('status') or '')}, value "
            f"{fmt(c.get('value'))}{interval}" + (f", threshold {limits}" if limits else "")
        )
    return "; ".join(parts) or "No such check in the audit."


def transparency_record(system: str, audits: list[dict[str, Any]]) -> dict[str, Any]:
    """The system's transparency record from its audits (oldest first; the last is current).

    Returns
    -------
    dict
        ``standard``, ``system``, ``note``, ``fields`` (each ``section``, ``field``, ``value``,
        ``filled_by``: ``fairgate`` or ``people``, whose value is :data:`TO_FILL`).
    """
    doc = audits[-1]
    content = (doc.get("spec") or {}).get("content") or {}
    blocks = _blocks(doc)
    described = content.get("system")
    description = described if isinstance(described, str) else blocks.get("description")
    data, model, prov = doc.get("data") or {}, doc.get("model") or {}, doc.get("provenance") or {}
    versions = sorted({a["spec"]["name"] for a in audits})
    monitor = content.get("monitor")
    fields = [
        _field("Tier 1", "Name", blocks.get("name") or system, "fairgate"),
        _field("Tier 1", "Description", description, "fairgate (spec)"),
    ]
    for section, name, keys in _PEOPLE:
        value = next((blocks[k] for k in keys if k in blocks), None)
        fields.append(_field(section, name, value, "fairgate (spec)"))
    fields += [
        _field(
            "Description and rationale",
            "Policy the system is audited against",
            policy_text(doc),
            "fairgate (spec)",
        ),
        _field("Tool specification", "Versions audited", ", ".join(versions), "fairgate"),
        _field(
            "Model specification",
            "Model (kind and location)",
            f"{model.get('kind')} model at {model.get('uri')}",
            "fairgate",
        ),
        _field(
            "Model specification", "Model digest (SHA-256)", prov.get("model_sha256"), "fairgate"
        ),
        _field(
            "Model specification",
            "Model output",
            f"decision on '{data.get('label')}' (favourable value {data.get('positive_label')})",
            "fairgate",
        ),
        _field(
            "Data specification", "Audit data digest (SHA-256)", prov.get("data_sha256"), "fairgate"
        ),
        _field(
            "Data specification",
            "Data quantities",
            f"{count_text(data.get('rows'))} rows in the latest audit",
            "fairgate",
        ),
        _field(
            "Data specification",
            "Sensitive attributes compared",
            ", ".join(map(str, data.get("sensitive") or [])),
            "fairgate",
        ),
        _field(
            "Data specification",
            "Synthetic data",
            "yes" if (content.get("data") or {}).get("synthetic") else "no",
            "fairgate",
        ),
        _field(
            "Risks, mitigations and impact assessments",
            "Latest audit",
            f"{doc['run']['audit_id']} on {doc['run'].get('started_at')}: verdict "
            f"{doc.get('verdict')}",
            "fairgate",
        ),
        _field(
            "Risks, mitigations and impact assessments",
            "Fairness results",
            _results(doc, explain=False),
            "fairgate",
        ),
        _field(
            "Risks, mitigations and impact assessments",
            "Explainability results",
            _results(doc, explain=True),
            "fairgate",
        ),
        _field(
            "Decision-making process",
            "Automated safeguard in service",
            "a circuit breaker (fairgate monitor) stops automated decisions when the "
            "decisions in service breach the policy; people reset it"
            if monitor
            else None,
            "fairgate (spec)",
        ),
    ]
    return {
        "standard": "UK Algorithmic Transparency Recording Standard (fields fairgate knows)",
        "system": system,
        "note": f"Fields marked '{TO_FILL}' are for people to complete; fairgate cannot know "
        "them. Only aggregates are given, under the disclosure rule (counts under 11 hidden).",
        "fields": fields,
    }


def record_csv(record: dict[str, Any]) -> str:
    """The record as CSV: ``section,field,value,filled_by``, one line a field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["section", "field", "value", "filled_by"])
    writer.writeheader()
    for row in record["fields"]:
        # A cell starting with = + - @ (or a tab or carriage return before one) would be a
        # formula in a spreadsheet.
        writer.writerow({k: spreadsheet_cell(v) for k, v in row.items()})
    return out.getvalue()
