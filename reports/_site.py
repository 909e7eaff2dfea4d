"""The committee's register: a static site of every system, version and audit.

Rendered from results documents only (plus what the caller found about each system: its
registry alias and its circuit breaker's state), into a mapping of relative paths to bytes:
``index.html``, ``style.css``, ``systems/<system>.html``, ``diffs/<system>.html``,
``audits/<audit id>/report.html`` (each audit's report, rendered again from its document) and
``transparency/<system>.json|csv``. Plain HTML and one local stylesheet: no script, no network.
A system is its exact name; its page name is :func:`page_name` of it (never shared).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from ._diff import NOISE_RULE, diff_documents
from ._html import _environment, render_html
from ._pages import page_names
from ._text import VERDICT_TITLES, status_label
from ._transparency import TO_FILL, policy_text, record_csv, transparency_record
from ._trend import trend_points, trend_summary, trend_svg

__all__ = ["site_files", "system_key"]


def system_key(document: dict[str, Any]) -> str:
    """The system an audit belongs to: the spec's ``experiment`` (one for every version),
    else its name, exactly as written (``Credit`` and ``credit`` are two systems)."""
    content = document["spec"].get("content") or {}
    return str(content.get("experiment") or document["spec"]["name"])


def _policy(document: dict[str, Any]) -> dict[str, Any]:
    """The policy as the document states it: a text, or a structured policy's name and
    version, and any policy digests in the provenance."""
    text = policy_text(document)
    digests = {
        k: v
        for k, v in (document.get("provenance") or {}).items()
        if k.startswith("policy") and isinstance(v, str)
    }
    return {"text": text, "digests": digests}


def _waivers(document: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The open waivers the document records, or ``None`` when it records none at all."""
    found = document.get("waivers")
    if found is None:
        found = (document.get("spec", {}).get("content") or {}).get("waivers")
    if not isinstance(found, list):
        return None
    return [
        w
        for w in found
        if isinstance(w, dict)
        and str(w.get("state", w.get("status", "open"))).lower()
        not in {"closed", "expired", "unused", "not_yet_valid"}
    ]


def _waiver_text(waivers: list[dict[str, Any]] | None) -> str:
    if waivers is None:
        return "none recorded"
    if not waivers:
        return "none open"
    names = [
        str(w.get("check_name") or w.get("check") or w.get("name") or w.get("id") or "unnamed")
        for w in waivers
    ]
    return f"{len(waivers)} open: " + ", ".join(names)


def _verdict(entry: dict[str, Any]) -> str:
    """The verdict to show: the document's, unless its MLflow run says less (``error``)."""
    tagged = entry.get("tagged_verdict")
    if tagged and tagged != entry["document"]["verdict"]:
        return "error"
    return entry["document"]["verdict"]


def _service(context: dict[str, Any], latest: dict[str, Any]) -> str:
    registry = context.get("registry")
    if registry:
        parts = []
        for alias, version in registry["aliases"].items():
            tagged = (registry.get("versions") or {}).get(str(version)) or {}
            verdict = tagged.get("verdict")
            audited = f", audited: {verdict}" if verdict else ", never audited by fairgate"
            parts.append(f"{alias} → version {version}{audited}")
        return f"{registry['name']}: " + ("; ".join(parts) or "no alias set")
    return f"not in a model registry (latest audited: {latest['spec']['name']})"


def _breaker(context: dict[str, Any]) -> str:
    state = context.get("breaker")
    if not state:
        return "no breaker state found"
    when = state.get("updated_at") or "unknown time"
    return f"{state.get('state', 'unknown')} (since {when}; {state.get('version', '')})".replace(
        "; )", ")"
    )


