"""What the policies add to the renderings: each check's clause, the NYC Local Law 144
disclosure table (CSV and report), and the EU AI Act Annex IV section.

Everything is read from the results document; counts under 11 (and what they can be
recovered from) are suppressed by the one disclosure rule (:mod:`reports._suppress`).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ._suppress import (
    SUPPRESSED,
    WITHHELD,
    check_counts,
    count_text,
    flagged_named,
    group_values,
    highest_named,
    suppressed,
)
from ._text import spreadsheet_cell

__all__ = [
    "LL144_CSV",
    "annex_iv",
    "clause_rows",
    "clause_text",
    "ll144_tables",
    "render_ll144_csv",
]

#: The disclosure table written beside the evidence when an audit computed impact ratios.
LL144_CSV = "ll144_disclosure.csv"


def clause_text(check: dict[str, Any]) -> str:
    """``'eu-ai-act 2024/1689, Art. 5(1)(f) (Regulation (EU) 2024/1689, Art. 5(1)(f))'``."""
    c = check.get("clause")
    if not c:
        return "the spec's own check"
    return f"{c['policy']} {c['version']}, clause {c['id']} ({c['citation']})"


def clause_rows(document: dict[str, Any]) -> list[dict[str, str]]:
    """One row per check: its name, status and the clause it implements."""
    return [
        {"check": c["name"], "status": c["status"], "clause": clause_text(c)}
        for c in document["checks"]
    ]


def _ratio_text(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def ll144_tables(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The disclosure table of each impact-ratio check, with the disclosure rule applied.

    Each table: ``view``, ``rate`` (selection or scoring), ``rows`` (category, number, rate,
    impact ratio, note), ``unknown`` (count text), ``audit_date`` and ``data_source``.
    """
    run, deployment = document.get("run") or {}, document.get("deployment") or {}
    source = deployment.get("data_source") or (document.get("data") or {}).get("path", "")
    date = str(run.get("started_at") or "")[:10]
    tables = []
    for check in document["checks"]:
        if check["type"] != "impact_ratio" or not check["by_group"]:
            continue
        details = check.get("details") or {}
        groups = check["by_group"]
        hidden = suppressed(check_counts(check))
        # The one rule decides every rate (impact_ratio checks: the highest category's rate
        # goes with its count, with the lowest ratio's category's, and never alone).
        shown = group_values(check)
        top = highest_named(check)  # None: the highest category is not named
        rows = []
        for g, v in groups.items():
            rate = shown[g].rate
            # Every ratio is a rate over the highest rate: shown only with it.
            ratio = v.get("impact_ratio") if rate is not None and top is not None else None
            note = {
                "excluded": "excluded from the impact ratios (under 2% of the data; reason "
                "stated in the report)",
                "highest": "highest rate" if top is not None else "",
            }.get(v["status"], "")
            rows.append(
                {
                    "category": g,
                    # under 11: suppressed; hidden only to protect a smaller count: so marked
                    "number": SUPPRESSED
                    if count_text(v["n"]) != str(v["n"])
                    else WITHHELD
                    if g in hidden
                    else str(v["n"]),
                    "rate": SUPPRESSED if rate is None else f"{rate:.3f}",
                    "impact_ratio": (
                        ""
                        if v["status"] == "excluded"
                        else SUPPRESSED
                        if ratio is None
                        else _ratio_text(ratio)
                    ),
                    "note": note,
                }
            )
        unknown = details.get("unknown_count")
        unknown_hidden = f"{check['view']}=unknown" in hidden
        tables.append(
            {
                "view": check["view"],
                "rate": details.get("rate", "selection"),
                "rows": rows,
                "unknown": SUPPRESSED if unknown_hidden else count_text(unknown),
                "excluded": details.get("excluded_groups") or [],
                # named where both rates are shown (the disclosure rule), then how many more
                "flagged": _flagged(check),
                "audit_date": date,
                "data_source": source,
            }
        )
    return tables


def _flagged(check: dict[str, Any]) -> list[str]:
    """The flagged categories a reader may see named, and how many others are flagged."""
    named, more = flagged_named(check, (check.get("details") or {}).get("flagged_groups") or [])
    return named + ([f"{more} whose rates are not shown"] if more else [])


def render_ll144_csv(document: dict[str, Any]) -> str | None:
    """The LL144 disclosure table as CSV (``None`` when no impact ratio was computed).

    Columns: category, number of individuals, rate, impact ratio (the rule's layout),
    then the note, the view, the audit date and the data source. Each view ends with a
    row for the individuals of unknown category (counted, not in the ratios).
    """
    tables = ll144_tables(document)
    if not tables:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "category",
            "number",
            "rate",
            "impact_ratio",
            "note",
            "view",
            "rate_kind",
            "audit_date",
            "data_source",
        ]
    )
    for t in tables:
        tail = [t["view"], t["rate"], t["audit_date"], t["data_source"]]
        for r in t["rows"]:
            cells = [r["category"], r["number"], r["rate"], r["impact_ratio"], r["note"], *tail]
            writer.writerow(map(spreadsheet_cell, cells))
        note = "unknown category: not in the impact ratios"
        writer.writerow(map(spreadsheet_cell, ["unknown", t["unknown"], "", "", note, *tail]))
    return out.getvalue()


_ANNEX_IV_POINTS = ("1(c)", "5(a)", "5(b)")


def annex_iv(document: dict[str, Any]) -> dict[str, Any] | None:
    """The Annex IV section (intended purpose, data, metrics, test results, dated and
    identified), when a policy asks for it and the deployment is high-risk."""
    deployment = document.get("deployment") or {}
    wanted = any(
        "annex_iv" in p.get("report_sections", [])
        and any(c["id"] == "Annex IV" and c["applies"] for c in p.get("clauses", []))
        for p in document.get("policies") or []
    )
    if not wanted or not deployment:
        return None
    p, run = document["provenance"], document["run"]
    fair = [c for c in document["checks"] if c["type"] not in ("prohibited_use", "requirement")]
    return {
        "purpose": deployment.get("purpose", ""),
        "annex_iii": deployment.get("annex_iii"),
        "context": deployment.get("context"),
        "provider": deployment.get("provider") or "not stated",
        "data": (
            f"{document['data']['path']} ({count_text(document['data'].get('rows'))} rows, "
            f"sha256 {p.get('data_sha256') or 'n/a'}); source: "
            f"{deployment.get('data_source') or 'not stated'}"
        ),
        "metrics": ", ".join(deployment.get("accuracy_metrics") or []) or "none declared",
        "oversight": deployment.get("human_oversight") or "not declared",
        "logging": deployment.get("logging") or "not declared",
        "results": [{"name": c["name"], "status": c["status"], "value": c["value"]} for c in fair],
        "date": run.get("started_at"),
        "identified": (
            f"audit {run.get('audit_id')}; spec sha256 {p.get('spec_sha256')}; model sha256 "
            f"{p.get('model_sha256') or 'n/a'}; fairgate {p.get('fairgate_version')}"
        ),
        "verdict": document["verdict"],
    }
