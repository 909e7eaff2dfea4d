"""Models under test: adapters for every model kind, and the reference government models.

This package knows no metric, spec or report. :func:`load_model` returns a
:class:`ModelAdapter` for a model kind registered in :data:`MODEL_LOADERS`.
"""

from ._adapters import (
    MODELS_URI,
    DecisionLogAdapter,
    EstimatorAdapter,
    ModelAdapter,
    ModelLoadError,
    PredictionError,
    UntrustedModelError,
    file_sha256,
)
from ._media import MediaBatches, MediaError, load_audio, load_image, survey_media
from ._mlflow_model import download_mlflow_model
from ._onnx import OnnxAdapter
from ._perturbations import (
    PERTURBATION_KINDS,
    PERTURBATION_PARAMS,
    PERTURBATIONS,
    input_change,
    perturb,
)
from ._registry import MODEL_LOADERS, load_model
from ._rest import RestAdapter
from ._urls import MASK, public_uri, scrub, url_secrets

__all__ = [
    "MASK",
    "MODELS_URI",
    "MODEL_LOADERS",
    "PERTURBATIONS",
    "PERTURBATION_KINDS",
    "PERTURBATION_PARAMS",
    "DecisionLogAdapter",
    "EstimatorAdapter",
    "MediaBatches",
    "MediaError",
    "ModelAdapter",
    "ModelLoadError",
    "OnnxAdapter",
    "PredictionError",
    "RestAdapter",
    "UntrustedModelError",
    "download_mlflow_model",
    "file_sha256",
    "input_change",
    "load_audio",
    "load_image",
    "load_model",
    "perturb",
    "public_uri",
    "scrub",
    "survey_media",
    "url_secrets",
]
