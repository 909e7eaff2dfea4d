"""Signing a model's files with OpenSSF ``model_signing`` (``fairgate sign-model``).

The key method signs with an ECDSA private key (P-256, P-384 or P-521) whose public half the
audit spec trusts; the certificate method adds the signing certificate (and its chain) to the
signature, and the spec trusts the root certificates instead. The private key is only read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ._model_signature import (
    PASSWORD_ENV,
    ModelSignatureError,
    VerifiedModel,
    _ignored,
    _read,
    verify_model_signature,
)

__all__ = ["sign_model"]


def _private_key(path: Path) -> tuple[object, str | None]:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = _read(path, "signing key", limit=64 * 1024)
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = load_pem_private_key(pem, password.encode() if password else None)
    except Exception as err:  # the key's content and the password are never shown
        raise ModelSignatureError(
            f"The signing key {str(path)!r} must be a PEM private key that {PASSWORD_ENV} "
            "opens (if it is encrypted). It could not be loaded."
        ) from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ModelSignatureError(
            f"The signing key {str(path)!r} must be an ECDSA key (P-256, P-384 or P-521; "
            f"model_signing's key method). Got a {type(key).__name__.lstrip('_')} instead."
        )
    return key, password


def _check_target(signature: Path, model: Path, private_key: Path) -> None:
    """Refuse to write the signature over the model, the key, or a file that is not an
    earlier signature (it would be lost)."""
    if signature.is_symlink() or (signature.exists() and not signature.is_file()):
        raise ModelSignatureError(
            f"The signature {str(signature)!r} must be written to a regular file. Got a link, "
            "folder or device instead."
        )
    if not signature.exists():
        return
    target = signature.resolve()
    if target in (model.resolve(), private_key.resolve()):
        raise ModelSignatureError(
            f"The signature {str(signature)!r} would overwrite the "
            f"{'model' if target == model.resolve() else 'key'} itself: name another file."
        )
    with signature.open("rb") as handle:
        head = handle.read(200)
    if b'"application/vnd.dev.sigstore.bundle' not in head:
        raise ModelSignatureError(
            f"The signature {str(signature)!r} exists and is not a signature: it is not "
            "overwritten. Name a new file (or remove it)."
        )


def sign_model(
    *,
    model: str | Path,
    private_key: str | Path,
    signature: str | Path,
    certificate: str | Path | None = None,
    certificate_chain: Sequence[str | Path] = (),
) -> VerifiedModel:
    """Sign ``model`` (a file or folder) with an ECDSA PEM ``private_key``; write ``signature``.

    Parameters
    ----------
    model : str or Path
        The model file, or the folder of its files (a signature inside it is not signed).
    private_key : str or Path
        The PEM private key (its password, if any, from ``FAIRGATE_SIGNING_KEY_PASSWORD``).
    signature : str or Path
        Where to write the signature (a Sigstore bundle).
    certificate : str or Path, optional
        The signing certificate (PEM) of ``private_key``: the certificate method.
    certificate_chain : sequence of str or Path, optional
        The certificates from ``certificate`` up to the root; with ``certificate``, the new
        signature is verified against them.

    Returns
    -------
    VerifiedModel
        The new signature, verified with the key's own public half (or the chain).

    Raises
    ------
    ModelSignatureError
        When the key cannot be read or is not an ECDSA key, the certificate is not the key's,
        or signing fails.
    """
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from model_signing import hashing, signing

    model, private_key, signature = Path(model), Path(private_key), Path(signature)
    if not model.exists():
        raise ModelSignatureError(f"The model {str(model)!r} to sign does not exist.")
    _check_target(signature, model, private_key)
    if certificate is not None and not certificate_chain:
        raise ModelSignatureError(
            "Signing with a certificate needs its chain up to the root (the roots the audit "
            "spec trusts). Got no certificate chain instead."
        )
    key, password = _private_key(private_key)
    config = signing.Config()
    if certificate is None:
        config.use_elliptic_key_signer(private_key=private_key, password=password)
    else:
        try:
            config.use_certificate_signer(
                private_key=private_key,
                signing_certificate=Path(certificate),
                certificate_chain=[Path(c) for c in certificate_chain],
            )
        except Exception as err:
            raise ModelSignatureError(
                f"The signing certificate {str(certificate)!r} cannot be used with the key "
                f"{str(private_key)!r}: {type(err).__name__}: {err}"
            ) from err
    hashing_config = hashing.Config().set_ignored_paths(
        paths=_ignored(model, signature), ignore_git_paths=True
    )
    try:
        config.set_hashing_config(hashing_config).sign(model, signature)
    except Exception as err:
        # The hashing library names a file it refuses (a symlink, a pipe); other errors may
        # come from the key and are not repeated.
        said = str(err).split(". This behavior")[0]
        why = f": {said}" if said.startswith("Cannot use ") else ""
        raise ModelSignatureError(
            f"The model {str(model)!r} could not be signed ({type(err).__name__}{why})."
            + (
                " Only regular files are signed: copy the file in place of the link."
                if "symlink" in why
                else ""
            )
        ) from err
    if certificate is not None:
        return verify_model_signature(
            model=model, signature=signature, certificate_chain=list(certificate_chain)
        )
    with tempfile.TemporaryDirectory(prefix="fairgate-key-") as tmp:
        public = Path(tmp) / "public.pem"
        public.write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
        )
        verified = verify_model_signature(model=model, signature=signature, public_key=public)
    return VerifiedModel(**{**verified.__dict__, "trust": {}})
