"""Promotion rules: which audits a model version needs before an alias may move to it.

The rules are a ``promotion`` section, in ``fairgate.toml`` (``[promotion]``) or in
``pyproject.toml`` (``[tool.fairgate.promotion]``) of the working directory, or in the file
``fairgate run --promotion-rules PATH`` names::

    [promotion]
    require = ["credit-scoring-strict", {spec = "credit-scoring", policy = "eeoc@1.0"}]

    [promotion.aliases.production]          # optional: stricter rules for one alias
    require = ["credit-scoring-strict", "credit-scoring", "credit-scoring-robustness"]

Each required audit is judged by its newest audit on the version, as the version's tags
namespaced by spec name record it (``fairgate.<spec>.verdict``, ``.exit_code``,
``.model_sha256``, ``.audit_id``, ``.policies``; see :mod:`audits._registry_gate`). Without
rules, every spec that has audited the version is required: a lenient spec's pass never
outweighs a strict spec's fail.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "PASSING",
    "PromotionRules",
    "PromotionRulesError",
    "RequiredAudit",
    "load_promotion_rules",
    "not_older",
    "policies_of",
    "spec_tag",
]

#: Verdicts that let a release through (exit code 0).
PASSING = ("pass", "pass_with_waivers")
_SPEC_NAME = r"^[a-z0-9][a-z0-9_.-]*$"


class PromotionRulesError(ValueError):
    """The promotion rules cannot be read or are not valid (a usage error: exit 4)."""


class RequiredAudit(BaseModel):
    """An audit a version needs: a spec's name, and optionally a policy it must apply
    (``name``, or ``name@version`` for one version of it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: Annotated[str, Field(pattern=_SPEC_NAME, max_length=80)]
    policy: Annotated[str, Field(min_length=1)] | None = None

    def describe(self) -> str:
        return self.spec + (f" (policy {self.policy})" if self.policy else "")


Required = Annotated[str, Field(pattern=_SPEC_NAME, max_length=80)] | RequiredAudit


class _AliasRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    require: Annotated[list[Required], Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    require: list[Required] = Field(default_factory=list)
    aliases: dict[str, _AliasRules] = Field(default_factory=dict)


def _as_audit(item: str | RequiredAudit) -> RequiredAudit:
    return RequiredAudit(spec=item) if isinstance(item, str) else item


@dataclass(frozen=True)
class PromotionRules:
    """The audits each alias needs; ``source`` says where the rules were read."""

    require: tuple[RequiredAudit, ...]
    aliases: dict[str, tuple[RequiredAudit, ...]]
    source: str

    def required(self, alias: str) -> tuple[RequiredAudit, ...]:
        """The audits ``alias`` needs: its own rules, else the general ones."""
        return self.aliases.get(alias, self.require)


def _section(path: Path) -> dict[str, Any] | None:
    from ._yaml import YamlRefusedError, read_bounded

    try:
        data = tomllib.loads(read_bounded(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, YamlRefusedError, tomllib.TOMLDecodeError) as err:
        raise PromotionRulesError(f"{path} cannot be read as TOML: {err}") from err
    if path.name == "pyproject.toml":
        return data.get("tool", {}).get("fairgate", {}).get("promotion")
    return data.get("promotion")


def _parse(section: Any, source: str) -> PromotionRules:
    if not isinstance(section, dict):
        raise PromotionRulesError(f"{source}: the promotion section must be a table.")
    try:
        parsed = _Section.model_validate(section)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
            for e in err.errors()
        )
        raise PromotionRulesError(f"{source}: invalid promotion rules: {problems}.") from err
    if not parsed.require and not parsed.aliases:
        raise PromotionRulesError(
            f"{source}: the promotion section must name the audits a version needs "
            "('require = [\"spec-name\", ...]'). Got neither 'require' nor 'aliases'."
        )
    return PromotionRules(
        require=tuple(map(_as_audit, parsed.require)),
        aliases={a: tuple(map(_as_audit, r.require)) for a, r in parsed.aliases.items()},
        source=source,
    )


def load_promotion_rules(
    path: Path | None = None, *, folder: Path | None = None
) -> PromotionRules | None:
    """The promotion rules in ``path`` (a ``fairgate.toml`` or ``pyproject.toml``), else in
    ``fairgate.toml`` or ``pyproject.toml`` of ``folder`` (default: the working directory);
    ``None`` when there are none.

    Raises
    ------
    PromotionRulesError
        The file cannot be read, its rules are invalid, ``path`` holds none, or both files of
        ``folder`` hold rules (which would be ambiguous).
    """
    if path is not None:
        section = _section(path)
        if section is None:
            raise PromotionRulesError(
                f"{path} holds no promotion rules ([promotion], or [tool.fairgate.promotion] "
                "in a pyproject.toml)."
            )
        return _parse(section, str(path))
    folder = folder or Path.cwd()
    found = {
        name: section
        for name in ("fairgate.toml", "pyproject.toml")
        if (folder / name).is_file() and (section := _section(folder / name)) is not None
    }
    if len(found) > 1:
        raise PromotionRulesError(
            f"Both fairgate.toml and pyproject.toml in {folder} hold promotion rules: keep one."
        )
    for name, section in found.items():
        return _parse(section, name)
    return None


def spec_tag(spec: str, key: str) -> str:
    """The version tag of ``key`` for the spec named ``spec``: ``fairgate.<spec>.<key>``."""
    return f"fairgate.{spec}.{key}"


def not_older(audit_id: str, than: str | None) -> bool:
    """Whether ``audit_id`` is ``than`` or started after it (ids end in a time-ordered
    UUIDv7)."""
    if not than:
        return True
    return audit_id[-36:] >= than[-36:]


def policies_of(document: dict[str, Any]) -> list[str]:
    """The policies an audit applied: ``name@version`` from the provenance's ``policies``
    when it records them, and the spec's ``policy`` (a name or a list of names)."""
    found: list[str] = []
    for p in (document.get("provenance") or {}).get("policies") or []:
        if isinstance(p, dict) and p.get("name"):
            found.append(f"{p['name']}@{p['version']}" if p.get("version") else str(p["name"]))
    policy = (document.get("spec") or {}).get("policy")
    names = policy if isinstance(policy, list) else [policy] if policy else []
    found += [str(n) for n in names if str(n).strip() and "\n" not in str(n)]
    return sorted(set(found))


def applies(required: str, policies: list[str]) -> bool:
    """Whether a required policy (``name`` or ``name@version``) is among ``policies``."""
    return any(p == required or p.split("@", 1)[0] == required for p in policies)
