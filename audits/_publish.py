"""An audit's evidence, from staged files to the published folder: written into a staging
folder beside ``--out`` (:func:`stage_files`), logged to MLflow and its registry
(:func:`record_in_mlflow`), appended to the ledger (:func:`seal_in_ledger`), signed when a key
is given (:func:`signer_for`), and published last (:func:`publish_evidence`): the folder a
reader finds never says more than the exit code. When a step after MLflow fails (the ledger
append, the final rename), MLflow is told last: its run, the version's tags and the alias are
retracted (:class:`Recorded`), so that MLflow never says more than the exit code either.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._status import ExitCode

if TYPE_CHECKING:
    from ._document import AuditResult

__all__ = [
    "Recorded",
    "Rendered",
    "publish_evidence",
    "record_in_mlflow",
    "seal_in_ledger",
    "signer_for",
    "stage_files",
]


@dataclass(frozen=True)
class Rendered:
    """A past audit's files, for rendering again (no personal data is ever re-rendered)."""

    files: dict[str, bytes]
    private_files: dict[str, bytes] = field(default_factory=dict)
    #: The document's renderings, already made (``reports.check_renderable``): written as
    #: they are, not rendered a second time.
    texts: dict[str, str] | None = None


@dataclass(frozen=True)
class Recorded:
    """What MLflow was told of an audit (:func:`record_in_mlflow`).

    Attributes
    ----------
    problem : dict or None
        The error that keeps the audit from a release (logging failed, promotion refused,
        the registry not updated), or ``None``; the caller adds it to the document.
    retract : callable or None
        Called with the error when a later step fails (the ledger, publishing): the run ends
        ``FAILED`` (``KILLED`` for an interrupt) tagged ``error`` / exit code 2, the version's
        tags say the same, and an alias moved by the audit goes back where it was.
    """

    problem: dict[str, str] | None = None
    retract: Callable[[BaseException], None] | None = None


def publish_evidence(
    doc: dict[str, Any],
    result: AuditResult | Rendered,
    out: Path,
    *,
    pdf: bool,
    record: Callable[[dict[str, Any], dict[str, Path]], Recorded] | None = None,
    before_publish: Callable[[], None] | None = None,
    signer: Any = None,
    seal: Callable[..., None] | None = None,
) -> None:
    """Stage the evidence, log it, and publish it: the files say what the exit code says.

    Logging (and promotion) come after the files are staged, since MLflow logs them, and
    can still turn the verdict into ``error``; the files are then rendered again, so that
    the folder published last holds the final verdict. ``before_publish`` is called once
    MLflow holds the verdict (signals then no longer end the audit). ``signer`` signs the
    staged files' attestation; ``seal`` (the ledger) sees the final files just before they
    are published, and is first asked (``check_only=True``) whether it can take them, before
    MLflow is. Should the ledger or the publishing still fail, what MLflow was told is
    retracted (:attr:`Recorded.retract`) before the error is raised again.
    """
    from reports import check_out_folder, discard, publish

    from ._document import finalise

    # Model code ran in this process since --out was checked: what it left at ``out`` is
    # refused before MLflow, the registry or the ledger is told the verdict.
    check_out_folder(out)
    if seal is not None:  # a ledger that cannot take the record: before anyone is told
        seal(doc, {}, check_only=True)
    staging = None
    recorded = Recorded()
    try:
        staging, files = stage_files(doc, result, out, pdf=pdf, signer=signer)
        recorded = record(doc, files) if record else recorded
        if recorded.problem is not None:
            finalise(doc, recorded.problem)
            discard(staging)
            staging, files = stage_files(doc, result, out, pdf=pdf, signer=signer)
        if before_publish is not None:  # MLflow and the registry hold the verdict now:
            before_publish()  # a signal may no longer end the audit otherwise
        sealed = False
        try:
            if seal is not None:
                seal(doc, files)
                sealed = True
            publish(staging, out)
        except BaseException as err:  # the exit code is 2 now: MLflow must not say more
            if recorded.retract is not None:
                recorded.retract(err)
            if sealed:  # nor the ledger, whose record cannot be taken back: a later one
                with contextlib.suppress(Exception):  # the error below is what ends it
                    seal(doc, files, retract=True)
            raise
    except BaseException:
        discard(staging)
        raise


def stage_files(
    doc: dict[str, Any],
    result: AuditResult | Rendered,
    out: Path,
    *,
    pdf: bool,
    signer: Any = None,
) -> tuple[Path, dict[str, Path]]:
    """Write every file of the audit into a new staging folder beside ``out``; with a
    ``signer``, the signed attestation of those files last."""
    from reports import new_staging_folder, write_all, write_file

    staging = new_staging_folder(out, doc["run"]["audit_id"])
    texts = result.texts if isinstance(result, Rendered) else None
    files = write_all(doc, staging, extra=result.files, contents=texts)
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


def signer_for(option: Path | None, spec: Any) -> Any:
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


def _retraction(doc: dict[str, Any]) -> dict[str, Any]:
    """The later ledger record of an audit that ended with exit 2 after its record."""
    from ._ledger import ledger_entry

    entry = ledger_entry(doc, attestation_sha256=None)
    return {**entry, "verdict": "error", "exit_code": int(ExitCode.UNDECIDED)}


