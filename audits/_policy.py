"""Policies applied to a spec: their checks added to the spec's own, never loosened.

A spec names policies (``policy: eeoc-uniform-guidelines`` or a list; shipped names or
policy file paths). Each applicable clause's checks are added before the spec's own checks,
each carrying its clause (policy, version, clause id and citation), with attribute ``roles``
turned into views through the spec's ``roles`` mapping. Merging may only add checks or
tighten bounds: a spec check bounding the same metric, disparity and view more loosely than
a policy's check is refused (exit 4).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from ._policy_files import LoadedPolicy, PolicyError, load_policy
from ._spec import AuditSpec, SpecError, _message

__all__ = ["DEPLOYMENT_CHECKS", "apply_policies", "explain_policy", "policies_of", "policy_block"]

#: Check types that read only the spec's deployment block (no data needed).
DEPLOYMENT_CHECKS = ("prohibited_use", "requirement")


def _views(roles: list[str], spec: AuditSpec, where: str) -> list[str]:
    """Attribute roles → the spec's columns: each role, and their intersection."""
    columns = []
    for role in roles:
        column = spec.roles.get(role, role)
        if column not in spec.data.sensitive:
            raise SpecError(
                [
                    f"{where} needs the attribute role {role!r}: map it to one of the sensitive "
                    f"columns {spec.data.sensitive} with roles: {{{role}: <column>}}. Got "
                    f"{column!r}, which is not a sensitive column, instead."
                ]
            )
        if column in columns:
            other = roles[columns.index(column)]
            raise SpecError(
                [
                    f"{where} needs the attribute roles {other!r} and {role!r} in columns of "
                    f"their own: map each to a different sensitive column in roles. Got both "
                    f"mapped to {column!r} instead."
                ]
            )
        columns.append(column)
    return columns + (["|".join(columns)] if len(columns) > 1 else [])


def _applies(clause: Any, spec: AuditSpec) -> bool:
    if clause.applies_if is None or not clause.applies_if.annex_iii:
        return True
    return spec.deployment is not None and spec.deployment.annex_iii in clause.applies_if.annex_iii


def _policy_checks(loaded: list[LoadedPolicy], spec: AuditSpec) -> list[dict[str, Any]]:
    out = []
    for lp in loaded:
        p = lp.policy
        for clause in p.clauses:
            if not _applies(clause, spec):
                continue
            where = f"policy {p.name!r} clause {clause.id}"
            for raw in clause.checks:
                if raw.get("type") in DEPLOYMENT_CHECKS and spec.deployment is None:
                    raise SpecError(
                        [
                            f"{where} ({clause.citation}) reads the spec's deployment block "
                            "(purpose, context, annex_iii): add one. Got none."
                        ]
                    )
                check = {k: v for k, v in raw.items() if k != "roles"}
                if raw.get("roles"):
                    check["views"] = _views(raw["roles"], spec, where)
                check["clause"] = {
                    "policy": p.name,
                    "version": p.version,
                    "id": clause.id,
                    "citation": clause.citation,
                }
                out.append(check)
    return out


def _key(check: Any) -> tuple[Any, ...]:
    keys = ("type", "metric", "disparity", "klass", "rate", "perturbation")
    return tuple(getattr(check, k, None) for k in keys)


def _loosened(own: Any, ruling: Any) -> str | None:
    """The bound of ``own`` that is looser than ``ruling``'s, described; else ``None``."""
    low, high = getattr(ruling, "min", None), getattr(ruling, "max", None)
    own_low, own_high = getattr(own, "min", None), getattr(own, "max", None)
    if low is not None and own_low is not None and own_low < low:
        return f"min {own_low:g}, looser than the policy's min {low:g}"
    if high is not None and own_high is not None and own_high > high:
        return f"max {own_high:g}, looser than the policy's max {high:g}"
    return None


def _loosening(spec: AuditSpec, merged: AuditSpec, k: int) -> list[str]:
    problems = []
    for i, own in enumerate(spec.checks):
        own_views = (
            set(spec.views(own))
            if hasattr(own, "metric") or own.type == "impact_ratio"
            else {"model"}
        )
        for ruling in merged.checks[:k]:
            if _key(own) != _key(ruling):
                continue
            views = (
                set(merged.views(ruling))
                if hasattr(ruling, "metric") or ruling.type == "impact_ratio"
                else {"model"}
            )
            shared = sorted(own_views & views)
            what = _loosened(own, ruling)
            if shared and what:
                c = ruling.clause
                problems.append(
                    f"checks[{i}] ({own.type} {getattr(own, 'metric', '') or ''} over "
                    f"{', '.join(shared)}) sets {what} (policy {c.policy!r} {c.version}, clause "
                    f"{c.id}, {c.citation}): a spec may only add checks or tighten a policy's "
                    "bounds. Tighten it or remove it."
                )
    return problems


