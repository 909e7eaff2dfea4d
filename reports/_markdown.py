"""summary.md: the verdict, then the waivers, then one line per check (a PR comment)."""

from __future__ import annotations

from typing import Any

from ._gaming import gaming_lines, value_hidden
from ._plain import check_sentence
from ._policy_report import annex_iv, clause_text, ll144_tables
from ._suppress import withheld_values
from ._text import VERDICT_TITLES, code, fmt, md, status_label
from ._waiver_text import waiver_rows

__all__ = ["render_markdown"]


def render_markdown(document: dict[str, Any]) -> str:
    """Render a short Markdown summary of a results document."""
    spec = document["spec"]
    lines = [
        f"# {VERDICT_TITLES[document['verdict']]}: {md(spec['name'])}",
        "",
        f"**Verdict: {document['verdict']}** (exit code {document['exit_code']}). "
        f"{md(spec['system'])}".rstrip(),
        "",
    ]
    waivers = waiver_rows(document)
    if waivers:  # right after the verdict: what the verdict owes to an exception
        lines += [
            "## Waivers",
            "",
            "| waiver | state | reason | approver | date | expiry | ticket | effect |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {md(w['what'])} | {md(w['state'])} | {md(w['reason'])} | {md(w['approver'])} | "
            f"{md(w['date'])} | {md(w['expiry'])} | {md(w['ticket'])} | {md(w['effect'])} |"
            for w in waivers
        ]
        lines += ["", "## Checks", ""]
    lines += [
        "| check | status | value | 95% interval | threshold |",
        "|---|---|---|---|---|",
    ]
    withheld = withheld_values(document)
    for c in document["checks"]:
        ci = c["ci"] or [None, None]
        threshold = ", ".join(f"{k} {v:g}" for k, v in c["threshold"].items())
        value, low, high = (
            ("suppressed",) * 3
            if value_hidden(c) or c["name"] in withheld
            else (fmt(c["value"]), fmt(ci[0]), fmt(ci[1]))
        )
        lines.append(
            f"| {md(c['name'])} | {status_label(c['status'])} | {value} | "
            f"{low} to {high} | {threshold} |"
        )
    not_passed = [c for c in document["checks"] if c["status"] != "pass"]
    if not_passed:
        lines += ["", "## Why", ""]
        lines += [
            f"- **{md(c['name'])}** ({status_label(c['status'])}): "
            f"{md(check_sentence(c, document))}"
            for c in not_passed
        ]
    lines += _policy_lines(document)
    gaming = gaming_lines(document)
    if gaming:
        lines += ["", "## Gaming, counterfactuals and recourse", ""]
        lines += [
            f"  - {md(line.strip())}" if line.startswith("  ") else f"- {md(line)}"
            for line in gaming
        ]
    if document["errors"]:
        lines += ["", "## Errors", ""]
        lines += [
            f"- {md(e['stage'])}: {md(e['type'])}: {md(e['message'])}" for e in document["errors"]
        ]
    p = document["provenance"]
    for pol in p.get("policies") or []:
        lines += [
            "",
            f"Policy {code(pol['name'])} {md(pol['version'])}, sha256 "
            f"{code(str(pol['sha256'])[:12])}.",
        ]
    lines += [
        "",
        f"Audit {code(document['run']['audit_id'])}; spec sha256 "
        f"{code(str(p['spec_sha256'])[:12])}, data sha256 "
        f"{code(str(p['data_sha256'] or 'n/a')[:12])}, model sha256 "
        f"{code(str(p['model_sha256'] or 'n/a')[:12])}; fairgate "
        f"{md(p['fairgate_version'])} ({md(str(p['git_commit'] or 'no git')[:10])}).",
    ]
    return "\n".join(lines) + "\n"


def _policy_lines(document: dict[str, Any]) -> list[str]:
    """Each check's clause, the LL144 disclosure tables and the Annex IV section."""
    lines: list[str] = []
    if document.get("policies"):
        lines += ["", "## Checks and the clauses they implement", ""]
        lines += [f"- {md(c['name'])}: {md(clause_text(c))}" for c in document["checks"]]
    for t in ll144_tables(document):
        lines += [
            "",
            f"## NYC Local Law 144 disclosure: {md(t['view'])} ({t['rate']} rate)",
            "",
            f"Audit date {md(t['audit_date'])}; data source: {md(t['data_source'])}. "
            f"Individuals of unknown category (not in the ratios): {md(t['unknown'])}.",
            "",
            "| category | number | rate | impact ratio | note |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {md(r['category'])} | {r['number']} | {r['rate']} | {r['impact_ratio']} | "
            f"{md(r['note'])} |"
            for r in t["rows"]
        ]
        lines += [f"- Excluded {md(e['group'])}: {md(e['justification'])}" for e in t["excluded"]]
    annex = annex_iv(document)
    if annex:
        lines += [
            "",
            "## EU AI Act Annex IV: technical documentation",
            "",
            f"- Intended purpose: {md(annex['purpose'])} (Annex III {md(annex['annex_iii'])}, "
            f"context {md(annex['context'])}; provider {md(annex['provider'])})",
            f"- Data: {md(annex['data'])}",
            f"- Declared accuracy metrics: {md(annex['metrics'])}",
            f"- Human oversight: {md(annex['oversight'])}",
            f"- Logging: {md(annex['logging'])}",
            f"- Test results: verdict {md(annex['verdict'])}; "
            + "; ".join(f"{md(r['name'])} {status_label(r['status'])}" for r in annex["results"]),
            f"- Dated {md(annex['date'])}; identified by {md(annex['identified'])}",
        ]
    return lines
