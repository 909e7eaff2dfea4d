"""The ``fairgate`` command line: run an audit and gate a release on its exit code.

Exit codes: 0 every check passed (or failed under a valid waiver); 1 a check failed (release
blocked); 2 the harness could not decide (error, insufficient or inconclusive evidence); 3
prohibited use (a policy forbids the declared use, whatever the metrics say); 4 usage error
(bad arguments, invalid spec); 5 (``fairgate monitor``, ``breaker status``) the circuit
breaker is open or half-open.
``fairgate verify`` exits 0 when all evidence verifies, 1 when anything does not.
``fairgate register`` and ``fairgate diff``: see audits/_register_cli.py.
"""

from __future__ import annotations

import contextlib
import functools
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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from reports._folder import EvidenceFolderError

from ._background_import import background_import
from ._spec import SpecError, load_spec
from ._status import ExitCode

if TYPE_CHECKING:
    from ._document import AuditResult
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
    gx_worker = _start_worker(spec, no_mlflow=no_mlflow)  # after the usage checks: exit 4 fast
    try:
        signer = _signer(signing_key, spec)
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
            _record,
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
        _seal,
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
            _evidence(
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


def _start_worker(spec: AuditSpec, *, no_mlflow: bool) -> GXWorker | None:
    """In a process of its own (not a test's CliRunner) auditing on the local engine: the
    Great Expectations validation worker, started now (see :mod:`audits._gx_worker`), and
    SciPy's statistics and MLflow imported in a thread while the audit reads its data (both
    end with the command).
    """
    ctx = click.get_current_context()
    obj = ctx.obj or {}
    started = obj.get("gx_worker")
    if spec.data.engine != "local" or not obj.get("own_process"):
        if started is not None:
            started.close()  # started for any run: Spark validates in this process
        return None
    ctx.call_on_close(background_import("scipy.stats", *([] if no_mlflow else ["mlflow.tracking"])))
    if started is not None:
        return started
    from ._gx_worker import GXWorker

    try:
        worker = GXWorker.start()
    except OSError:  # no interpreter to start: validation runs in this process
        from ._gx_import import start_import

        start_import(without_spark=True)  # a local audit's process never needs GE's Spark
        return None
    ctx.call_on_close(worker.close)
    return worker


def _evidence(
    doc: dict[str, Any],
    result: AuditResult | _Rendered,
    out: Path,
    *,
    pdf: bool,
    record: Callable[[dict[str, Any], dict[str, Path]], dict[str, str] | None] | None = None,
    before_publish: Callable[[], None] | None = None,
    signer: Any = None,
    seal: Callable[[dict[str, Any], dict[str, Path]], None] | None = None,
) -> None:
    """Stage the evidence, log it, and publish it: the files say what the exit code says.

    Logging (and promotion) come after the files are staged, since MLflow logs them, and
    can still turn the verdict into ``error``; the files are then rendered again, so that
    the folder published last holds the final verdict. ``signer`` signs the staged files'
    attestation; ``seal`` (the ledger) sees the final files just before they are published.
    """
    from reports import discard, publish

    from ._document import finalise

    staging = None
    try:
        staging, files = _stage(doc, result, out, pdf=pdf, signer=signer)
        problem = record(doc, files) if record else None
        if problem is not None:
            finalise(doc, problem)
            discard(staging)
            staging, files = _stage(doc, result, out, pdf=pdf, signer=signer)
        if seal is not None:
            seal(doc, files)
        if before_publish is not None:
            before_publish()
        publish(staging, out)
    except BaseException:
        discard(staging)
        raise


def _stage(
    doc: dict[str, Any],
    result: AuditResult | _Rendered,
    out: Path,
    *,
    pdf: bool,
    signer: Any = None,
) -> tuple[Path, dict[str, Path]]:
    """Write every file of the audit into a new staging folder beside ``out``; with a
    ``signer``, the signed attestation of those files last."""
    from reports import new_staging_folder, write_all, write_file

    staging = new_staging_folder(out, doc["run"]["audit_id"])
    files = write_all(doc, staging, extra=result.files)
    for name, data in result.private_files.items():  # personal data: written, never logged
        write_file(staging, name, data, mode=0o600)
    if pdf:
        from reports import write_pdf

        files["report.pdf"] = write_pdf(files["report.html"])
    if signer is not None:
        from ._attestation import ATTESTATION_FILE, attest

        files[ATTESTATION_FILE] = write_file(
            staging, ATTESTATION_FILE, attest(doc, files, signer=signer)
        )
    return staging, files


def _signer(option: Path | None, spec: Any) -> Any:
    """The signer of the key from ``--signing-key``, else $FAIRGATE_SIGNING_KEY, else the
    spec (``None``: the audit is not signed).

    Raises
    ------
    click.BadParameter
        When the key path names no file (a usage error).
    SigningError
        When the key cannot be used.
    """
    from ._attestation import KEY_ENV, SigningKeyMissingError, load_signer

    spec_key = spec.attestation.signing_key if spec.attestation else None
    path, hint = (
        (option, "--signing-key")
        if option
        else (os.environ.get(KEY_ENV), KEY_ENV)
        if os.environ.get(KEY_ENV)
        else (spec_key, "attestation.signing_key")
    )
    if not path:
        return None
    try:
        return load_signer(Path(path))
    except SigningKeyMissingError as err:
        raise click.BadParameter(str(err), param_hint=hint) from err


def _seal(
    doc: dict[str, Any],
    files: dict[str, Path],
    *,
    ledger: Path | None,
    tracking: str | None,
    quiet: bool,
) -> None:
    """Append the audit to the ledger; with MLflow logging (unless it already failed), tag
    the experiment with the ledger's new head hash (its shared copy).

    Raises
    ------
    LedgerError
        When the ledger cannot be appended to, or the head hash cannot be tagged.
    """
    from models_under_test import file_sha256

    from ._attestation import ATTESTATION_FILE
    from ._ledger import LedgerError, append_record, ledger_entry

    if ledger is None:  # --no-mlflow without --ledger: no ./.fairgate folder is made
        return
    attestation = files.get(ATTESTATION_FILE)
    entry = ledger_entry(doc, attestation_sha256=file_sha256(attestation) if attestation else None)
    head = append_record(ledger, entry)
    if not quiet:
        click.echo(f"ledger {ledger}: head {head}", err=True)
    if tracking and not any(e.get("stage") == "log" for e in doc.get("errors", [])):
        import random

        from mlflow.tracking import MlflowClient

        from reports import retrying

        spec = doc["spec"]
        name = f"fairgate/{spec['content'].get('experiment') or spec['name']}"
        # Concurrent audits tag the same experiment: MLflow's tag upsert can then fail once
        # with a unique-key conflict, a transient failure retried like every other store call.
        rng = random.Random(str((doc.get("run") or {}).get("audit_id", "")))
        try:
            client = MlflowClient(tracking_uri=tracking)
            found = retrying(client.get_experiment_by_name, name, rng=rng)
            if found is not None:
                retrying(
                    client.set_experiment_tag,
                    found.experiment_id,
                    "fairgate.ledger_head",
                    head,
                    rng=rng,
                )
        except Exception as err:
            raise LedgerError(
                f"The ledger's head hash could not be tagged on the MLflow experiment {name!r}: "
                f"{err}."
            ) from err


def _record(
    doc: dict[str, Any],
    files: dict[str, Path],
    *,
    tracking: str,
    ref: Any,
    promote_alias: str | None,
    quiet: bool,
    rules: Any = None,
) -> dict[str, str] | None:
    """Log to MLflow, tag the registered version, promote it: evidence before any exit.

    Order: the run and its artifacts; the promotion check; the run's verdict and exit code
    (last on the run); the version's tags; the alias, last of all. Whatever fails or
    interrupts on the way leaves no run or version tag claiming more than the exit code.

    Returns the error that keeps the audit from a release (logging failed, promotion
    refused, the registry not updated), or ``None``; the caller adds it to the document.
    """
    from reports import audit_run, describe_store, scrub, tracking_client

    from ._registry_gate import PromotionRefused, check_promotion, move_alias, tag_version

    store = describe_store(tracking)
    code = ExitCode(doc["exit_code"])
    problem = None
    try:
        with audit_run(
            doc, files, tracking_uri=tracking, model_id=ref.model_id if ref else None
        ) as run:
            if promote_alias:
                try:
                    check_promotion(
                        run.client, ref, promote_alias, doc, tracking_uri=tracking, rules=rules
                    )
                except PromotionRefused as err:
                    problem = _problem("promote", err, f"not promoted: {err}")
                    promote_alias = None
                    code = code if code != ExitCode.OK else ExitCode.UNDECIDED
            run.finish(exit_code=code, note=problem["message"] if problem else None)
    except Exception as err:  # evidence that cannot be recorded is no pass
        text = f"the audit could not be logged to MLflow at {store}: {scrub(str(err), tracking)}"
        return _problem("log", err, text)
    if not quiet:
        click.echo(f"MLflow run {run.run_id} ({run.artifact_uri})", err=True)
    if ref is None:
        return problem
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
        text = f"the registry at {store} could not be updated: {scrub(str(err), tracking)}"
        return _problem("registry", err, text)
    return problem


def _problem(stage: str, err: BaseException, message: str) -> dict[str, str]:
    return {"stage": stage, "type": type(err).__name__, "message": message}


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
def validate(spec_path: Path) -> ExitCode:
    """Validate SPEC_PATH without running it."""
    spec = load_spec(spec_path)
    click.echo(f"valid: {spec.name} ({len(spec.checks)} checks)")
    return ExitCode.OK


@cli.command()
def policies() -> ExitCode:
    """List the shipped policies (name, version, title)."""
    from ._policy_files import load_policy, shipped_policies

    for name in shipped_policies():
        p = load_policy(name).policy
        click.echo(f"{p.name:<26} {p.version:<12} {p.title}")
    return ExitCode.OK


@cli.command("explain-policy")
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

    from ._document import contradictions, verdict_of

    try:
        doc = load_results(results)
        verdict, code = verdict_of(doc)
    except (OSError, ValueError) as err:
        raise click.BadParameter(
            f"must be a fairgate results document. {err}", param_hint="RESULTS"
        ) from err
    problems = contradictions(doc)
    if problems:
        raise click.BadParameter(
            f"is not a consistent results document: {'; '.join(problems)}. Refused.",
            param_hint="RESULTS",
        )
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
    click.echo(f"rendered {doc['run']['audit_id']} (verdict {verdict.value}) into {out_dir}")
    return ExitCode.OK


@cli.command()
@click.argument("target", required=False, type=click.Path(path_type=Path))
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signer's PEM public key (needed to verify TARGET).",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    help="Model file (or folder of files) that must be the attested model.",
)
@click.option(
    "--data", type=click.Path(path_type=Path), help="Data file that must be the audited data."
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check this audit ledger's hash chain (and that TARGET's attestation is in it).",
)
def verify(
    target: Path | None,
    key_path: Path | None,
    model: Path | None,
    data: Path | None,
    ledger_path: Path | None,
) -> ExitCode:
    """Verify signed evidence: TARGET (an evidence folder or its attestation.intoto.jsonl)
    against the public --key, and/or an audit --ledger.

    Prints what matches and what does not. Exits 0 only when everything matches, 1 when
    anything does not (a changed byte, a missing file, a bad signature, a broken ledger),
    4 on bad usage (nothing to verify, no --key, a key that is not a public key).
    """
    from ._ledger import LedgerError, read_ledger
    from ._verify import Finding, VerifyUsageError, verify_evidence

    if target is None and ledger_path is None:
        raise click.UsageError("verify needs an evidence folder (with --key) or --ledger.")
    if target is None and (model or data or key_path):
        raise click.UsageError("--key, --model and --data verify an evidence folder: name it.")
    findings: list[Finding] = []
    attestation_sha = None
    if target is not None:
        if key_path is None:
            raise click.UsageError("verifying evidence needs the signer's public key: --key.")
        try:
            statement, found = verify_evidence(target, key_path=key_path, model=model, data=data)
        except VerifyUsageError as err:
            raise click.BadParameter(str(err)) from err
        findings += found
        if statement is not None:
            from models_under_test import file_sha256

            from ._attestation import ATTESTATION_FILE

            place = target / ATTESTATION_FILE if target.is_dir() else target
            attestation_sha = file_sha256(place)
    if ledger_path is not None:
        try:
            records, problems = read_ledger(ledger_path)
        except LedgerError as err:
            raise click.BadParameter(str(err), param_hint="--ledger") from err
        findings += [Finding(f"ledger line {p.line}", False, p.message) for p in problems]
        if not problems:
            head = records[-1]["hash"] if records else "(empty)"
            findings.append(
                Finding(str(ledger_path), True, f"{len(records)} records chained; head {head}")
            )
        if attestation_sha is not None:
            listed = any(r.get("attestation_sha256") == attestation_sha for r in records)
            findings.append(
                Finding(
                    "ledger entry",
                    listed,
                    "the attestation is recorded in the ledger"
                    if listed
                    else "the attestation is not recorded in this ledger",
                )
            )
    for f in findings:
        click.echo(f"{'ok' if f.ok else 'FAILED':>6}  {f.subject}: {f.detail}")
    ok = bool(findings) and all(f.ok for f in findings)
    click.echo("verified: everything matches" if ok else "NOT VERIFIED: see FAILED above")
    return ExitCode.OK if ok else ExitCode.CHECKS_FAILED


