"""The ``fairgate`` command line: run an audit and gate a release on its exit code.

Exit codes: 0 every check passed; 1 a check failed (release blocked); 2 the harness could not
decide (error, insufficient or inconclusive evidence); 4 usage error (bad arguments, invalid
spec).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# OpenMP threads busy-wait on small machines; must be set before sklearn/shap load OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
# The verdict line is the CLI's output; MLflow's run links would only clutter CI logs.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
# MLflow's artifact progress bars (tqdm, on stderr) too; fairgate shows its own progress.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # e.g. "Creating initial MLflow tables"

import click

from ._spec import SpecError, load_spec
from ._status import ExitCode

__all__ = ["cli", "main"]


def _default_out(name: str, started: str) -> Path:
    return Path("out") / name / started.replace(":", "").replace("-", "")


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
    "[default: out/<spec name>/<UTC timestamp>/].",
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
@click.option("--seed", type=int, help="Override the spec's seed.")
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
    from reports import default_tracking_uri, write_all

    from ._registry_gate import resolve_version
    from ._runner import run_audit

    spec = load_spec(spec_path)
    if promote_alias and (no_mlflow or spec.model.kind != "mlflow"):
        raise click.UsageError("--promote needs an mlflow model (models:/...) and MLflow logging.")
    tracking = tracking_uri or default_tracking_uri()
    ref = None
    if spec.model.kind == "mlflow" and not no_mlflow:
        from mlflow.tracking import MlflowClient

        try:
            ref = resolve_version(spec.model.uri, MlflowClient(tracking_uri=tracking))
        except Exception as err:  # the audit itself will report the model as unloadable
            click.echo(f"error: cannot resolve {spec.model.uri}: {err}", err=True)
    if promote_alias and ref is None:
        raise click.UsageError(f"--promote needs a registered version; {spec.model.uri} is not.")
    result = run_audit(spec_path, seed=seed, quiet=quiet, spec=spec, tracking_uri=tracking)
    doc = result.document
    out = out_dir or _default_out(spec.name, doc["provenance"]["started_at"])
    files = write_all(doc, out, extra=result.files)
    for name, data in result.private_files.items():  # personal data: written, never logged
        (out / name).write_bytes(data)
    if pdf:
        from reports import write_pdf

        files["report.pdf"] = write_pdf(files["report.html"])
    code = result.exit_code
    if not no_mlflow:
        code = _record(doc, files, tracking, ref, promote_alias, code, quiet)
    for c in doc["checks"]:
        if not quiet or c["status"] != "pass":
            click.echo(f"{c['status']:>21}  {c['name']}: {c['message']}", err=True)
    for e in doc["errors"]:
        click.echo(f"error ({e['stage']}): {e['message']}", err=True)
    click.echo(f"verdict: {doc['verdict']} (exit {int(code)}); evidence in {out}")
    return code


def _record(
    doc, files, tracking: str, ref, promote_alias: str | None, code: ExitCode, quiet: bool
) -> ExitCode:
    """Log to MLflow, tag the registered version, promote it: evidence before any exit.

    Order: the run and its artifacts; the promotion check; the run's verdict and exit code
    (last on the run); the version's tags; the alias, last of all. Whatever fails or
    interrupts on the way leaves no run or version tag claiming more than the exit code.
    """
    from reports import audit_run, describe_store, scrub, tracking_client

    from ._registry_gate import PromotionRefused, check_promotion, move_alias, tag_version

    store = describe_store(tracking)
    try:
        with audit_run(
            doc, files, tracking_uri=tracking, model_id=ref.model_id if ref else None
        ) as run:
            note = None
            if promote_alias:
                try:
                    check_promotion(run.client, ref, promote_alias, doc, tracking_uri=tracking)
                except PromotionRefused as err:
                    click.echo(f"not promoted: {err}", err=True)
                    note, promote_alias = f"not promoted: {err}", None
                    code = code if code != ExitCode.OK else ExitCode.UNDECIDED
            run.finish(exit_code=code, note=note)
    except Exception as err:  # evidence that cannot be recorded is no pass
        click.echo(
            f"error: the audit could not be logged to MLflow at {store}: "
            f"{scrub(str(err), tracking)}",
            err=True,
        )
        return ExitCode.UNDECIDED if code == ExitCode.OK else code
    if not quiet:
        click.echo(f"MLflow run {run.run_id} ({run.artifact_uri})", err=True)
    if ref is None:
        return code
    try:
        client = tracking_client(tracking)
        tag_version(client, ref, doc, run.logged, exit_code=code)
        if promote_alias:
            click.echo(move_alias(client, ref, promote_alias, doc), err=True)
    except BaseException as err:
        if code == ExitCode.OK or not isinstance(err, Exception):
            run.abort(err, exit_code=ExitCode.UNDECIDED if isinstance(err, Exception) else None)
        if not isinstance(err, Exception):
            raise
        click.echo(
            f"error: the registry at {store} could not be updated: {scrub(str(err), tracking)}",
            err=True,
        )
        return ExitCode.UNDECIDED if code == ExitCode.OK else code
    return code


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
    """Render a past audit again from its RESULTS json."""
    from reports import load_artifacts, load_results, write_all, write_pdf

    doc = load_results(results)
    files = write_all(doc, out_dir, extra=load_artifacts(doc, results.parent))
    if pdf:
        write_pdf(files["report.html"])
    click.echo(f"rendered {doc['audit_id']} into {out_dir}")
    return ExitCode(doc["exit_code"])


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
    except SpecError as err:
        click.echo(f"error: {err}", err=True)
        return int(ExitCode.USAGE_ERROR)
    except Exception as err:  # an unexpected harness failure is never a pass
        click.echo(f"error: fairgate failed: {type(err).__name__}: {err}", err=True)
        return int(ExitCode.UNDECIDED)
    return int(code) if code is not None else int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
