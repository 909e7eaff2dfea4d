"""The ``fairgate`` command line: run an audit and gate a release on its exit code.

Exit codes: 0 every check passed; 1 a check failed (release blocked); 2 the harness could not
decide (error, insufficient or inconclusive evidence); 4 usage error (bad arguments, invalid
spec); 5 (``fairgate monitor``, ``breaker status``) the circuit breaker is open or half-open.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

# OpenMP threads busy-wait on small machines; must be set before sklearn/shap load OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
# The verdict line is the CLI's output; MLflow's run links would only clutter CI logs.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from reports._folder import EvidenceFolderError

from ._spec import SpecError, load_spec
from ._status import ExitCode

if TYPE_CHECKING:
    from ._document import AuditResult

__all__ = ["cli", "main"]


def _default_out(name: str, audit_id: str) -> Path:
    """``out/<spec name>/<audit id>``: unique per run (the id holds a UUIDv7)."""
    return Path("out") / name / audit_id


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fairgate")
def cli() -> None:
    """fairgate: audit a public-sector AI model against a spec and gate its release."""


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for results.json, junit.xml, summary.md, report.html "
    "[default: out/<spec name>/<audit id>/]. Earlier evidence there is moved aside.",
)
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI [default: sqlite store in ./.fairgate/].",
)
@click.option("--no-mlflow", is_flag=True, help="Do not log the audit to MLflow.")
@click.option(
    "--promote",
    "promote_alias",
    metavar="ALIAS",
    help="Move this registry alias to the audited model version, only if the audit passes.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Override the spec's seed (>= 0).")
@click.option("--pdf", is_flag=True, help="Also print the report to report.pdf (A4).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars, only the verdict line.")
def run(
    spec_path: Path,
    out_dir: Path | None,
    tracking_uri: str | None,
    no_mlflow: bool,
    promote_alias: str | None,
    seed: int | None,
    pdf: bool,
    quiet: bool,
) -> ExitCode:
    """Run the audit in SPEC_PATH, write its evidence, log it to MLflow, exit with its code."""
    from reports import check_out_folder, default_tracking_uri, set_aside

    from ._document import new_audit_id
    from ._interrupt import signals_as_interrupts
    from ._registry_gate import resolve_version
    from ._runner import run_audit

    spec = load_spec(spec_path)
    if promote_alias and (no_mlflow or spec.model.kind != "mlflow"):
        raise click.UsageError("--promote needs an mlflow model (models:/...) and MLflow logging.")
    audit_id = new_audit_id(spec.name)
    out = out_dir or _default_out(spec.name, audit_id)
    check_out_folder(out)
    # --no-mlflow logs nothing, but a models:/ URI still resolves against --tracking-uri.
    tracking = None if no_mlflow else (tracking_uri or default_tracking_uri())
    ref = None
    if spec.model.kind == "mlflow" and tracking:
        from mlflow.tracking import MlflowClient

        try:
            ref = resolve_version(spec.model.uri, MlflowClient(tracking_uri=tracking))
        except Exception as err:  # the audit itself will report the model as unloadable
            click.echo(f"error: cannot resolve {spec.model.uri}: {err}", err=True)
    if promote_alias and ref is None:
        raise click.UsageError(f"--promote needs a registered version; {spec.model.uri} is not.")
    # Earlier evidence at --out must never be read as this audit's result.
    moved = set_aside(out)
    if moved is not None:
        click.echo(f"earlier evidence in {out} moved to {moved}", err=True)
    record = (
        functools.partial(
            _record, tracking=tracking, ref=ref, promote_alias=promote_alias, quiet=quiet
        )
        if tracking
        else None
    )
    with signals_as_interrupts() as guard:
        result = run_audit(
            spec_path, seed=seed, quiet=quiet, spec=spec, tracking_uri=tracking, audit_id=audit_id
        )
        doc = result.document
        _evidence(doc, result, out, pdf=pdf, record=record, before_publish=guard.settle)
    code = ExitCode(doc["exit_code"])
    shown: set[str] = set()  # a message shared by many checks (a stopped audit) is shown once
    for c in doc["checks"]:
        if not quiet or c["status"] != "pass":
            message = "(the same as above)" if c["message"] in shown else c["message"]
            shown.add(c["message"])
            click.echo(f"{c['status']:>21}  {c['name']}: {message}", err=True)
    for e in doc["errors"]:
        click.echo(f"error ({e['stage']}): {e['message']}", err=True)
    click.echo(f"verdict: {doc['verdict']} (exit {int(code)}); evidence in {out}")
    return code


def _evidence(
    doc: dict[str, Any],
    result: AuditResult | _Rendered,
    out: Path,
    *,
    pdf: bool,
    record: Callable[[dict[str, Any], dict[str, Path]], dict[str, str] | None] | None = None,
    before_publish: Callable[[], None] | None = None,
) -> None:
    """Stage the evidence, log it, and publish it: the files say what the exit code says.

    Logging (and promotion) come after the files are staged, since MLflow logs them, and
    can still turn the verdict into ``error``; the files are then rendered again, so that
    the folder published last holds the final verdict.
    """
    from reports import discard, publish

    from ._document import finalise

    staging = None
    try:
        staging, files = _stage(doc, result, out, pdf=pdf)
        problem = record(doc, files) if record else None
        if problem is not None:
            finalise(doc, problem)
            discard(staging)
            staging, files = _stage(doc, result, out, pdf=pdf)
        if before_publish is not None:
            before_publish()
        publish(staging, out)
    except BaseException:
        discard(staging)
        raise


def _stage(
    doc: dict[str, Any], result: AuditResult | _Rendered, out: Path, *, pdf: bool
) -> tuple[Path, dict[str, Path]]:
    """Write every file of the audit into a new staging folder beside ``out``."""
    from reports import new_staging_folder, write_all, write_file

    staging = new_staging_folder(out, doc["audit_id"])
    files = write_all(doc, staging, extra=result.files)
    for name, data in result.private_files.items():  # personal data: written, never logged
        write_file(staging, name, data, mode=0o600)
    if pdf:
        from reports import write_pdf

        files["report.pdf"] = write_pdf(files["report.html"])
    return staging, files


def _record(
    doc: dict[str, Any],
    files: dict[str, Path],
    *,
    tracking: str,
    ref: Any,
    promote_alias: str | None,
    quiet: bool,
) -> dict[str, str] | None:
    """Log to MLflow, tag the registered version, promote it: evidence before any exit.

    Returns the error that keeps the audit from a release (logging failed, promotion
    refused), or ``None``.
    """
    from reports import log_audit

    from ._registry_gate import PromotionRefused, promote, tag_version

    try:
        logged = log_audit(
            doc, files, tracking_uri=tracking, model_id=ref.model_id if ref else None
        )
        if not quiet:
            click.echo(f"MLflow run {logged['run_id']} ({logged['artifact_uri']})", err=True)
        if ref is not None:
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=tracking)
            tag_version(client, ref, doc, logged)
            if promote_alias:
                click.echo(
                    promote(client, ref, promote_alias, doc, tracking_uri=tracking), err=True
                )
    except PromotionRefused as err:
        return {"stage": "promote", "type": type(err).__name__, "message": f"not promoted: {err}"}
    except Exception as err:  # evidence that cannot be recorded is no pass
        return {
            "stage": "log",
            "type": type(err).__name__,
            "message": f"the audit could not be logged to MLflow: {err}",
        }
    return None


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
def validate(spec_path: Path) -> ExitCode:
    """Validate SPEC_PATH without running it."""
    spec = load_spec(spec_path)
    click.echo(f"valid: {spec.name} ({len(spec.checks)} checks)")
    return ExitCode.OK


@cli.command()
def schema() -> ExitCode:
    """Print the audit spec's JSON Schema."""
    import json

    from ._spec import AuditSpec

    click.echo(json.dumps(AuditSpec.model_json_schema(by_alias=True), indent=2))
    return ExitCode.OK


