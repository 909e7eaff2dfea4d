"""Verify signed evidence: the attestation's signature, then every digest it states.

Needs only the public key: the signature is checked with ``securesystemslib``, then the
sha256 of every evidence file the statement lists (results.json, report.html, summary.md,
junit.xml, charts) is computed again, and, when given, those of the model files and data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models_under_test import file_sha256

from ._attestation import ATTESTATION_FILE, PAYLOAD_TYPE, PREDICATE_TYPE

__all__ = ["Finding", "VerifyUsageError", "load_public_key", "verify_evidence"]

_MAX_ATTESTATION_BYTES = 16 * 1024 * 1024


class VerifyUsageError(ValueError):
    """What to verify, or with which key, is not usable (a usage error)."""


@dataclass(frozen=True)
class Finding:
    """One thing verified: what (``subject``), whether it matched, and how."""

    subject: str
    ok: bool
    detail: str


def load_public_key(path: Path) -> Any:
    """The ``securesystemslib`` key for the PEM public key at ``path``.

    Raises
    ------
    VerifyUsageError
        When the file is missing, unreadable, or not an Ed25519/ECDSA P-256 public key.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    try:
        data = path.read_bytes()
    except OSError as err:
        raise VerifyUsageError(
            f"The --key must be a readable PEM public key file. Got {str(path)!r}: {err.strerror}."
        ) from err
    if b"PRIVATE KEY" in data:
        raise VerifyUsageError(
            f"The --key must be a public key. Got {str(path)!r}, a private key: verifying needs "
            "only the public key (openssl pkey -in PRIVATE.pem -pubout -out PUBLIC.pem)."
        )
    try:
        return SSlibKey.from_crypto(load_pem_public_key(data))
    except Exception as err:
        raise VerifyUsageError(
            f"The --key must be a PEM public key (Ed25519 or ECDSA P-256). Got {str(path)!r}, "
            f"which is not one ({type(err).__name__})."
        ) from err


def _locate(target: Path) -> tuple[Path, Path]:
    """The attestation file and the evidence folder beside it."""
    if target.is_dir():
        return target / ATTESTATION_FILE, target
    if target.is_file():
        return target, target.parent
    raise VerifyUsageError(
        f"What to verify must be an evidence folder or an {ATTESTATION_FILE} file. Got "
        f"{str(target)!r}, which does not exist."
    )


def _statement(attestation: Path, key: Any) -> tuple[dict[str, Any] | None, list[Finding]]:
    """The verified statement, or ``None`` and why not."""
    from securesystemslib.dsse import Envelope

    try:
        with attestation.open("rb") as handle:
            raw = handle.read(_MAX_ATTESTATION_BYTES + 1)
    except OSError as err:
        return None, [Finding(attestation.name, False, f"cannot be read: {err.strerror}")]
    lines = [line for line in raw.splitlines() if line.strip()]
    if len(raw) > _MAX_ATTESTATION_BYTES or len(lines) != 1:
        return None, [Finding(attestation.name, False, "must hold exactly one DSSE envelope")]
    try:
        envelope = Envelope.from_dict(json.loads(lines[0]))
    except Exception as err:
        return None, [
            Finding(attestation.name, False, f"is not a DSSE envelope ({type(err).__name__})")
        ]
    try:
        envelope.verify([key], 1)
    except Exception:
        return None, [
            Finding(
                f"{attestation.name} signature",
                False,
                "does not verify with this public key: the attestation was changed or signed "
                "by another key",
            )
        ]
    findings = [Finding(f"{attestation.name} signature", True, f"valid (key {key.keyid[:12]}…)")]
    try:
        statement = json.loads(envelope.payload)
        ok = (
            envelope.payload_type == PAYLOAD_TYPE
            and statement.get("predicateType") == PREDICATE_TYPE
            and isinstance(statement.get("predicate", {}).get("evidence"), dict)
        )
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        findings.append(Finding(attestation.name, False, "is not a fairgate audit statement"))
        return None, findings
    return statement, findings


def _compare(subject: str, path: Path, expected: str | None) -> Finding:
    if not path.is_file():
        return Finding(subject, False, "is missing")
    actual = file_sha256(path)
    if actual == expected:
        return Finding(subject, True, f"sha256 {actual[:12]}… matches")
    return Finding(
        subject,
        False,
        f"was changed: sha256 {actual[:12]}…, the attestation says {str(expected)[:12]}…",
    )


