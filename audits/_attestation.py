"""Signed evidence: an in-toto Statement (v1) about one audit, in a DSSE envelope.

The statement's subjects are the audited model's files (the files its verified
``model_signing`` signature covers, when the spec names one; without a model file, what was
audited instead: the model's digest, or the decision log); its predicate
(:data:`PREDICATE_TYPE`) holds the spec, data and model digests, the verdict and exit code,
every check's name, status and value, fairgate's version, and the sha256 of every evidence
file written beside it. The envelope is signed with an Ed25519 or ECDSA P-256 private key
read from a PEM file (``securesystemslib``'s :class:`~securesystemslib.signer.CryptoSigner`
over ``cryptography``): the key is only ever read, never written, logged or shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from models_under_test import file_sha256

from ._provenance import utc_now

__all__ = [
    "ATTESTATION_FILE",
    "KEY_ENV",
    "PASSWORD_ENV",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "SigningError",
    "SigningKeyMissingError",
    "attest",
    "load_signer",
    "statement",
]

#: The predicate type of a fairgate audit attestation.
PREDICATE_TYPE = "https://fairgate.dev/attestation/audit/v1"
#: The DSSE payload type of an in-toto statement.
PAYLOAD_TYPE = "application/vnd.in-toto+json"
#: The attestation's file name in the evidence folder (one DSSE envelope per line).
ATTESTATION_FILE = "attestation.intoto.jsonl"
#: The environment variable naming the signing key's path.
KEY_ENV = "FAIRGATE_SIGNING_KEY"
#: The environment variable holding the password of an encrypted signing key.
PASSWORD_ENV = "FAIRGATE_SIGNING_KEY_PASSWORD"
_MAX_KEY_BYTES = 64 * 1024
_FILE_MODELS = ("sklearn", "onnx")


class SigningError(RuntimeError):
    """The audit cannot be signed (an unreadable key, a wrong password): never a pass."""


class SigningKeyMissingError(SigningError):
    """The signing key's path names no file."""


def _read_key_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_BYTES + 1)
    except FileNotFoundError as err:
        raise SigningKeyMissingError(
            f"The signing key must be an existing PEM file. Got {str(path)!r}, which does not "
            "exist."
        ) from err
    except OSError as err:
        raise SigningError(
            f"The signing key {str(path)!r} cannot be read: {err.strerror}."
        ) from err
    if len(data) > _MAX_KEY_BYTES:
        raise SigningError(
            f"The signing key {str(path)!r} must be a PEM private key file. Got a file of more "
            f"than {_MAX_KEY_BYTES:,} bytes instead."
        )
    return data


def load_signer(path: str | Path) -> Any:
    """A signer for the Ed25519 or ECDSA P-256 PEM private key at ``path``.

    An encrypted key's password is read from :data:`PASSWORD_ENV`. No message ever holds the
    key's content or the password.

    Raises
    ------
    SigningKeyMissingError
        When ``path`` names no file.
    SigningError
        When the file cannot be read, is not a PEM private key, needs another password, or
        holds a key of another type.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    path = Path(path)
    data = _read_key_file(path)
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = load_pem_private_key(data, password.encode() if password else None)
    except TypeError as err:  # encrypted without a password, or a password for a plain key
        needs = "is encrypted: set its password in" if not password else "is not encrypted: unset"
        raise SigningError(f"The signing key {str(path)!r} {needs} {PASSWORD_ENV}.") from err
    except (ValueError, UnsupportedAlgorithm) as err:  # the library's text is not shown
        raise SigningError(
            f"The signing key {str(path)!r} must be a PEM private key (Ed25519 or ECDSA P-256) "
            "that the given password opens. It could not be loaded: not a PEM private key, "
            "or a wrong password."
        ) from err
    p256 = isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    if not (p256 or isinstance(key, ed25519.Ed25519PrivateKey)):
        raise SigningError(
            f"The signing key {str(path)!r} must be an Ed25519 or ECDSA P-256 key. Got a "
            f"{type(key).__name__.lstrip('_')} instead."
        )
    return CryptoSigner(key)


def _subjects(doc: dict[str, Any], files: dict[str, Path]) -> list[dict[str, Any]]:
    """What the audit is about: the model's files, else its digest, else the decision log."""
    model, prov = doc.get("model") or {}, doc.get("provenance") or {}
    uri = model.get("uri")
    signed = model.get("signature") or {}
    whole_files = (signed.get("serialization") or {}).get("method") == "files"
    if signed.get("verified") and whole_files and signed.get("algorithm") == "sha256":
        return [{"name": f["name"], "digest": {"sha256": f["digest"]}} for f in signed["files"]]
    if model.get("kind") in _FILE_MODELS and uri and Path(uri).is_file():
        return [{"name": Path(uri).name, "digest": {"sha256": file_sha256(uri)}}]
    if prov.get("model_sha256"):
        return [{"name": str(uri or model.get("kind")), "digest": {"sha256": prov["model_sha256"]}}]
    if prov.get("data_sha256"):  # a decision log: the decisions audited are the data
        name = Path(str((doc.get("data") or {}).get("path") or "data")).name
        return [{"name": name, "digest": {"sha256": prov["data_sha256"]}}]
    return [{"name": "results.json", "digest": {"sha256": file_sha256(files["results.json"])}}]


