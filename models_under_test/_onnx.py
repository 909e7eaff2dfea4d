"""The ``onnx`` model kind: a model exported to ONNX, run with onnxruntime.

ONNX is a safe format to ship a model in (no code runs when it is opened). Inputs are fed as
float32; an input of rank 2 receives each row flattened. The model's first output holds the
decisions; a second output, when it holds class probabilities, gives ``predict_proba``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._adapters import ModelLoadError, PredictionError, file_sha256

__all__ = ["OnnxAdapter", "load_onnx"]


@dataclass
class OnnxAdapter:
    """A model run by onnxruntime (CPU)."""

    uri: str
    session: Any = field(repr=False)
    content_hash: str | None = None
    kind: str = "onnx"
    decision_column: str | None = None
    #: The model's own preprocessing (e.g. audio features) applied to each batch first.
    preprocess: Any = field(default=None, repr=False)

    @property
    def _input(self):
        return self.session.get_inputs()[0]

    @property
    def has_proba(self) -> bool:
        return len(self.session.get_outputs()) > 1

    @property
    def classes(self) -> list[Any] | None:
        return None

    def _feed(self, batch: Any) -> dict[str, np.ndarray]:
        if self.preprocess is not None:
            batch = self.preprocess(batch)
        arr = np.asarray(batch, dtype=np.float32)
        if len(self._input.shape) == 2 and arr.ndim > 2:
            arr = arr.reshape(len(arr), -1)
        return {self._input.name: arr}

    def _run(self, batch: Any) -> list[Any]:
        try:
            return self.session.run(None, self._feed(batch))
        except Exception as err:
            raise PredictionError(f"The ONNX model {self.uri!r} failed: {err}") from err

    def predict(self, batch: Any) -> np.ndarray:
        out = self._run(batch)[0]
        return np.asarray(out).reshape(-1)

    def predict_proba(self, batch: Any) -> np.ndarray:
        if not self.has_proba:
            raise PredictionError(f"The ONNX model {self.uri!r} has no probability output.")
        proba = self._run(batch)[1]
        if isinstance(proba, list):  # skl2onnx's ZipMap: one dict per row
            keys = sorted(proba[0])
            return np.array([[row[k] for k in keys] for row in proba], dtype=float)
        return np.asarray(proba, dtype=float)


def load_onnx(
    *, uri: str, sha256: str | None = None, preprocess: str | None = None, **_: Any
) -> OnnxAdapter:
    """Open an ONNX file (checking its pinned ``sha256`` when given) on the CPU.

    ``preprocess`` names a ``module:function`` applied to every batch before the model (the
    model's feature extraction); its source file is part of the content hash.
    """
    import hashlib
    import importlib

    import onnxruntime as ort

    path = Path(uri).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"The ONNX file {uri!r} does not exist.")
    digest = file_sha256(path)
    if sha256 and sha256 != digest:
        raise ModelLoadError(f"The ONNX file {uri!r} has sha256 {digest}, not the pinned {sha256}.")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:
        raise ModelLoadError(f"The ONNX file {uri!r} cannot be loaded: {err}") from err
    step = None
    if preprocess:
        module_name, _, name = preprocess.partition(":")
        try:
            module = importlib.import_module(module_name)
            step = getattr(module, name)
        except (ImportError, AttributeError) as err:
            raise ModelLoadError(
                f"The preprocessing {preprocess!r} cannot be imported: {err}"
            ) from err
        digest = hashlib.sha256(f"{digest}|{file_sha256(module.__file__)}".encode()).hexdigest()
    return OnnxAdapter(uri=uri, session=session, content_hash=digest, preprocess=step)