@cli.command("sign-model")
@click.argument("model_path", metavar="PATH")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ECDSA (P-256/384/521) PEM private key; its password, if any, from "
    "FAIRGATE_SIGNING_KEY_PASSWORD.",
)
@click.option(
    "--signature",
    "signature_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the signature [default: PATH.sig beside a file; model.sig for a "
    "models:/ URI].",
)
@click.option(
    "--certificate",
    "certificate_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The key's signing certificate (PEM): sign with the certificate method.",
)
@click.option(
    "--chain",
    "chain_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --certificate: the certificates up to the root (repeat for each file).",
)
@click.option(
    "--tracking-uri",
    help="The MLflow server resolving a models:/ or runs:/ PATH (its files are downloaded).",
)
def sign_model(
    model_path: str,
    key_path: Path,
    signature_path: Path | None,
    certificate_path: Path | None,
    chain_paths: tuple[Path, ...],
    tracking_uri: str | None,
) -> ExitCode:
    """Sign a model's files (PATH: a file, a folder, or an MLflow models:/ URI) with OpenSSF
    model_signing, for the spec's model.signature.

    Prints the signature written, the key's fingerprint and each file covered. Exits 0 when
    signed, 2 when it could not sign, 4 on bad usage.
    """
    from models_under_test import MODELS_URI, download_mlflow_model

    from ._model_signature import ModelSignatureError
    from ._sign_model import sign_model

    remote = bool(MODELS_URI.match(model_path)) or model_path.startswith("runs:/")
    local = Path(model_path)
    if not remote and not local.exists():
        raise click.BadParameter(f"{model_path!r} is neither a file, a folder nor a models:/ URI.")
    if chain_paths and certificate_path is None:
        raise click.UsageError("--chain goes with --certificate.")
    if signature_path is None:
        signature_path = Path("model.sig") if remote or local.is_dir() else Path(f"{local}.sig")
    try:
        if remote:
            local = Path(download_mlflow_model(model_path, tracking_uri))
        signed = sign_model(
            model=local,
            private_key=key_path,
            signature=signature_path,
            certificate=certificate_path,
            certificate_chain=chain_paths,
        )
    except ModelSignatureError as err:
        click.echo(f"error: {err}", err=True)
        return ExitCode.UNDECIDED
    except Exception as err:  # a download that fails: never a signature
        click.echo(f"error: {model_path} could not be signed: {type(err).__name__}", err=True)
        return ExitCode.UNDECIDED
    click.echo(f"signed {model_path} -> {signature_path}")
    click.echo(f"  signature sha256 {signed.signature_sha256}")
    click.echo(f"  public key sha256 {signed.public_key_sha256}")
    if "certificate" in signed.trust:
        click.echo(f"  certificate {signed.trust['certificate']['subject']}")
    for name, digest in sorted(signed.files.items()):
        click.echo(f"  {signed.algorithm} {digest}  {name}")
    return ExitCode.OK


from ._monitor_cli import breaker, guard, monitor  # noqa: E402 - after the group exists

cli.add_command(monitor)
cli.add_command(breaker)
cli.add_command(guard)

from ._register_cli import diff, register  # noqa: E402 - after the group exists

cli.add_command(register)
cli.add_command(diff)


@dataclass(frozen=True)
class _Rendered:
    """A past audit's files, for rendering again (no personal data is ever re-rendered)."""

    files: dict[str, bytes]
    private_files: dict[str, bytes] = field(default_factory=dict)


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