def statement(doc: dict[str, Any], files: dict[str, Path]) -> dict[str, Any]:
    """The in-toto Statement (v1) about the audit whose evidence files are ``files``.

    Validated with the ``in-toto-attestation`` library; returned as its JSON form (numbers
    kept as written: the library's protobuf Struct would turn every integer into a float).
    """
    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import STATEMENT_TYPE_URI, Statement

    prov = doc.get("provenance") or {}
    spec = doc.get("spec") or {}
    predicate = {
        "audit_id": (doc.get("run") or {}).get("audit_id"),
        "verdict": doc.get("verdict"),
        "exit_code": doc.get("exit_code"),
        "spec": {
            "name": spec.get("name"),
            "policy": spec.get("policy"),
            "sha256": prov.get("spec_sha256"),
        },
        # The policies applied: name, version and content hash (what exactly was enforced).
        "policies": prov.get("policies") or [],
        "data": {
            "path": (doc.get("data") or {}).get("path"),
            "sha256": prov.get("data_sha256"),
            "sha256_covers": prov.get("data_sha256_covers"),
        },
        "model": {
            "kind": (doc.get("model") or {}).get("kind"),
            "uri": (doc.get("model") or {}).get("uri"),
            "sha256": prov.get("model_sha256"),
            "signature": (doc.get("model") or {}).get("signature"),
        },
        "seed": prov.get("seed"),
        "checks": [
            {"name": c.get("name"), "status": c.get("status"), "value": c.get("value")}
            for c in doc.get("checks", [])
        ],
        "fairgate_version": prov.get("fairgate_version"),
        "git_commit": prov.get("git_commit"),
        "evidence": {name: {"sha256": file_sha256(path)} for name, path in sorted(files.items())},
        "signed_at": utc_now(),
    }
    subjects = [ResourceDescriptor(**s).pb for s in _subjects(doc, files)]
    built = Statement(subjects, PREDICATE_TYPE, predicate)
    built.validate()
    return {
        "_type": STATEMENT_TYPE_URI,
        "subject": [json_format.MessageToDict(s) for s in built.pb.subject],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def attest(doc: dict[str, Any], files: dict[str, Path], *, signer: Any) -> bytes:
    """The DSSE envelope (one JSON line) of the audit's statement, signed by ``signer``.

    Raises
    ------
    SigningError
        When signing fails.
    """
    from securesystemslib.dsse import Envelope

    payload = json.dumps(statement(doc, files), sort_keys=True, separators=(",", ":"))
    envelope = Envelope(payload.encode("utf-8"), PAYLOAD_TYPE, {})
    try:
        envelope.sign(signer)
    except Exception as err:  # the library's text is not shown: it might name key details
        raise SigningError(f"The audit could not be signed ({type(err).__name__}).") from err
    return (json.dumps(envelope.to_dict(), sort_keys=True) + "\n").encode("utf-8")
