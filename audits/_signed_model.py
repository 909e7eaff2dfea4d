"""The audit's side of signed models: verify the spec's model before the load stage, check
the loaded file, and say in the results document what was verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._model_signature import ModelSignatureError, VerifiedModel, verify_model_signature

__all__ = ["check_loaded", "signature_block", "verify_spec_model"]


def verify_spec_model(
    model: Any, *, tracking_uri: str | None, show: bool, into: Path | None = None
) -> VerifiedModel:
    """Verify the files of the spec's ``model`` against its ``signature``; load nothing.

    A ``models:/`` or ``runs:/`` URI is downloaded first (into ``into``, the audit's scratch
    folder); the folder verified (:attr:`VerifiedModel.path`) is the one the load stage must
    open.

    Raises
    ------
    ModelSignatureError
        When the model cannot be downloaded or does not verify.
    """
    signature, where = model.signature, model.uri
    if model.kind == "mlflow" and not Path(where).expanduser().exists():
        from models_under_test import download_mlflow_model

        try:
            where = download_mlflow_model(
                where, model.tracking_uri or tracking_uri, progress=show, into=into
            )
        except Exception as err:
            raise ModelSignatureError(
                f"The MLflow model {model.uri!r} could not be downloaded to verify its "
                f"signature: {type(err).__name__}: {err}"
            ) from err
    return verify_model_signature(
        model=Path(where).expanduser(),
        signature=Path(signature.path).expanduser(),
        public_key=Path(signature.public_key).expanduser() if signature.public_key else None,
        certificate_chain=[Path(c).expanduser() for c in signature.certificate_chain or ()],
    )


def check_loaded(adapter: Any, signed: VerifiedModel, *, preprocess: str | None) -> None:
    """Raise :class:`ModelSignatureError` when a single model file's hash, as its loader
    computed it, is not the signed one (the file changed between verifying and loading)."""
    if not Path(signed.path).is_file() or signed.algorithm != "sha256" or preprocess:
        return  # a folder, another hash, or an ONNX hash that mixes in the preprocess module
    loaded, expected = adapter.content_hash, next(iter(signed.files.values()))
    if loaded != expected:
        raise ModelSignatureError(
            f"The model file {signed.path!r} changed while it was loaded (sha256 {loaded}, "
            f"signed {expected})."
        )


def signature_block(model: Any, signed: VerifiedModel | None) -> dict[str, Any] | None:
    """The results document's ``model.signature``: what the signature proved; ``verified:
    false`` when the spec names one that was not verified (the audit's errors say why);
    ``None`` when the spec names none."""
    asked = getattr(model, "signature", None)
    if signed is not None:
        return signed.record()
    if asked is None:
        return None
    trusted = (
        {"public_key": {"path": asked.public_key}}
        if asked.public_key
        else {"certificate_chain": [{"path": c} for c in asked.certificate_chain]}
    )
    return {"verified": False, "signature": {"path": asked.path}, **trusted}
