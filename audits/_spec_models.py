"""The spec's ``model`` section: one model per ``kind`` (a discriminated union), and the
signature a model's files may be verified against.

Re-exported by :mod:`audits._spec`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ._spec_base import LabelValue, ProbaClasses, _existing_file, _Strict

__all__ = [
    "MODEL_KINDS",
    "MlflowModel",
    "ModelSignature",
    "ModelSpec",
    "OnnxModel",
    "PredictionsModel",
    "PythonModel",
    "RestModel",
    "SklearnModel",
]

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_SHA256 = r"^[0-9a-f]{64}$"


class ModelSignature(_Strict):
    """An OpenSSF ``model-signing`` signature of the model's files and what to trust.

    The files are verified against ``path`` before the model is loaded, with ``public_key``
    (an ECDSA P-256/384/521 PEM public key) or ``certificate_chain`` (the PEM root and
    intermediate certificates the signing certificate must chain to): exactly one of the two.
    A missing, unreadable or failing signature stops the audit (exit 2). The files are
    checked when the audit runs, not here, so that a missing signature is an audit error,
    never a pass.
    """

    path: str
    public_key: str | None = None
    certificate_chain: Annotated[list[str], Field(min_length=1)] | None = None

    @field_validator("path", "public_key")
    @classmethod
    def _a_path(cls, v: str | None) -> str | None:
        if v is not None and ("-----BEGIN" in v or "\n" in v or not v.strip()):
            raise ValueError(
                "model.signature.path and model.signature.public_key must be file paths. "
                "Got a value that is not a path instead (not shown)."
            )
        return v

    @model_validator(mode="after")
    def _one_trust(self) -> ModelSignature:
        if (self.public_key is None) == (self.certificate_chain is None):
            raise ValueError(
                "model.signature needs exactly one of public_key or certificate_chain. Got "
                f"{'both' if self.public_key else 'neither'} instead."
            )
        return self


class SklearnModel(_Strict):
    """A scikit-learn model file: skops (safe), or pickle/joblib when trusted and pinned."""

    kind: Literal["sklearn"]
    uri: str
    trusted: bool = False
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    trusted_types: list[str] = Field(default_factory=list)
    #: Verify the model file's signature before loading it.
    signature: ModelSignature | None = None

    @field_validator("uri")
    @classmethod
    def _uri_exists(cls, v: str) -> str:
        return _existing_file(v, "model.uri")

    @model_validator(mode="after")
    def _pickle_needs_pin(self) -> SklearnModel:
        if self.uri.lower().endswith(_PICKLE_SUFFIXES) and not (self.trusted and self.sha256):
            raise ValueError(
                "model.uri names a pickle/joblib file, which runs code when opened: it is "
                "refused unless model.trusted is true and model.sha256 pins its content. "
                f"Got trusted={self.trusted}, sha256={self.sha256!r} instead."
            )
        return self


class MlflowModel(_Strict):
    """Any MLflow model URI (``models:/name@alias``, ``models:/name/3``, ``runs:/...``).

    A pickle-based flavour (scikit-learn saved with pickle or cloudpickle, a python_function
    with a cloudpickled model, model code) is loaded only with ``trusted: true`` and ``sha256``
    pinning the model's files; a skops scikit-learn model (with ``trusted_types``) or an ONNX
    model needs no pin.
    """

    kind: Literal["mlflow"]
    uri: str
    #: The tracking server resolving ``models:/`` URIs (default: the CLI's --tracking-uri).
    tracking_uri: str | None = None
    proba_classes: ProbaClasses | None = None
    trusted: bool = False
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    trusted_types: list[str] = Field(default_factory=list)
    #: Verify the downloaded model folder's signature before loading it.
    signature: ModelSignature | None = None

    @field_validator("uri")
    @classmethod
    def _no_credentials(cls, v: str) -> str:
        return uri_without_secrets(v, name="model.uri")


def uri_without_secrets(v: str, *, name: str) -> str:
    """``v``, a model's URI that every output shows, refused (ValueError, the URI not shown)
    when it holds credentials: ``user:password@host``, or a query string or fragment."""
    from urllib.parse import urlsplit

    from models_under_test import MASK, public_uri

    # models:/name@alias has no host part; u:pa/ss@host is shown as scheme://***
    if "@" in urlsplit(v).netloc or public_uri(v).endswith(f"://{MASK}"):
        raise ValueError(
            f"{name} must not hold credentials (user:password@host): every output shows "
            "the model's URI. Give them to MLflow in MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD. Got a URI with credentials instead (not shown)."
        )
    if "?" in v or "#" in v:  # a token in the query (?token=...) is a credential too
        raise ValueError(
            f"{name} must not hold a query string or fragment (?token=..., #...): every "
            "output shows the model's URI, and a token there is a credential. Give it to "
            "MLflow in MLFLOW_TRACKING_TOKEN. Got a URI with a query string or fragment "
            "instead (not shown)."
        )
    return v


class PythonModel(_Strict):
    """``module:function`` taking a feature DataFrame and returning decisions.

    The module is imported once, from the spec's folder or else the working directory (in
    that order, ahead of the installed packages). ``proba`` (``module:function``) returns one
    probability column per class; ``proba_classes`` names those classes in order (a function
    has no ``classes_``): without it the score and explainability checks are skipped, as the
    favourable class's column is unknown.
    """

    kind: Literal["python"]
    uri: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    proba: Annotated[str | None, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] = None
    proba_classes: ProbaClasses | None = None


class PredictionsModel(_Strict):
    """No model: the data's ``column`` holds the system's logged decisions."""

    kind: Literal["predictions"]
    column: str
    score_column: str | None = None
    #: The log's own decision codes → label values (e.g. ``{approved: ">50K"}``); a code not
    #: listed stops the audit.
    decision_values: Annotated[dict[LabelValue, LabelValue], Field(min_length=1)] | None = None


class OnnxModel(_Strict):
    """A model exported to ONNX, run with onnxruntime."""

    kind: Literal["onnx"]
    uri: str
    sha256: Annotated[str | None, Field(pattern=_SHA256)] = None
    #: ``module:function`` turning a batch of decoded inputs into the model's input.
    preprocess: Annotated[str | None, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] = None
    proba_classes: ProbaClasses | None = None
    #: Verify the ONNX file's signature before loading it.
    signature: ModelSignature | None = None

    @field_validator("uri")
    @classmethod
    def _uri_exists(cls, v: str) -> str:
        return _existing_file(v, "model.uri")


class RestModel(_Strict):
    """A deployed model behind HTTP: MLflow's scoring protocol or KServe v2."""

    kind: Literal["rest"]
    url: str
    protocol: Literal["mlflow", "kserve"] = "mlflow"
    model_name: str | None = None
    batch_size: Annotated[int, Field(ge=1)] = 1000
    #: Bounded so that a spec cannot make an audit hang (seconds).
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0, le=30)] = 0.5
    rate_limit_per_s: Annotated[float, Field(ge=0.01)] | None = None
    #: HTTP header → name of the environment variable holding its value (never the value).
    headers_from_env: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, v: str) -> str:
        if not re.match(r"^https?://", v):
            from models_under_test import public_uri  # a query string may hold a key

            raise ValueError(
                f"model.url must start with http:// or https://. Got {public_uri(v)!r} instead."
            )
        if "@" in v.split("//", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "model.url must not hold credentials (user:password@host): put them in a "
                "header with headers_from_env. Got a URL with credentials instead (not shown)."
            )
        return v


ModelSpec = Annotated[
    SklearnModel | MlflowModel | PythonModel | PredictionsModel | RestModel | OnnxModel,
    Field(discriminator="kind"),
]
MODEL_KINDS = ("sklearn", "mlflow", "python", "predictions", "rest", "onnx")
