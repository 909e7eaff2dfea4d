"""The committee's commands: ``fairgate register`` (the static site) and ``fairgate diff``.

Exit codes: ``register`` 0 the site was built from every audit found, 2 it was built but some
audit runs could not be read (they are listed on its home page and on stderr), or the store
could not be read at all, 4 bad usage (no source, an evidence folder without a consistent
results document, an output folder that is not an earlier register). ``diff`` 0 the diff was
produced (whatever it says: it is not a release decision), 2 the store could not be read,
4 bad usage.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import click

from ._status import ExitCode

__all__ = ["diff", "register"]

#: The file that marks a folder as a register fairgate built (and may replace).
_MARK = ".fairgate-register"


def _write_site(files: dict[str, bytes], out: Path) -> None:
    """Write the site beside ``out`` and move it into place; an earlier register there is
    replaced, anything else there is refused."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise click.BadParameter("must be a folder, not a file or a link.", param_hint="--out")
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        # The site replaces the folder: never the working folder nor one that holds it.
        raise click.BadParameter(
            f"must be a folder of its own, not the working folder or one holding it. Got "
            f"{str(out)!r} instead.",
            param_hint="--out",
        )
    if out.is_dir() and any(out.iterdir()) and not (out / _MARK).is_file():
        raise click.BadParameter(
            f"{str(out)!r} holds files that are not a register fairgate built: refused "
            "(name an empty or new folder).",
            param_hint="--out",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{os.urandom(4).hex()}"
    try:
        for name, data in {**files, _MARK: b"built by fairgate register\n"}.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.urandom(4).hex()}"
            os.rename(out, old)
        os.rename(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@click.command("register")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=True, path_type=Path),
    required=True,
    help="Folder for the site (index.html first). An earlier register there is replaced.",
)
@click.option("--tracking-uri", help="Read the audits logged to this MLflow tracking store.")
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    type=click.Path(path_type=Path),
    help="An evidence folder (or results.json) to include; repeat for several.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".fairgate") / "breaker",
    show_default=True,
    help="Folder of the circuit breakers' state files (read when present).",
)
def register(
    out_dir: Path, tracking_uri: str | None, evidence: tuple[Path, ...], state_dir: Path
) -> ExitCode:
    """Build the committee's register: a static site of every system, version and audit
    (from --tracking-uri and/or --evidence), with transparency records.

    Exits 0 when built from every audit found, 2 when some could not be read (listed) or
    the store could not be read, 4 on bad usage.
    """
    from reports import describe_store, site_files

    from ._register import Gathered, RegisterError, breaker_states, from_evidence, from_mlflow

    if not tracking_uri and not evidence:
        raise click.UsageError("register needs --tracking-uri and/or --evidence.")
    found = Gathered()
    try:
        from_evidence(list(evidence), found)
    except RegisterError as err:
        raise click.BadParameter(str(err), param_hint="--evidence") from err
    if tracking_uri:
        try:
            from_mlflow(tracking_uri, found)
        except RuntimeError as err:
            click.echo(f"error: {err}", err=True)
            return ExitCode.UNDECIDED
    breaker_states(state_dir, found)
    if not found.entries:
        where = describe_store(tracking_uri) if tracking_uri else "the evidence named"
        click.echo(f"error: no audit found in {where}; no register built", err=True)
        return ExitCode.UNDECIDED
    seen: set[str] = set()
    unique = []
    for entry in found.entries:  # one audit named twice (a folder and its MLflow run)
        audit_id = entry["document"]["run"]["audit_id"]
        if audit_id not in seen:
            seen.add(audit_id)
            unique.append(entry)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        files = site_files(unique, context=found.context, generated_at=now, problems=found.problems)
    except ValueError as err:  # two systems or audits would share a page: refuse, never overwrite
        raise click.UsageError(str(err)) from err
    _write_site(files, out_dir)
    for problem in found.problems:
        click.echo(f"not shown: {problem}", err=True)
    systems = len({k for k in files if k.startswith("systems/")})
    click.echo(f"register of {systems} system(s), {len(unique)} audit(s) in {out_dir}")
    return ExitCode.UNDECIDED if found.problems else ExitCode.OK


@click.command("diff")
@click.argument("audit_a")
@click.argument("audit_b")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking store, for audits named by run id.",
)
def diff(audit_a: str, audit_b: str, as_json: bool, tracking_uri: str | None) -> ExitCode:
    """Compare two audits check by check: AUDIT_A (before) and AUDIT_B (after), each a
    results.json, an evidence folder or an MLflow run id.

    States values with intervals, whether each change is larger than the noise (the rule is
    printed), new and resolved failures, and changed spec, data and model digests. Exits 0
    when the diff is produced, 2 when the store cannot be read, 4 on bad usage.
    """
    from reports import diff_documents, diff_text, scrub

    from ._register import RegisterError, read_audit

    documents = []
    for hint, target in (("AUDIT_A", audit_a), ("AUDIT_B", audit_b)):
        try:
            documents.append(read_audit(target, tracking_uri=tracking_uri))
        except RegisterError as err:
            raise click.BadParameter(str(err), param_hint=hint) from err
        except Exception as err:  # the store itself failed
            text = scrub(str(err), tracking_uri or "")
            click.echo(f"error: the MLflow tracking store cannot be read: {text}", err=True)
            return ExitCode.UNDECIDED
    result = diff_documents(documents[0], documents[1])
    click.echo(json.dumps(result, indent=2) if as_json else diff_text(result), nl=as_json)
    return ExitCode.OK