def _uncovered(folder: Path, listed: dict[str, Any], attestation: str) -> list[Finding]:
    """Files in the evidence folder the attestation does not cover: a report.pdf or a page
    added later would otherwise be read as verified evidence. The personal-data files
    results.json names (never hashed, never logged) are said to be such."""
    try:
        private = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        private = (
            set(private.get("private_artifacts") or []) if isinstance(private, dict) else set()
        )
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        private = set()
    findings = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = path.name
        if name in listed or name == attestation:
            continue
        if name in private and path.is_file() and not path.is_symlink():
            findings.append(
                Finding(name, True, "personal data named in results.json: not attested")
            )
        else:
            findings.append(
                Finding(
                    name,
                    False,
                    "is in the evidence folder but not covered by the attestation: it is not "
                    "this audit's signed evidence",
                )
            )
    return findings


def _model_findings(statement: dict[str, Any], model: Path) -> list[Finding]:
    digests = {d.get("digest", {}).get("sha256") for d in statement.get("subject", [])}
    files = sorted(p for p in model.rglob("*") if p.is_file()) if model.is_dir() else [model]
    if not files:
        return [Finding(str(model), False, "holds no file")]
    findings = []
    for path in files:
        if not path.is_file():
            findings.append(Finding(str(path), False, "is missing"))
            continue
        actual = file_sha256(path)
        ok = actual in digests
        detail = "matches the attested model" if ok else "is not the attested model"
        findings.append(Finding(str(path), ok, f"sha256 {actual[:12]}… {detail}"))
    return findings


def _verdict_finding(path: Path, predicate: dict[str, Any]) -> Finding:
    """Whether results.json states the verdict its checks, errors and waivers imply (waivers
    judged on the audit's own date), and the attestation states that verdict too."""
    from ._document import contradictions, verdict_of

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        verdict, code = verdict_of(doc)
    except (OSError, ValueError) as err:
        return Finding("verdict", False, f"results.json cannot be re-derived: {err}")
    problems = contradictions(doc)
    stated = (doc.get("verdict"), doc.get("exit_code"))
    attested = (predicate.get("verdict"), predicate.get("exit_code"))
    if problems or stated != (verdict.value, int(code)) or attested != stated:
        why = "; ".join(problems) or (
            f"results.json states {stated[0]!r} (exit {stated[1]}), the attestation "
            f"{attested[0]!r}, its checks, errors and waivers imply {verdict.value!r}"
        )
        return Finding("verdict", False, why)
    waived = sum(c.get("status") == "waived" for c in doc.get("checks") or [])
    return Finding(
        "verdict",
        True,
        f"{verdict.value} (exit {int(code)}) is what the checks and errors imply"
        + (
            f", with {waived} waived failure(s) under unexpired, signed-off waivers"
            if waived
            else ""
        ),
    )


def verify_evidence(
    target: Path, *, key_path: Path, model: Path | None = None, data: Path | None = None
) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Verify the evidence at ``target`` (a folder, or its attestation file).

    Returns the verified statement (``None`` when its signature fails) and one finding per
    thing checked; everything matches only when every finding is ``ok``.

    Raises
    ------
    VerifyUsageError
        When ``target`` or the key cannot be used at all.
    """
    attestation, folder = _locate(target)
    key = load_public_key(key_path)
    if not attestation.is_file():
        return None, [Finding(ATTESTATION_FILE, False, f"is missing from {folder}")]
    statement, findings = _statement(attestation, key)
    if statement is None:
        return None, findings
    predicate = statement["predicate"]
    listed = predicate["evidence"]
    for name in sorted(listed):
        if Path(name).name != name:
            findings.append(Finding(name, False, "is not a plain file name"))
            continue
        findings.append(_compare(name, folder / name, (listed[name] or {}).get("sha256")))
    findings += _uncovered(folder, listed, attestation.name)
    for required in ("results.json", "report.html", "summary.md", "junit.xml"):
        if required not in listed:
            findings.append(Finding(required, False, "is not covered by the attestation"))
    if "results.json" in listed and (folder / "results.json").is_file():
        findings.append(_verdict_finding(folder / "results.json", predicate))
    if model is not None:
        findings.extend(_model_findings(statement, model))
    if data is not None:
        expected = (predicate.get("data") or {}).get("sha256")
        findings.append(_compare(f"data {data}", data, expected))
    return statement, findings