def _system(
    key: str, page: str, entries: list[dict[str, Any]], context: dict[str, Any]
) -> dict[str, Any]:
    entries = sorted(entries, key=lambda e: str(e["document"]["run"].get("started_at")))
    docs = [e["document"] for e in entries]
    latest = entries[-1]
    versions: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        versions.setdefault(e["document"]["spec"]["name"], []).append(e)
    names = list(dict.fromkeys(c["name"] for d in docs for c in d.get("checks", [])))
    charts = []
    for i, name in enumerate(names):
        points = trend_points(name, docs)
        charts.append(
            {
                "name": name,
                "id": f"chart-{i + 1}",
                "svg": trend_svg(name, points, chart_id=f"chart-{i + 1}"),
                "summary": trend_summary(name, points),
                "points": points,
            }
        )
    order = list(versions)
    if len(order) >= 2:
        pair = (versions[order[-2]][-1], versions[order[-1]][-1])
    elif len(entries) >= 2:
        pair = (entries[-2], entries[-1])
    else:
        pair = None
    doc = latest["document"]
    content = doc["spec"].get("content") or {}
    described = content.get("system")
    return {
        "key": key,
        "page": page,
        "title": (described if isinstance(described, str) else None)
        or (described or {}).get("name")
        or key,
        "entries": [{**e, "verdict": _verdict(e)} for e in entries],
        "latest": latest,
        "verdict": _verdict(latest),
        "verdict_title": VERDICT_TITLES.get(_verdict(latest), _verdict(latest).upper()),
        "versions": versions,
        "charts": charts,
        "policy": _policy(doc),
        "waivers": _waiver_text(_waivers(doc)),
        "service": _service(context, doc),
        "breaker": _breaker(context),
        "diff": diff_documents(pair[0]["document"], pair[1]["document"]) if pair else None,
        "record": transparency_record(key, docs),
    }


def _css() -> bytes:
    return files("reports").joinpath("templates", "site.css").read_bytes()


def site_files(
    entries: list[dict[str, Any]],
    *,
    context: dict[str, dict[str, Any]] | None = None,
    generated_at: str,
    problems: list[str] | None = None,
) -> dict[str, bytes]:
    """Render the register.

    Parameters
    ----------
    entries : list of dict
        One per audit: ``document`` (the results document), ``images`` (its chart files by
        name, optional), ``source`` (where it was read, for people) and ``tagged_verdict``
        (the verdict its MLflow run was tagged with, optional).
    context : dict, optional
        Per system key: ``registry`` (``name`` and ``aliases``: alias to version) and
        ``breaker`` (the monitor's state: ``state``, ``updated_at``, ``version``).
    generated_at : str
        When the register is built (shown on every page).
    problems : list of str, optional
        Audits that could not be read, listed on the home page.

    Returns
    -------
    dict of str to bytes
        Relative path to file content.

    Raises
    ------
    ValueError
        When two different systems or audit ids would share a page name.
    """
    context = context or {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(system_key(e["document"]), []).append(e)
    pages = page_names(groups, what="system")
    audits = page_names((e["document"]["run"]["audit_id"] for e in entries), what="audit")
    systems = [_system(k, pages[k], v, context.get(k, {})) for k, v in sorted(groups.items())]
    env = _environment()
    env.filters["status"] = status_label
    env.filters["audit_page"] = audits.__getitem__
    common = {"generated_at": generated_at, "to_fill": TO_FILL, "noise_rule": NOISE_RULE}
    out: dict[str, bytes] = {"style.css": _css()}

    def page(template: str, path: str, **values: Any) -> None:
        root = "../" * path.count("/")
        html = env.get_template(template).render(root=root, **common, **values)
        out[path] = html.encode("utf-8")

    page("site_home.html.j2", "index.html", systems=systems, problems=problems or [])
    for s in systems:
        page("site_system.html.j2", f"systems/{s['page']}.html", s=s)
        page("site_diff.html.j2", f"diffs/{s['page']}.html", s=s)
        out[f"transparency/{s['page']}.json"] = (
            json.dumps(s["record"], indent=2, ensure_ascii=False) + "\n"
        ).encode("utf-8")
        out[f"transparency/{s['page']}.csv"] = record_csv(s["record"]).encode("utf-8")
        for e in s["entries"]:
            doc = e["document"]
            folder = f"audits/{audits[doc['run']['audit_id']]}"
            # The report only (under the disclosure rule): results.json keeps exact counts.
            out[f"{folder}/report.html"] = render_html(doc, e.get("images") or {}).encode()
    return out
