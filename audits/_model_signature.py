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
import contextlib
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PASSWORD_ENV",
    "ModelSignatureError",
    "VerifiedModel",
    "file_digests",
    "model_files",
    "verify_model_signature",
]

#: The environment variable holding the password of an encrypted model-signing key.
PASSWORD_ENV = "FAIRGATE_SIGNING_KEY_PASSWORD"
_MAX_SIGNATURE_BYTES = 64 * 1024 * 1024


class ModelSignatureError(RuntimeError):
    """The model's signature is missing, unreadable or does not match: never load it."""


@dataclass(frozen=True)
class VerifiedModel:
    """What a verified signature proved: these files, signed by this key or certificate.

    Attributes
    ----------
    path : str
        The model file or folder that was verified (and must be the one loaded).
    signature_path, signature_sha256 : str
        The signature file and the sha256 of its bytes.
    method : str
        ``key`` (a trusted public key) or ``certificate`` (a certificate chaining to trusted
        roots).
    public_key_sha256 : str
        The signer's key fingerprint: the sha256 of its DER SubjectPublicKeyInfo
        (``openssl pkey -pubin -in KEY -outform DER | sha256sum``).
    trust : dict
        What was trusted: ``public_key`` (path, sha256), or ``certificate`` (the signer's:
        sha256 of its DER, subject, key sha256) and ``certificate_chain`` (each root's path and
        sha256).
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
    method: str
    public_key_sha256: str
    trust: dict[str, Any]
    files: dict[str, str]
    algorithm: str
    serialization: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """The results document's ``model.signature`` block (no time, so reproducible)."""
        return {
            "verified": True,
            "method": f"model_signing {self.method}",
            "signature": {"path": self.signature_path, "sha256": self.signature_sha256},
            **self.trust,
            "algorithm": self.algorithm,
            "files": [{"name": n, "digest": d} for n, d in sorted(self.files.items())],
            "serialization": self.serialization,
        }


def _read(path: Path, what: str, *, limit: int) -> bytes:
    if path.exists() and not path.is_file():  # a folder, a pipe or a device: never read
        raise ModelSignatureError(
            f"The model's {what} {str(path)!r} must be a regular file. Got a folder, pipe or "
            "device instead: the model is not loaded."
        )
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
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

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
    return _spki_sha256(key)


