"""The commands of signed evidence: ``fairgate verify`` (attestations, digests and the
ledger) and ``fairgate sign-model`` (a model's files signed before they are audited)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from ._status import ExitCode

__all__ = ["sign_model", "verify"]


@click.command()
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
    from reports import one_line

    from ._ledger import LedgerError, read_ledger, superseding
    from ._verify import Finding, VerifyUsageError, verify_evidence

    if target is None and ledger_path is None:
        raise click.UsageError("verify needs an evidence folder (with --key) or --ledger.")
    if target is None and (model or data or key_path):
        raise click.UsageError("--key, --model and --data verify an evidence folder: name it.")
    findings: list[Finding] = []
    attestation_sha, statement = None, None
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
            for line in superseding(records, attestation_sha) if not problems else []:
                later = records[line - 1]
                audit, verdict = one_line(later.get("audit_id")), one_line(later.get("verdict"))
                findings.append(
                    Finding(
                        "ledger entry",
                        False,
                        f"superseded: ledger line {line} records a later audit of the same "
                        f"spec, model and data ({audit}) with the verdict {verdict!r} (exit "
                        f"{later.get('exit_code')}): this evidence is not the latest decision",
                    )
                )
    for f in findings:
        click.echo(f"{'ok' if f.ok else 'FAILED':>6}  {f.subject}: {f.detail}")
    ok = bool(findings) and all(f.ok for f in findings)
    click.echo("verified: everything matches" if ok else "NOT VERIFIED: see FAILED above")
    if ok and statement is not None:  # authentic is not released: say what it decided
        click.echo(_decision(statement))
    return ExitCode.OK if ok else ExitCode.CHECKS_FAILED


def _decision(statement: dict) -> str:
    """What the verified evidence decided, in one line: authentic evidence of a blocked
    release is no release."""
    from reports import one_line

    predicate = statement.get("predicate") or {}
    verdict, code = one_line(predicate.get("verdict")), predicate.get("exit_code")
    meaning = "the release may proceed" if code == 0 else "the release was BLOCKED"
    return f"the evidence records the verdict {verdict!r} (exit {one_line(code)}): {meaning}"


@click.command("sign-model")
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
        with tempfile.TemporaryDirectory(prefix="fairgate-", ignore_cleanup_errors=True) as tmp:
            if remote:  # signed from a copy removed once signed
                local = Path(download_mlflow_model(model_path, tracking_uri, into=tmp))
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
