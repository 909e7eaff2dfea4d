"""The commands that read a spec or a policy without running an audit: ``fairgate validate``,
``fairgate schema``, ``fairgate policies`` and ``fairgate explain-policy``."""

from __future__ import annotations

from pathlib import Path

import click

from ._spec import load_spec
from ._status import ExitCode

__all__ = ["explain_policy", "policies", "schema", "validate"]


@click.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
def validate(spec_path: Path) -> ExitCode:
    """Validate SPEC_PATH without running it."""
    spec = load_spec(spec_path)
    click.echo(f"valid: {spec.name} ({len(spec.checks)} checks)")
    return ExitCode.OK


@click.command()
def policies() -> ExitCode:
    """List the shipped policies (name, version, title)."""
    from ._policy_files import load_policy, shipped_policies

    for name in shipped_policies():
        p = load_policy(name).policy
        click.echo(f"{p.name:<26} {p.version:<12} {p.title}")
    return ExitCode.OK


@click.command("explain-policy")
@click.argument("policy")
def explain_policy(policy: str) -> ExitCode:
    """Print the clauses and checks of POLICY (a shipped name or a policy file) in plain
    language."""
    from reports import one_line

    from ._policy import explain_policy as explain
    from ._policy_files import PolicyError

    try:  # a policy file's own text never drives the terminal (escapes, bidi overrides)
        click.echo(
            "".join(one_line(line) + "\n" for line in explain(policy).splitlines()), nl=False
        )
    except PolicyError as err:
        click.echo(f"error: {err}", err=True)
        return ExitCode.USAGE_ERROR
    return ExitCode.OK


@click.command()
def schema() -> ExitCode:
    """Print the audit spec's JSON Schema."""
    import json

    from ._spec import AuditSpec

    click.echo(json.dumps(AuditSpec.model_json_schema(by_alias=True), indent=2))
    return ExitCode.OK
