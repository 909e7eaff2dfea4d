"""The ``onnx`` model kind: a model exported to ONNX, run with onnxruntime.

ONNX is a safe format to ship a model in (no code runs when it is opened). Inputs are fed as
float32; an input of rank 2 receives each row flattened. The model's first output holds the
decisions; a second output, when it holds class probabilities, gives ``predict_proba``.

The probability columns' classes are read from the model itself: a ``classes`` metadata
entry (a JSON list), else the class labels of its ZipMap or ``*Classifier`` node (what
skl2onnx writes). When the model does not say, ``proba_classes`` (from the spec) does; when
neither does, ``classes`` is ``None`` and no probability column is guessed.
"""

from __future__ import annotations

import json
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
    #: The classes of the probability columns, in column order (``None``: not known).
    proba_classes: list[Any] | None = None

    @property
    def _input(self):
        return self.session.get_inputs()[0]

    @property
    def has_proba(self) -> bool:
        return len(self.session.get_outputs()) > 1

    @property
    def classes(self) -> list[Any] | None:
        return None if self.proba_classes is None else list(self.proba_classes)

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
        if isinstance(proba, list):  # skl2onnx's ZipMap: one dict per row, keyed by class
            if not proba:
                return np.zeros((0, len(self.proba_classes or ())), dtype=float)
            keys = list(self.proba_classes) if self.proba_classes else sorted(proba[0])
            if set(keys) != set(proba[0]):
                raise PredictionError(
                    f"The ONNX model {self.uri!r} gives probabilities of {sorted(proba[0])}, "
                    f"not of its classes {keys}."
                )
            return np.array([[row[k] for k in keys] for row in proba], dtype=float)
        return np.asarray(proba, dtype=float)


def _labels(node: Any) -> list[Any] | None:
    for attr in node.attribute:
        if attr.name == "classlabels_strings" and attr.strings:
            return [s.decode() for s in attr.strings]
        if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
            return [int(i) for i in attr.ints]
    return None


def model_classes(path: str | Path, session: Any) -> list[Any] | None:
    """The classes of an ONNX classifier's probability columns, in order, or ``None``.

    A ``classes`` metadata entry (JSON list) wins; else the class labels of the graph's ZipMap
    node (its keys are the columns), else of its one ``*Classifier`` node.
    """
    meta = session.get_modelmeta().custom_metadata_map
    if "classes" in meta:
        try:
            found = json.loads(meta["classes"])
        except ValueError as err:
            raise ModelLoadError(
                f"The ONNX file {str(path)!r} has a 'classes' metadata entry that is not a JSON "
                f"list: {meta['classes']!r}."
            ) from err
        if not isinstance(found, list):
            raise ModelLoadError(
                f"The ONNX file {str(path)!r} has a 'classes' metadata entry that is not a JSON "
                f"list: {meta['classes']!r}."
            )
        return found
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    zipmaps = [_labels(n) for n in graph.node if n.op_type == "ZipMap"]
    if len(zipmaps) == 1 and zipmaps[0]:
        return zipmaps[0]
    found = {
        tuple(labels)
        for n in graph.node
        if n.op_type.endswith("Classifier") and (labels := _labels(n))
    }
    return list(next(iter(found))) if len(found) == 1 else None


def load_onnx(
    *,
    uri: str,
    sha256: str | None = None,
    preprocess: str | None = None,
    proba_classes: list[Any] | None = None,
    **_: Any,
) -> OnnxAdapter:
    """Open an ONNX file (checking its pinned ``sha256`` when given) on the CPU.

    ``preprocess`` names a ``module:function`` applied to every batch before the model (the
    model's feature extraction); its source file is part of the content hash.
    ``proba_classes`` states the probability columns' classes when the model does not; when
    the model does and they differ, it is refused.
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
    classes = model_classes(path, session) if len(session.get_outputs()) > 1 else None
    if proba_classes is not None and classes is not None and list(proba_classes) != classes:
        raise ModelLoadError(
            f"model.proba_classes must match the classes the ONNX file {uri!r} declares, in "
            f"order: {classes}. Got {list(proba_classes)} instead."
        )
    return OnnxAdapter(
        uri=uri,
        session=session,
        content_hash=digest,
        preprocess=step,
        proba_classes=classes if classes is not None else proba_classes,
    )
