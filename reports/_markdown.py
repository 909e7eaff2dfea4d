"""summary.md: the verdict first, then one line per check, for a pull-request comment."""

from __future__ import annotations

from typing import Any

from ._gaming import gaming_lines, value_hidden
from ._plain import check_sentence
from ._text import VERDICT_TITLES, fmt, md, status_label

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
        "| check | status | value | 95% interval | threshold |",
        "|---|---|---|---|---|",
    ]
    for c in document["checks"]:
        ci = c["ci"] or [None, None]
        threshold = ", ".join(f"{k} {v:g}" for k, v in c["threshold"].items())
        value, low, high = (
            ("suppressed",) * 3 if value_hidden(c) else (fmt(c["value"]), fmt(ci[0]), fmt(ci[1]))
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
    lines += [
        "",
        f"Audit `{document['run']['audit_id']}`; spec sha256 `{p['spec_sha256'][:12]}`, "
        f"data sha256 `{(p['data_sha256'] or 'n/a')[:12]}`, model sha256 "
        f"`{(p['model_sha256'] or 'n/a')[:12]}`; fairgate {p['fairgate_version']}"
        f" ({(p['git_commit'] or 'no git')[:10]}).",
    ]
    return "\n".join(lines) + "\n"