@cli.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the renderings into.",
)
@click.option("--pdf", is_flag=True, help="Also print the report to report.pdf (A4).")
def render(results: Path, out_dir: Path, pdf: bool) -> ExitCode:
    """Render a past audit again from its RESULTS json.

    Exits 0 when rendered (this is not a release decision: the verdict is the document's),
    4 when the file is not a consistent results document: its verdict and exit code must be
    the ones its checks and errors imply, or it is refused.
    """
    from reports import check_out_folder, load_artifacts, load_results, set_aside

    from ._document import verdict_of

    try:
        doc = load_results(results)
        verdict, code = verdict_of(doc)
    except (OSError, ValueError) as err:
        raise click.BadParameter(
            f"must be a fairgate results document. {err}", param_hint="RESULTS"
        ) from err
    if (doc.get("verdict"), doc.get("exit_code")) != (verdict.value, int(code)):
        raise click.BadParameter(
            f"states the verdict {doc.get('verdict')!r} (exit code {doc.get('exit_code')!r}), "
            f"but its checks and errors imply {verdict.value!r} (exit code {int(code)}): "
            "refused.",
            param_hint="RESULTS",
        )
    check_out_folder(out_dir)
    set_aside(out_dir)
    _evidence(doc, _Rendered(files=load_artifacts(doc, results.parent)), out_dir, pdf=pdf)
    click.echo(f"rendered {doc['audit_id']} (verdict {verdict.value}) into {out_dir}")
    return ExitCode.OK


from ._monitor_cli import breaker, guard, monitor  # noqa: E402 - after the group exists

cli.add_command(monitor)
cli.add_command(breaker)
cli.add_command(guard)


@dataclass(frozen=True)
class _Rendered:
    """A past audit's files, for rendering again (no personal data is ever re-rendered)."""

    files: dict[str, bytes]
    private_files: dict[str, bytes] = field(default_factory=dict)


def main(argv: list[str] | None = None) -> int:
    """Entry point: map every outcome to an :class:`ExitCode` (never 0 after an error)."""
    try:
        code = cli.main(args=argv, prog_name="fairgate", standalone_mode=False)
    except click.exceptions.Exit as stop:  # --help, --version
        return int(stop.exit_code)
    except click.ClickException as err:
        err.show()
        return int(ExitCode.USAGE_ERROR)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return int(ExitCode.UNDECIDED)
    except (SpecError, EvidenceFolderError) as err:
        click.echo(f"error: {err}", err=True)
        return int(ExitCode.USAGE_ERROR)
    except KeyboardInterrupt as err:  # Interrupted (a signal) after the audit's own handling
        click.echo(f"error: fairgate was interrupted ({err}); nothing was published", err=True)
        return int(ExitCode.UNDECIDED)
    except BaseException as err:  # an unexpected failure, even SystemExit, is never a pass
        click.echo(f"error: fairgate failed: {type(err).__name__}: {err}", err=True)
        return int(ExitCode.UNDECIDED)
    return int(code) if code is not None else int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
