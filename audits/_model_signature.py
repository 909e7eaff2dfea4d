"""Signed models: an OpenSSF ``model-signing`` signature, verified before the model loads.

A model's files (one file, or every file of a folder) are signed with the ``model_signing``
library's key method: a Sigstore bundle holding a DSSE envelope over an in-toto statement
whose predicate lists each file's digest, signed with an ECDSA private key (P-256, P-384 or
P-521). :func:`verify_model_signature` checks that bundle against the public key the spec
trusts and re-hashes the files; only then does the runner load the model. Anything that goes
wrong (no signature file, an unreadable key, another key, a changed byte, a file the signature
does not cover) raises :class:`ModelSignatureError`: the audit stops with the ``error``
verdict and the model is never opened.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ModelSignatureError",
    "VerifiedModel",
    "file_digests",
    "model_files",
    "sign_model",
    "verify_model_signature",
]

#: The environment variable holding the password of an encrypted model-signing key.
PASSWORD_ENV = "FAIRGATE_SIGNING_KEY_PASSWORD"
_MAX_SIGNATURE_BYTES = 64 * 1024 * 1024


class ModelSignatureError(RuntimeError):
    """The model's signature is missing, unreadable or does not match: never load it."""


@dataclass(frozen=True)
class VerifiedModel:
    """What a verified signature proved: these files, signed by the key with this digest.

    Attributes
    ----------
    path : str
        The model file or folder that was verified (and must be the one loaded).
    signature_path, signature_sha256 : str
        The signature file and the sha256 of its bytes.
    public_key_path, public_key_sha256 : str
        The trusted public key and its fingerprint: the sha256 of its DER SubjectPublicKeyInfo
        (``openssl pkey -pubin -in KEY -outform DER | sha256sum``).
    files : dict of str to str
        Each covered file's name (relative to the folder; the file's own name for a single
        file) → its digest, as the signature states them.
    algorithm : str
        The files' hash algorithm (``sha256`` by default).
    serialization : dict
        How ``model_signing`` hashed the model (method, hash type, ignored paths).
    """

    path: str
    signature_path: str
    signature_sha256: str
    public_key_path: str
    public_key_sha256: str
    files: dict[str, str]
    algorithm: str
    serialization: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """The results document's ``model.signature`` block (no time, so reproducible)."""
        return {
            "verified": True,
            "method": "model_signing key (ECDSA)",
            "signature": {"path": self.signature_path, "sha256": self.signature_sha256},
            "public_key": {"path": self.public_key_path, "sha256": self.public_key_sha256},
            "algorithm": self.algorithm,
            "files": [{"name": n, "digest": d} for n, d in sorted(self.files.items())],
            "serialization": self.serialization,
        }


