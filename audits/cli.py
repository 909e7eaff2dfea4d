"""The ``fairgate`` command line: run an audit and gate a release on its exit code.

Exit codes: 0 every check passed (or failed under a valid waiver); 1 a check failed (release
blocked); 2 the harness could not decide (error, insufficient or inconclusive evidence); 3
prohibited use (a policy forbids the declared use, whatever the metrics say); 4 usage error
(bad arguments, invalid spec); 5 (``fairgate monitor``, ``breaker status``) the circuit
breaker is open or half-open.
``fairgate verify`` exits 0 when all evidence verifies, 1 when anything does not.
``fairgate register`` and ``fairgate diff``: see audits/_register_cli.py; ``validate``,
``schema``, ``policies``, ``explain-policy``: audits/_spec_cli.py; ``render``:
audits/_render_cli.py.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
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

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from reports._folder import EvidenceFolderError

from ._background_import import in_background
from ._publish import (
    publish_evidence,
    record_in_mlflow,
    seal_in_ledger,
    signer_for,
)
from ._spec import SpecError, load_spec
from ._status import ExitCode

if TYPE_CHECKING:
    from ._gx_worker import GXWorker
    from ._spec import AuditSpec

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
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign the audit's attestation with this PEM private key (Ed25519 or ECDSA P-256) "
    "[default: $FAIRGATE_SIGNING_KEY, else the spec's attestation.signing_key; none: unsigned].",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="FAIRGATE_LEDGER",
    help="The hash-chained audit ledger to append to [default: .fairgate/ledger.jsonl].",
)
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A YAML file of waivers ('waivers:' list), applied after the spec's own.",
)
@click.option(
    "--promotion-rules",
    "rules_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The promotion rules for --promote (a fairgate.toml [promotion] or a pyproject.toml "
    "[tool.fairgate.promotion]) [default: ./fairgate.toml or ./pyproject.toml; none: every "
    "spec that audited the version must pass].",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    help="Where the audit runs [default: the spec's data.engine, else local]; spark needs "
    "pyspark (pip install 'fairgate[spark]'), else exit 4.",
)
@click.option(
    "--spark-master",
    metavar="URL",
    help="Spark master of the session fairgate starts (e.g. local[4], spark://host:7077) "
    "[default: the active session, e.g. under spark-submit].",
)
def run(
    spec_path: Path,
    out_dir: Path | None,
    tracking_uri: str | None,
    no_mlflow: bool,
    promote_alias: str | None,
    seed: int | None,
    pdf: bool,
    quiet: bool,
    signing_key: Path | None,
    ledger_path: Path | None,
    waivers_path: Path | None,
    rules_path: Path | None,
    engine: str | None,
    spark_master: str | None,
) -> ExitCode:
    """Run the audit in SPEC_PATH, write its evidence, log it to MLflow, exit with its code.

    The evidence is signed (attestation.intoto.jsonl) when a signing key is given, and every
    audit is appended to the ledger; a key that cannot be used, or a ledger that cannot be
    appended to, stops the audit with exit 2 (a key path that names no file: exit 4).
    """
    from reports import (
        check_message,
        check_out_folder,
        default_tracking_uri,
        one_line,
        set_aside,
        tracking_client,
        waiver_line,
    )

    from ._attestation import SigningError
    from ._document import new_audit_id
    from ._interrupt import signals_as_interrupts
    from ._ledger import DEFAULT_LEDGER, LedgerError
    from ._registry_gate import resolve_version
    from ._runner import run_audit

    spec = load_spec(spec_path, engine=engine)  # --engine overrides the spec's data.engine
    waivers = None
    if waivers_path is not None:
        from ._waiver_spec import load_waiver_file

        waivers = load_waiver_file(waivers_path, spec)  # a bad waiver: exit 4, nothing run
    if engine or spark_master or spec.data.engine == "spark":
        from ._spark_reading import SparkUnavailableError, require_pyspark

        try:
            if spec.data.engine == "spark":
                require_pyspark()
            elif spark_master:
                raise click.UsageError("--spark-master needs the spark engine (--engine spark).")
        except SparkUnavailableError as err:
            click.echo(f"error: {err}", err=True)
            return ExitCode.USAGE_ERROR
    if promote_alias and (no_mlflow or spec.model.kind != "mlflow"):
        raise click.UsageError("--promote needs an mlflow model (models:/...) and MLflow logging.")
    if rules_path and not promote_alias:
        raise click.UsageError("--promotion-rules applies to --promote: name the alias.")
    rules = None
    if promote_alias:
        from ._promotion import PromotionRulesError, load_promotion_rules

        try:
            rules = load_promotion_rules(rules_path)
        except PromotionRulesError as err:
            raise click.BadParameter(str(err), param_hint="--promotion-rules") from err
    try:
        signer = signer_for(signing_key, spec)
    except SigningError as err:
        click.echo(f"error: {err} Nothing was audited.", err=True)
        return ExitCode.UNDECIDED
    audit_id = new_audit_id(spec.name)
    # Absolute before any model code runs: a model that changes the working directory must
    # not move the evidence (the last component is kept as given, so a link is still seen).
    out = (out_dir or _default_out(spec.name, audit_id)).absolute()
    check_out_folder(out)
    # --no-mlflow logs nothing, but a models:/ URI still resolves against --tracking-uri.
    tracking = None if no_mlflow else (tracking_uri or default_tracking_uri())
    # After every usage check (exit 4 at once, and no store opened for a command refused).
    gx_worker = _start_worker(spec, tracking=tracking)
    ref = None
    if spec.model.kind == "mlflow" and tracking:
        try:
            ref = resolve_version(spec.model.uri, tracking_client(tracking))
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
            record_in_mlflow,
            tracking=tracking,
            ref=ref,
            promote_alias=promote_alias,
            quiet=quiet,
            rules=rules,
        )
        if tracking
        else None
    )
    seal = functools.partial(
        # absolute before model code runs, like --out (a model may change directory); with
        # --no-mlflow and no ledger named, nothing is written to ./.fairgate
        seal_in_ledger,
        ledger=Path(ledger_path or DEFAULT_LEDGER).absolute()
        if ledger_path or not no_mlflow
        else None,
        tracking=tracking,
        quiet=quiet,
    )
    # Model code runs in this process: what it prints goes to stderr, so that stdout holds
    # only fairgate's verdict line and no model can print a fake one.
    with signals_as_interrupts() as guard, contextlib.redirect_stdout(sys.stderr):
        result = run_audit(
            spec_path,
            seed=seed,
            quiet=quiet,
            spec=spec,
            tracking_uri=tracking_uri or tracking,
            audit_id=audit_id,
            waivers=waivers,
            waivers_source=str(waivers_path),
            spark_master=spark_master,
            gx_worker=gx_worker,
        )
        doc = result.document
        try:
            publish_evidence(
                doc,
                result,
                out,
                pdf=pdf,
                record=record,
                before_publish=guard.settle,
                signer=signer,
                seal=seal,
            )
        except (LedgerError, SigningError) as err:
            click.echo(f"error: {err} Nothing was published.", err=True)
            return ExitCode.UNDECIDED
    code = ExitCode(doc["exit_code"])
    shown: set[str] = set()  # a message shared by many checks (a stopped audit) is shown once
    for c in doc["checks"]:
        if not quiet or c["status"] != "pass":
            text = check_message(c, doc)  # under the disclosure rule
            message = "(the same as above)" if text in shown else text
            shown.add(text)
            click.echo(one_line(f"{c['status']:>21}  {c['name']}: {message}"), err=True)
    for e in doc["errors"]:
        click.echo(one_line(f"error ({e['stage']}): {e['message']}"), err=True)
    for w in doc.get("waivers") or []:
        click.echo(one_line(f"waiver {w['state']}: {waiver_line(w)}"), err=True)
    click.echo(f"verdict: {doc['verdict']} (exit {int(code)}); evidence in {out}")
    return code


def _start_worker(spec: AuditSpec, *, tracking: str | None) -> GXWorker | None:
    """In a process of its own (not a test's CliRunner) auditing on the local engine: the
    Great Expectations validation worker, started now (see :mod:`audits._gx_worker`), and
    SciPy's special functions (the engine's quantiles, :mod:`metrics._quantiles`) and MLflow
    imported in a thread while the audit reads its data, and a
    local sqlite tracking store opened (see :mod:`audits._background_import`; both end with
    the command).
    """
    ctx = click.get_current_context()
    obj = ctx.obj or {}
    started = obj.get("gx_worker")
    if spec.data.engine != "local" or not obj.get("own_process"):
        if started is not None:
            started.close()  # started for any run: Spark validates in this process
        return None
    steps: list[Callable[[], object]] = [
        functools.partial(importlib.import_module, "scipy.special")
    ]
    if tracking:
        steps.append(functools.partial(importlib.import_module, "mlflow.tracking"))
    if tracking and tracking.startswith("sqlite:"):  # local: opening it reaches no server
        from reports import tracking_client

        steps.append(functools.partial(tracking_client, tracking))
    ctx.call_on_close(in_background(*steps))
    if started is not None:
        return started
    from ._gx_worker import start_worker

    worker = start_worker()
    if worker is None:  # validation runs in this process: its import starts now
        from ._gx_import import start_import

        start_import(without_spark=True)  # a local audit's process never needs GE's Spark
        return None
    ctx.call_on_close(worker.close)
    return worker


from ._spec_cli import explain_policy, policies, schema, validate  # noqa: E402 - after the group

cli.add_command(validate)
cli.add_command(policies)
cli.add_command(explain_policy)
cli.add_command(schema)

from ._render_cli import render  # noqa: E402 - after the group exists

cli.add_command(render)


from ._signing_cli import sign_model, verify  # noqa: E402 - after the group exists

cli.add_command(verify)
cli.add_command(sign_model)

from ._monitor_cli import breaker, guard, monitor  # noqa: E402 - after the group exists

cli.add_command(monitor)
cli.add_command(breaker)
cli.add_command(guard)

from ._register_cli import diff, register  # noqa: E402 - after the group exists

cli.add_command(register)
cli.add_command(diff)


def main(argv: list[str] | None = None, *, gx_worker: GXWorker | None = None) -> int:
    """Entry point: map every outcome to an :class:`ExitCode` (never 0 after an error).

    ``gx_worker``: a validation worker the console script already started for ``run``
    (see :mod:`audits.__main__`); the caller ends it.
    """
    try:
        # argv None: the process's own command line (the console script), which runs one command.
        obj = {"own_process": argv is None, "gx_worker": gx_worker}
        code = cli.main(args=argv, prog_name="fairgate", standalone_mode=False, obj=obj)
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
