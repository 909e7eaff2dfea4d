"""The explicit registry of model kinds: spec ``model.kind`` → loader."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._adapters import ModelAdapter, load_predictions, load_python, load_sklearn
from ._mlflow_model import load_mlflow
from ._onnx import load_onnx
from ._rest import load_rest

__all__ = ["MODEL_LOADERS", "load_model"]

MODEL_LOADERS: dict[str, Callable[..., ModelAdapter]] = {
    "sklearn": load_sklearn,
    "mlflow": load_mlflow,
    "python": load_python,
    "predictions": load_predictions,
    "rest": load_rest,
    "onnx": load_onnx,
}


def load_model(kind: str, **params: Any) -> ModelAdapter:
    """Load a model of ``kind`` (a key of :data:`MODEL_LOADERS`) with its parameters."""
    if kind not in MODEL_LOADERS:
        raise ValueError(
            f"The 'kind' parameter must be one of {sorted(MODEL_LOADERS)}. Got {kind!r} instead."
        )
    return MODEL_LOADERS[kind](**params)