def _read(path: Path, what: str, *, limit: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError as err:
        raise ModelSignatureError(
            f"The model's {what} {str(path)!r} does not exist: the model is not loaded "
            "unsigned. Sign it with `fairgate sign-model` or fix model.signature."
        ) from err
    except OSError as err:
        raise ModelSignatureError(
            f"The model's {what} {str(path)!r} cannot be read ({err.strerror}): the model is "
            "not loaded."
        ) from err
    if len(data) > limit:
        raise ModelSignatureError(
            f"The model's {what} {str(path)!r} must be at most {limit:,} bytes. Got a larger "
            "file instead."
        )
    return data


def _public_key_sha256(pem: bytes, path: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    try:
        key = load_pem_public_key(pem)
    except Exception as err:  # ValueError, UnsupportedAlgorithm: the text is not shown
        raise ModelSignatureError(
            f"The model's public key {str(path)!r} must be a PEM public key. Got a file that "
            "is not one instead."
        ) from err
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ModelSignatureError(
            f"The model's public key {str(path)!r} must be an ECDSA key (P-256, P-384 or "
            f"P-521; model_signing's key method). Got a {type(key).__name__.lstrip('_')} instead."
        )
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _statement(bundle: bytes) -> dict[str, Any]:
    """The in-toto statement inside a (verified) Sigstore bundle."""
    envelope = json.loads(bundle)["dsseEnvelope"]
    return json.loads(base64.b64decode(envelope["payload"]))


def _covered(statement: dict[str, Any], model: Path) -> tuple[dict[str, str], str]:
    resources = statement["predicate"]["resources"]
    files = {(model.name if r["name"] == "." else r["name"]): r["digest"] for r in resources}
    algorithms = {r.get("algorithm", "") for r in resources}
    return files, ",".join(sorted(algorithms))


def _ignored(model: Path, signature: Path) -> list[str]:
    """The signature file itself, when it lies inside the model's folder."""
    if not model.is_dir():
        return []
    try:
        return [str(signature.resolve().relative_to(model.resolve()))]
    except ValueError:
        return []


def model_files(path: str | Path) -> list[str]:
    """The names of a model's files as ``model_signing`` names them (the file's own name for a
    single file, paths relative to the folder otherwise)."""
    path = Path(path)
    if path.is_file():
        return [path.name]
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def file_digests(path: str | Path, serialization: dict[str, Any]) -> dict[str, str]:
    """Each file's digest under ``path``, hashed as a signature's ``serialization`` says
    (the ``serialization`` of a :class:`VerifiedModel`), named as in :attr:`VerifiedModel.files`.

    Raises
    ------
    ModelSignatureError
        When the serialization is not one ``model_signing`` knows, or the files cannot be read.
    """
    from model_signing import hashing

    path = Path(path)
    method, args = serialization.get("method"), serialization
    ignored = list(args.get("ignore_paths") or ())
    try:
        config = hashing.Config().set_ignored_paths(paths=ignored, ignore_git_paths=False)
        if method == "files":
            config.use_file_serialization(
                hashing_algorithm=args["hash_type"], allow_symlinks=args["allow_symlinks"]
            )
        elif method == "shards":
            config.use_shard_serialization(
                hashing_algorithm=args["hash_type"],
                shard_size=args["shard_size"],
                allow_symlinks=args["allow_symlinks"],
            )
        else:
            raise ValueError(f"unknown serialization method {method!r}")
        manifest = config.hash(path)
    except Exception as err:
        raise ModelSignatureError(
            f"The files of {str(path)!r} cannot be hashed as signed: {type(err).__name__}: "
            f"{_short(err)}"
        ) from err
    return {
        (path.name if rd.identifier == "." else rd.identifier): rd.digest.digest_hex
        for rd in manifest.resource_descriptors()
    }


def verify_model_signature(
    *, model: str | Path, signature: str | Path, public_key: str | Path
) -> VerifiedModel:
    """Verify ``model`` (a file or folder) against its ``model_signing`` ``signature``.

    Parameters
    ----------
    model : str or Path
        The model file, or the folder of its files.
    signature : str or Path
        The Sigstore bundle written by ``model_signing`` (``fairgate sign-model``).
    public_key : str or Path
        The PEM public key to trust (ECDSA P-256, P-384 or P-521).

    Returns
    -------
    VerifiedModel
        What was verified: the files, their digests, the signature's and the key's digests.

    Raises
    ------
    ModelSignatureError
        When the signature or key is missing or unreadable, the signature was made by another
        key, a file differs from the signed one, a file is missing, or a file is present that
        the signature does not cover. The message names what did not match.
    """
    from model_signing import verifying

    model, signature, public_key = Path(model), Path(signature), Path(public_key)
    if not model.exists():
        raise ModelSignatureError(f"The model {str(model)!r} to verify does not exist.")
    bundle = _read(signature, "signature file", limit=_MAX_SIGNATURE_BYTES)
    key_sha = _public_key_sha256(_read(public_key, "public key", limit=64 * 1024), public_key)
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=public_key).verify(model, signature)
    except Exception as err:  # every failure of the library is a refusal
        raise ModelSignatureError(
            f"The model {str(model)!r} does not match its signature {str(signature)!r} under "
            f"the public key {str(public_key)!r} (sha256 {key_sha}): "
            f"{_why(err, bundle, model)}. The model is not loaded."
        ) from err
    statement = _statement(bundle)
    files, algorithm = _covered(statement, model)
    skip = set(_ignored(model, signature))
    uncovered = sorted(set(model_files(model)) - set(files) - skip)
    if uncovered:  # files the signer chose to ignore would still be loaded: refuse
        raise ModelSignatureError(
            f"The model {str(model)!r} holds files its signature does not cover: "
            f"{', '.join(uncovered[:5])}. The model is not loaded."
        )
    return VerifiedModel(
        path=str(model),
        signature_path=str(signature),
        signature_sha256=hashlib.sha256(bundle).hexdigest(),
        public_key_path=str(public_key),
        public_key_sha256=key_sha,
        files=files,
        algorithm=algorithm,
        serialization={
            k: sorted(v) if isinstance(v, list) else v
            for k, v in sorted(statement["predicate"].get("serialization", {}).items())
        },
    )


def _why(err: BaseException, bundle: bytes, model: Path) -> str:
    """The library's reason, with the files that differ named with hex digests."""
    if not str(err).startswith("Signature mismatch"):
        return f"{type(err).__name__}: {_short(err)}"
    try:  # the statement's signature verified; only the files differ
        statement = _statement(bundle)
        signed, _ = _covered(statement, model)
        now = file_digests(model, statement["predicate"]["serialization"])
    except Exception:  # the library's own text then
        return f"{type(err).__name__}: {_short(err)}"
    parts = []
    for name in sorted(signed.keys() | now.keys()):
        if name not in now:
            parts.append(f"{name} is missing")
        elif name not in signed:
            parts.append(f"{name} is not signed")
        elif now[name] != signed[name]:
            parts.append(f"{name} has digest {now[name][:16]}…, signed {signed[name][:16]}…")
    return "the files differ from the signed ones: " + "; ".join(parts[:5])


def _short(err: BaseException) -> str:
    text = str(err).strip().rstrip(".").strip() or type(err).__name__
    return text if len(text) <= 600 else text[:600] + "…"


def sign_model(
    *, model: str | Path, private_key: str | Path, signature: str | Path
) -> VerifiedModel:
    """Sign ``model`` (a file or folder) with an ECDSA PEM ``private_key``; write ``signature``.

    The private key is only read (its password, if any, from ``FAIRGATE_SIGNING_KEY_PASSWORD``).
    A signature file inside the model's folder is left out of what is signed.

    Returns
    -------
    VerifiedModel
        The new signature, verified with the key's own public half.

    Raises
    ------
    ModelSignatureError
        When the key cannot be read or is not an ECDSA key, or signing fails.
    """
    import tempfile

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_private_key,
    )
    from model_signing import hashing, signing

    model, private_key, signature = Path(model), Path(private_key), Path(signature)
    if not model.exists():
        raise ModelSignatureError(f"The model {str(model)!r} to sign does not exist.")
    pem = _read(private_key, "signing key", limit=64 * 1024)
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = load_pem_private_key(pem, password.encode() if password else None)
    except Exception as err:  # the key's content and the password are never shown
        raise ModelSignatureError(
            f"The signing key {str(private_key)!r} must be a PEM private key that "
            f"{PASSWORD_ENV} opens (if it is encrypted). It could not be loaded."
        ) from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ModelSignatureError(
            f"The signing key {str(private_key)!r} must be an ECDSA key (P-256, P-384 or "
            f"P-521; model_signing's key method). Got a {type(key).__name__.lstrip('_')} instead."
        )
    ignored = _ignored(model, signature)
    config = hashing.Config().set_ignored_paths(paths=ignored, ignore_git_paths=True)
    try:
        signing.Config().use_elliptic_key_signer(
            private_key=private_key, password=password
        ).set_hashing_config(config).sign(model, signature)
    except Exception as err:
        raise ModelSignatureError(
            f"The model {str(model)!r} could not be signed ({type(err).__name__})."
        ) from err
    with tempfile.TemporaryDirectory(prefix="fairgate-key-") as tmp:
        public = Path(tmp) / "public.pem"
        public.write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        verified = verify_model_signature(model=model, signature=signature, public_key=public)
    return VerifiedModel(**{**verified.__dict__, "public_key_path": ""})