def _spki_sha256(key: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return hashlib.sha256(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).hexdigest()


def _roots(paths: list[Path]) -> list[dict[str, Any]]:
    """Each trusted root certificate file's path and the sha256 of each certificate's DER."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    roots = []
    for path in paths:
        try:
            certs = x509.load_pem_x509_certificates(_read(path, "certificate", limit=1 << 20))
        except ModelSignatureError:
            raise
        except Exception as err:
            raise ModelSignatureError(
                f"The model's certificate chain file {str(path)!r} must hold PEM certificates. "
                "Got a file that does not instead."
            ) from err
        digests = [hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in certs]
        roots.append({"path": str(path), "sha256": digests})
    return roots


def _signing_certificate(bundle: bytes) -> dict[str, Any]:
    """The (verified) signing certificate inside a bundle: its digest, subject and key."""
    from cryptography import x509

    material = json.loads(bundle)["verificationMaterial"]["x509CertificateChain"]
    der = base64.b64decode(material["certificates"][0]["rawBytes"])
    cert = x509.load_der_x509_certificate(der)
    return {
        "sha256": hashlib.sha256(der).hexdigest(),
        "subject": cert.subject.rfc4514_string(),
        "public_key_sha256": _spki_sha256(cert.public_key()),
    }


def _statement(bundle: bytes) -> dict[str, Any]:
    """The in-toto statement inside a (verified) Sigstore bundle."""
    envelope = json.loads(bundle)["dsseEnvelope"]
    return json.loads(base64.b64decode(envelope["payload"]))


def _named(identifier: str, model: Path) -> str:
    """A resource's name: a single file's ``.`` (or ``.:start:end`` shard) gets its name."""
    if identifier == "." or identifier.startswith(".:"):
        return model.name + identifier[1:]
    return identifier


def _covered(statement: dict[str, Any], model: Path) -> tuple[dict[str, str], str]:
    resources = statement["predicate"]["resources"]
    files = {_named(r["name"], model): r["digest"] for r in resources}
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
        _named(rd.identifier, path): rd.digest.digest_hex for rd in manifest.resource_descriptors()
    }


def verify_model_signature(
    *,
    model: str | Path,
    signature: str | Path,
    public_key: str | Path | None = None,
    certificate_chain: list[str | Path] | tuple[str | Path, ...] = (),
) -> VerifiedModel:
    """Verify ``model`` (a file or folder) against its ``model_signing`` ``signature``.

    Parameters
    ----------
    model : str or Path
        The model file, or the folder of its files.
    signature : str or Path
        The Sigstore bundle written by ``model_signing`` (``fairgate sign-model``).
    public_key : str or Path, optional
        The PEM public key to trust (ECDSA P-256, P-384 or P-521).
    certificate_chain : list of str or Path, optional
        Instead of ``public_key``: the PEM root (and intermediate) certificates the signing
        certificate must chain to (never the system's web roots).

    Returns
    -------
    VerifiedModel
        What was verified: the files, their digests, the signature's and the signer's digests.

    Raises
    ------
    ModelSignatureError
        When the signature, key or certificates are missing or unreadable, the signature was
        made by another key or a certificate that does not chain to the roots, a file differs
        from the signed one, a file is missing, or a file is present that the signature does
        not cover. The message names what did not match.
    """
    from model_signing import verifying

    model, signature = Path(model), Path(signature)
    chain = [Path(c) for c in certificate_chain]
    if (public_key is None) == (not chain):
        raise ModelSignatureError(
            "A model signature is verified with either a public key or a certificate chain. "
            f"Got {'both' if chain else 'neither'} instead."
        )
    if not model.exists():
        raise ModelSignatureError(f"The model {str(model)!r} to verify does not exist.")
    bundle = _read(signature, "signature file", limit=_MAX_SIGNATURE_BYTES)
    if public_key is not None:
        public_key = Path(public_key)
        key_sha = _public_key_sha256(_read(public_key, "public key", limit=64 * 1024), public_key)
        config = verifying.Config().use_elliptic_key_verifier(public_key=public_key)
        trusted = f"the public key {str(public_key)!r} (sha256 {key_sha})"
        trust: dict[str, Any] = {"public_key": {"path": str(public_key), "sha256": key_sha}}
    else:
        roots = _roots(chain)
        config = verifying.Config().use_certificate_verifier(certificate_chain=chain)
        trusted = f"the certificate chain {', '.join(repr(str(c)) for c in chain)}"
        trust = {"certificate_chain": roots}
    try:  # the library prints its warnings: never into fairgate's output on stdout
        with contextlib.redirect_stdout(sys.stderr):
            config.verify(model, signature)
    except Exception as err:  # every failure of the library is a refusal
        raise ModelSignatureError(
            f"The model {str(model)!r} does not match its signature {str(signature)!r} under "
            f"{trusted}: {_why(err, bundle, model)}. The model is not loaded."
        ) from err
    if chain:
        certificate = _signing_certificate(bundle)
        trust = {"certificate": certificate, **trust}
        key_sha = certificate["public_key_sha256"]
    statement = _statement(bundle)
    files, algorithm = _covered(statement, model)
    skip = set(_ignored(model, signature))
    shards = statement["predicate"].get("serialization", {}).get("method") == "shards"
    names = {n.rsplit(":", 2)[0] for n in files} if shards else set(files)
    uncovered = sorted(set(model_files(model)) - names - skip)
    if uncovered:  # files the signer chose to ignore would still be loaded: refuse
        raise ModelSignatureError(
            f"The model {str(model)!r} holds files its signature does not cover: "
            f"{', '.join(uncovered[:5])}. The model is not loaded."
        )
    return VerifiedModel(
        path=str(model),
        signature_path=str(signature),
        signature_sha256=hashlib.sha256(bundle).hexdigest(),
        method="certificate" if chain else "key",
        public_key_sha256=key_sha,
        trust=trust,
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
