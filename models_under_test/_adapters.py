"""Model adapters: one small protocol, one loader per model kind, an explicit registry.

An adapter turns a feature DataFrame into decisions (and, when the model has them,
probabilities of each class) and says what exactly was loaded (a content hash).
This package knows no metric, spec or report: loaders take plain keyword arguments.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = [
    "MODELS_URI",
    "ModelAdapter",
    "ModelLoadError",
    "PredictionError",
    "UntrustedModelError",
    "file_sha256",
    "load_predictions",
    "load_python",
    "load_sklearn",
]


class ModelLoadError(RuntimeError):
    """The model could not be loaded (missing, unreadable, or not what was pinned)."""


class UntrustedModelError(ModelLoadError):
    """The model file would run or load code that nobody declared trusted."""


class PredictionError(RuntimeError):
    """The model failed to decide for the rows given, or gave unusable decisions."""


@runtime_checkable
class ModelAdapter(Protocol):
    """What the runner needs from a model under test."""

    kind: str
    uri: str
    content_hash: str | None
    #: For decision logs: the data column holding the decisions; ``None`` for real models.
    decision_column: str | None

    @property
    def has_proba(self) -> bool: ...

    @property
    def classes(self) -> list[Any] | None: ...

    def predict(self, features: pd.DataFrame) -> np.ndarray: ...

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray: ...


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, in sorted order)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode())
        with f.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@dataclass
class EstimatorAdapter:
    """Any object with scikit-learn's ``predict`` (and optionally ``predict_proba``)."""

    kind: str
    uri: str
    estimator: Any = field(repr=False)
    content_hash: str | None = None
    decision_column: str | None = None

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self.estimator, "predict_proba", None))

    @property
    def classes(self) -> list[Any] | None:
        found = getattr(self.estimator, "classes_", None)
        return None if found is None else list(np.asarray(found).tolist())

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        try:
            return np.asarray(self.estimator.predict(features))
        except Exception as err:
            raise PredictionError(
                f"The {self.kind} model {self.uri!r} failed to predict: {err}"
            ) from err

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        if not self.has_proba:
            raise PredictionError(f"The {self.kind} model {self.uri!r} has no predict_proba.")
        try:
            return np.asarray(self.estimator.predict_proba(features), dtype=float)
        except Exception as err:
            raise PredictionError(
                f"The {self.kind} model {self.uri!r} failed in predict_proba: {err}"
            ) from err


def _load_skops(path: Path, trusted_types: list[str]) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:
        raise ModelLoadError(f"The skops file {str(path)!r} cannot be read: {err}") from err
    unknown = sorted(set(untrusted) - set(trusted_types))
    if unknown:
        raise UntrustedModelError(
            f"The skops file {str(path)!r} holds types that are not trusted: {unknown}. "
            "Inspect them, then list them under model.trusted_types to load the file."
        )
    try:
        return sio.load(path, trusted=list(untrusted))
    except Exception as err:
        raise ModelLoadError(f"The skops file {str(path)!r} cannot be loaded: {err}") from err


def load_sklearn(
    *,
    uri: str,
    trusted: bool = False,
    sha256: str | None = None,
    trusted_types: list[str] | None = None,
    **_: Any,
) -> EstimatorAdapter:
    """Load a scikit-learn model from a skops file, or a pinned, trusted pickle/joblib file.

    A pickle runs code when opened, so it is refused *before it is opened* unless
    ``trusted`` is true and ``sha256`` matches the file's content.
    """
    path = Path(uri).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"The model file {uri!r} does not exist.")
    digest = file_sha256(path)
    if path.suffix.lower() == ".skops":
        if sha256 and sha256 != digest:
            raise ModelLoadError(
                f"The model file {uri!r} has sha256 {digest}, not the pinned {sha256}."
            )
        estimator = _load_skops(path, list(trusted_types or []))
    else:
        if not (trusted and sha256):
            raise UntrustedModelError(
                f"The model file {uri!r} is not a skops file: it may run code when opened and is "
                "refused unless the spec sets model.trusted: true and pins model.sha256."
            )
        if sha256 != digest:
            raise UntrustedModelError(
                f"The model file {uri!r} has sha256 {digest}, not the pinned {sha256}: refused."
            )
        import joblib

        try:
            estimator = joblib.load(path)
        except Exception as err:
            raise ModelLoadError(f"The model file {uri!r} cannot be loaded: {err}") from err
    if not callable(getattr(estimator, "predict", None)):
        raise ModelLoadError(f"The object in {uri!r} has no predict method.")
    return EstimatorAdapter(kind="sklearn", uri=uri, estimator=estimator, content_hash=digest)


#: ``models:/name@alias`` or ``models:/name/3``: a registered model version.
MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


@dataclass
class _Function:
    predict: Callable[[pd.DataFrame], Any]
    proba: Callable[[pd.DataFrame], Any] | None = None

    def __post_init__(self) -> None:
        if self.proba is not None:
            self.predict_proba = self.proba


def _import(target: str, search_path: Sequence[str] = ()) -> tuple[ModuleType, Any]:
    """``module:attribute`` → (module, attribute), importing with ``search_path`` first."""
    module_name, _, attr = target.partition(":")
    added = [p for p in dict.fromkeys(search_path) if p not in sys.path]
    sys.path[:0] = added
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or whatever the module raises while importing
        where = ", ".join(repr(p) for p in search_path) or "the installed packages"
        raise ModelLoadError(
            f"The Python model {target!r} cannot be imported (searched {where}, then the "
            f"installed packages): {type(err).__name__}: {err}"
        ) from err
    finally:
        for path in added:
            sys.path.remove(path)
    try:
        return module, getattr(module, attr)
    except AttributeError as err:
        raise ModelLoadError(
            f"The Python model {target!r} cannot be imported: module {module_name!r} "
            f"({getattr(module, '__file__', None)}) has no {attr!r}."
        ) from err


def load_python(
    *, uri: str, proba: str | None = None, search_path: Sequence[str] = (), **_: Any
) -> EstimatorAdapter:
    """``module:function`` returning decisions for a DataFrame (optionally ``proba`` too).

    The module is imported once, looked up first in ``search_path`` (the runner passes the
    spec's folder and the working directory), then among the installed packages.
    """
    module, fn = _import(uri, search_path)
    source = getattr(module, "__file__", None)
    digest = file_sha256(source) if source else None
    target = _Function(fn, _import(proba, search_path)[1] if proba else None)
    return EstimatorAdapter(kind="python", uri=uri, estimator=target, content_hash=digest)


@dataclass
class DecisionLogAdapter:
    """A decision log: no model, the decisions are a column of the audit data."""

    column: str
    score_column: str | None = None
    kind: str = "predictions"
    content_hash: str | None = None

    @property
    def uri(self) -> str:
        return f"column:{self.column}"

    @property
    def decision_column(self) -> str:
        return self.column

    @property
    def has_proba(self) -> bool:
        return False

    @property
    def classes(self) -> list[Any] | None:
        return None

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        raise PredictionError("A decision log has no model to run; read its decision column.")

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        raise PredictionError("A decision log has no probabilities.")


def load_predictions(
    *, column: str, score_column: str | None = None, **_: Any
) -> DecisionLogAdapter:
    """The decisions are the data's ``column`` (the audit data's hash identifies them)."""
    return DecisionLogAdapter(column=column, score_column=score_column)
