"""Policy files: a policy (a regulation, an agency rule, a committee's own policy) as YAML.

A policy has a name, a version, an issuer, the sources it cites, and clauses; each clause
lists the checks it requires, written like a spec's checks (``group_metric``,
``score_metric``, ``impact_ratio``, ...), with ``roles`` (attribute roles such as ``sex``
that each spec maps to its columns) instead of, or beside, ``views``. Shipped policies live
in ``audits/policies/`` and are found by name; a user's own is named by its path.

The policy's content hash (sha256 of the file's bytes) identifies exactly what was applied.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ._yaml import YamlRefusedError, load_yaml, read_bounded

__all__ = [
    "POLICY_DIR",
    "Clause",
    "LoadedPolicy",
    "Policy",
    "PolicyError",
    "load_policy",
    "shipped_policies",
]

#: The shipped policies, found by name (``<name>.yaml``).
POLICY_DIR = Path(__file__).parent / "policies"
_NAME = r"^[a-z0-9][a-z0-9_.-]*$"


class PolicyError(ValueError):
    """A policy that cannot be found, read or understood."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Source(_Strict):
    """A text the policy implements."""

    citation: Annotated[str, Field(min_length=3)]
    url: str | None = None


class AppliesIf(_Strict):
    """When a clause applies (absent: always)."""

    #: The deployment declares one of these Annex III points (a high-risk use).
    annex_iii: list[str] = Field(default_factory=list)


class Clause(_Strict):
    """One clause of a policy and the checks it requires."""

    id: Annotated[str, Field(min_length=1, max_length=40)]
    citation: Annotated[str, Field(min_length=3)]
    title: Annotated[str, Field(min_length=3)]
    #: What the clause asks, in plain language (``fairgate explain-policy``).
    text: Annotated[str, Field(min_length=10)]
    #: How the checks decide, where the source leaves it to the policy (documented choice).
    decision: str = ""
    applies_if: AppliesIf | None = None
    #: Checks, written as in a spec (``roles`` name attribute roles instead of views).
    checks: list[dict[str, Any]] = Field(default_factory=list)


class Policy(_Strict):
    """A policy file."""

    name: Annotated[str, Field(pattern=_NAME, max_length=80)]
    version: Annotated[str, Field(min_length=1, max_length=40)]
    title: Annotated[str, Field(min_length=3)]
    issuer: Annotated[str, Field(min_length=3)]
    sources: Annotated[list[Source], Field(min_length=1)]
    summary: str = ""
    #: Extra report sections the policy asks for (``annex_iv``: EU AI Act Annex IV).
    report_sections: list[str] = Field(default_factory=list)
    clauses: Annotated[list[Clause], Field(min_length=1)]


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy and where it came from."""

    policy: Policy
    sha256: str
    #: ``shipped`` or the path it was read from.
    origin: str

    def provenance(self) -> dict[str, str]:
        p = self.policy
        return {"name": p.name, "version": p.version, "sha256": self.sha256, "origin": self.origin}


def shipped_policies() -> list[str]:
    """The names of the shipped policies, sorted."""
    return sorted(p.stem for p in POLICY_DIR.glob("*.yaml"))


def _locate(ref: str) -> tuple[Path, str]:
    if re.match(_NAME, ref) and not ref.endswith((".yaml", ".yml")):
        path = POLICY_DIR / f"{ref}.yaml"
        if not path.is_file():
            raise PolicyError(
                f"policy must name a shipped policy ({', '.join(shipped_policies())}) or a "
                f"policy file (.yaml). Got {ref!r} instead."
            )
        return path, "shipped"
    path = Path(ref).expanduser()
    if not ref.endswith((".yaml", ".yml")) or not path.is_file():
        raise PolicyError(
            f"policy must name a shipped policy ({', '.join(shipped_policies())}) or an "
            f"existing policy file (.yaml, relative to {Path.cwd()}); free text goes in "
            f"policy_note. Got {ref!r} instead."
        )
    return path, str(path)


def _check_problems(policy: Policy) -> list[str]:
    """Each clause's checks validated as spec checks (roles and clause left out)."""
    from ._spec import Check, _message

    adapter: TypeAdapter[Any] = TypeAdapter(Check)
    problems = []
    for clause in policy.clauses:
        for j, raw in enumerate(clause.checks):
            body = {k: v for k, v in raw.items() if k != "roles"}
            roles = raw.get("roles")
            if roles is not None and (
                not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)
            ):
                problems.append(f"clause {clause.id} checks[{j}].roles must be a list of names.")
            if "clause" in body:
                problems.append(f"clause {clause.id} checks[{j}].clause is set by fairgate.")
            try:
                adapter.validate_python(body)
            except ValidationError as err:
                problems += [f"clause {clause.id} checks[{j}]: {_message(e)}" for e in err.errors()]
    return problems


def load_policy(ref: str) -> LoadedPolicy:
    """Read and validate a policy: a shipped one by name, or a file by path.

    Raises
    ------
    PolicyError
        When the policy is unknown, unreadable, or invalid (one line per problem).
    """
    import yaml

    path, origin = _locate(ref)
    try:
        raw = read_bounded(path)
    except OSError as err:
        raise PolicyError(f"policy file {str(path)!r} cannot be read: {err.strerror}.") from err
    except YamlRefusedError as err:
        raise PolicyError(f"policy file {str(path)!r} cannot be read: {err}") from err
    try:
        data = load_yaml(raw.decode("utf-8"))
        policy = Policy.model_validate(data)
    except (UnicodeDecodeError, YamlRefusedError, yaml.YAMLError) as err:
        raise PolicyError(f"policy file {str(path)!r} cannot be read: {err}") from err
    except ValidationError as err:
        from ._spec import _message

        lines = "; ".join(_message(e) for e in err.errors())
        raise PolicyError(f"policy file {str(path)!r} is not a valid policy: {lines}") from err
    problems = _check_problems(policy)
    ids = [c.id for c in policy.clauses]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:  # waivers and reports name clauses by id: each id names one clause
        problems.append(f"clause ids must differ; {', '.join(map(repr, twice))} appear twice")
    if problems:
        raise PolicyError(f"policy {policy.name!r} has invalid checks: {'; '.join(problems)}")
    digest = hashlib.sha256(raw).hexdigest()
    if origin != "shipped" and policy.name in shipped_policies():
        shipped = hashlib.sha256((POLICY_DIR / f"{policy.name}.yaml").read_bytes()).hexdigest()
        if digest != shipped:
            # A file that calls itself a shipped policy but says something else would be
            # reported as that policy (its name and version) while applying other clauses.
            raise PolicyError(
                f"policy file {str(path)!r} has the name of the shipped policy "
                f"{policy.name!r} but not its content: name the shipped policy ({policy.name}) "
                f"to apply it, or give your own policy a name of its own. Got a file whose "
                f"sha256 is {digest[:12]} instead of {shipped[:12]}."
            )
    return LoadedPolicy(policy=policy, sha256=digest, origin=origin)