def seal_in_ledger(
    doc: dict[str, Any],
    files: dict[str, Path],
    *,
    ledger: Path | None,
    tracking: str | None,
    quiet: bool,
    check_only: bool = False,
    retract: bool = False,
) -> None:
    """Append the audit to the ledger; with MLflow logging (unless it already failed), tag
    the experiment with the ledger's new head hash (its shared copy). With ``check_only``,
    only raise what appending would raise for the ledger as it is, writing nothing.

    A record cannot be taken back: when the audit ends with exit 2 after its record was
    appended (the head hash could not be tagged, the evidence could not be published), a
    later record of the same audit and digests says ``error`` / exit 2 (``retract``), so
    that ``fairgate verify --ledger`` finds the first one superseded.

    Raises
    ------
    LedgerError
        When the ledger cannot be appended to, or the head hash cannot be tagged.
    """
    from models_under_test import file_sha256

    from ._attestation import ATTESTATION_FILE
    from ._ledger import LedgerError, append_record, check_appendable, ledger_entry

    if ledger is None:  # --no-mlflow without --ledger: no ./.fairgate folder is made
        return
    if check_only:
        return check_appendable(ledger)
    if retract:
        append_record(ledger, _retraction(doc))
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
            with contextlib.suppress(Exception):  # the error below is what ends the audit
                append_record(ledger, _retraction(doc))
            raise LedgerError(
                f"The ledger's head hash could not be tagged on the MLflow experiment {name!r}: "
                f"{err}."
            ) from err


def record_in_mlflow(
    doc: dict[str, Any],
    files: dict[str, Path],
    *,
    tracking: str,
    ref: Any,
    promote_alias: str | None,
    quiet: bool,
    rules: Any = None,
) -> Recorded:
    """Log to MLflow, tag the registered version, promote it: evidence before any exit.

    Order: the run and its artifacts; the promotion check; the run's verdict and exit code
    (last on the run); the version's tags; the alias, last of all. Whatever fails or
    interrupts on the way leaves no run or version tag claiming more than the exit code.

    Returns the error that keeps the audit from a release (logging failed, promotion
    refused, the registry not updated), or ``None``, with how to retract what MLflow was
    told when a later step (the ledger, publishing) fails (:class:`Recorded`).
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
        return Recorded(_problem("log", err, text))  # no run holds a verdict: none to retract
    if not quiet:
        click.echo(f"MLflow run {run.run_id} ({run.artifact_uri})", err=True)
    told = _Told(run=run, doc=doc, ref=ref, tracking=tracking)
    if ref is None:
        return Recorded(problem, told.retract)
    try:
        client = tracking_client(tracking)
        tag_version(client, ref, doc, run.logged, exit_code=code)
        told.tagged = True
        if promote_alias:
            told.alias, told.previous = promote_alias, _alias_target(client, ref, promote_alias)
            click.echo(move_alias(client, ref, promote_alias, doc), err=True)
    except BaseException as err:
        if code == ExitCode.OK or not isinstance(err, Exception):
            run.abort(err, exit_code=ExitCode.UNDECIDED if isinstance(err, Exception) else None)
        if not isinstance(err, Exception):
            raise
        text = f"the registry at {store} could not be updated: {scrub(str(err), tracking)}"
        return Recorded(_problem("registry", err, text), told.retract)
    return Recorded(problem, told.retract)


def _alias_target(client: Any, ref: Any, alias: str) -> str | None:
    """The version ``alias`` points at before the audit moves it (``None``: no such alias)."""
    try:
        return str(client.get_model_version_by_alias(ref.name, alias).version)
    except Exception:  # MLflow raises when the alias does not exist
        return None


@dataclass
class _Told:
    """What one audit told MLflow (its run, the version's tags, an alias moved), to be
    retracted when a later step fails."""

    run: Any
    doc: dict[str, Any]
    ref: Any
    tracking: str
    tagged: bool = False
    alias: str | None = None
    previous: str | None = None

    def retract(self, err: BaseException) -> None:
        """End the run ``FAILED`` (``KILLED``) tagged ``error`` / exit code 2; tag the version
        the same; move the alias back (or remove it). Raises no :class:`Exception`: the
        process exits 2 anyway, and says so when MLflow could not be told."""
        from reports import scrub, tracking_client

        from ._registry_gate import tag_version

        if not self.run.abort(err, exit_code=ExitCode.UNDECIDED):
            click.echo(
                f"error: the MLflow run {self.run.run_id} could not be told that the audit "
                f"ended undecided (exit 2): it may still say {self.doc.get('verdict')!r} (exit "
                f"{self.doc.get('exit_code')}) until it is tagged fairgate.verdict=error.",
                err=True,
            )
        if self.ref is None or not self.tagged:
            return
        name = self.ref.name

        def tags(client: Any) -> None:
            tag_version(client, self.ref, self.doc, self.run.logged, exit_code=ExitCode.UNDECIDED)

        # Each step on its own: the alias is moved back even when the tags cannot be set.
        steps = [("alias", self._move_alias_back)] if self.alias is not None else []
        for what, step in [*steps, ("tags", tags)]:
            try:
                step(tracking_client(self.tracking))
            except Exception as failure:
                click.echo(
                    f"error: the registry could not be told that the audit ended undecided "
                    f"({what} of {name} version {self.ref.version}): "
                    f"{scrub(str(failure), self.tracking)}",
                    err=True,
                )

    def _move_alias_back(self, client: Any) -> None:
        """The alias where it was before the audit moved it (or removed), and this audit's
        promotion tags removed."""
        name = self.ref.name
        if self.previous is not None:
            client.set_registered_model_alias(name, self.alias, self.previous)
        else:
            client.delete_registered_model_alias(name, self.alias)
        if self.previous != str(self.ref.version):  # this audit's promotion: undone
            for key in ("to", "by", "at", "by_audit"):
                client.delete_model_version_tag(name, self.ref.version, f"fairgate.promoted_{key}")


def _problem(stage: str, err: BaseException, message: str) -> dict[str, str]:
    return {"stage": stage, "type": type(err).__name__, "message": message}