def apply_policies(spec: AuditSpec, data: dict[str, Any]) -> AuditSpec:
    """The spec with its policies' checks added before its own, each carrying its clause.

    Raises
    ------
    SpecError
        When a policy is unknown or invalid, a clause needs a deployment block or a role the
        spec lacks, a spec check names a clause, or a spec check loosens a policy's bound.
    """
    try:
        loaded = [load_policy(ref) for ref in spec.policy]
    except PolicyError as err:
        raise SpecError([str(err)]) from err
    names = [lp.policy.name for lp in loaded]
    if len(set(names)) < len(names):
        raise SpecError([f"policy must name each policy once. Got {names} instead."])
    own = list(data.get("checks") or [])
    added = _policy_checks(loaded, spec)
    try:
        merged = AuditSpec.model_validate({**data, "checks": added + own})
    except ValidationError as err:
        lines = [line for e in err.errors() for line in _message(e).splitlines()]
        raise SpecError([_renumber(line, added) for line in lines]) from err
    problems = _loosening(spec, merged, len(added))
    if problems:
        raise SpecError(problems)
    merged._policies = tuple(loaded)
    return merged


def _renumber(line: str, added: list[dict[str, Any]]) -> str:
    """``checks[i]`` of the merged list as the reader wrote it: a policy's clause, or the
    spec's own ``checks[i - len(added)]``."""

    def sub(m: re.Match[str]) -> str:
        i = int(m.group(1))
        if i < len(added):
            c = added[i]["clause"]
            return f"policy {c['policy']!r} clause {c['id']} check"
        return f"checks[{i - len(added)}]"

    return re.sub(r"checks\[(\d+)\]", sub, line)


def policies_of(spec: AuditSpec) -> list[LoadedPolicy]:
    """The policies applied to a spec (as read when the spec was loaded)."""
    return list(getattr(spec, "_policies", ()) or ())


def policy_block(spec: AuditSpec) -> list[dict[str, Any]]:
    """What the results document says of each policy applied: identity, hash, sources, and
    each clause (whether it applied to this deployment)."""
    out = []
    for lp in policies_of(spec):
        p = lp.policy
        out.append(
            {
                **lp.provenance(),
                "title": p.title,
                "issuer": p.issuer,
                "sources": [s.model_dump() for s in p.sources],
                "report_sections": list(p.report_sections),
                "clauses": [
                    {
                        "id": c.id,
                        "citation": c.citation,
                        "title": c.title,
                        "decision": c.decision.strip(),
                        "applies": _applies(c, spec),
                    }
                    for c in p.clauses
                ],
            }
        )
    return out


def explain_policy(ref: str) -> str:
    """A policy's clauses and checks in plain language (``fairgate explain-policy``)."""
    from ._policy_text import check_text

    lp = load_policy(ref)
    p = lp.policy
    lines = [
        f"{p.title} ({p.name}, version {p.version})",
        f"Issued by: {p.issuer}",
        f"Content sha256: {lp.sha256}",
        "Sources:",
        *[f"  - {s.citation}" + (f" <{s.url}>" if s.url else "") for s in p.sources],
    ]
    if p.summary:
        lines += ["", p.summary.strip()]
    for clause in p.clauses:
        lines += ["", f"Clause {clause.id} ({clause.citation}): {clause.title}"]
        lines.append(f"  {clause.text.strip()}")
        if clause.applies_if and clause.applies_if.annex_iii:
            lines.append(
                "  Applies only to high-risk uses declared under Annex III "
                + ", ".join(clause.applies_if.annex_iii)
                + "."
            )
        if clause.decision:
            lines.append(f"  Decision: {clause.decision.strip()}")
        for raw in clause.checks:
            lines.append(f"  - Check: {check_text(raw)}")
        if not clause.checks:
            lines.append("  (Reported in the audit; no check of its own.)")
    return "\n".join(lines) + "\n"
