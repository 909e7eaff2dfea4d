"""The ``mlflow`` model kind: download an MLflow model, read its flavours, load it safely.

An MLflow model folder says in its ``MLmodel`` file how it was saved. Some flavours are
pickles (scikit-learn with ``pickle``/``cloudpickle`` serialization, a ``python_function``
with a cloudpickled ``python_model``, models from code, other libraries' pickles): opening
them runs code. They are loaded only when the spec sets ``trusted: true`` and pins
``sha256`` to the downloaded files, as for a ``kind: sklearn`` pickle. A scikit-learn model
saved with skops is loaded with skops and the types the spec trusts (never the list the
model file itself declares), and an ONNX model with onnxruntime: neither needs a pin.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._adapters import (
    MODELS_URI,
    EstimatorAdapter,
    ModelLoadError,
    UntrustedModelError,
    _load_skops,
    file_sha256,
)
from ._urls import public_uri, scrub

__all__ = ["download_mlflow_model", "load_mlflow", "model_flavours", "public_uri"]

#: Loader modules of ``python_function`` that open no pickle by themselves.
_SAFE_LOADERS = {"mlflow.sklearn", "mlflow.onnx"}


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """MLflow's artifact download progress bars on or off, for this download only."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "true" if enabled else "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def download_mlflow_model(
    uri: str,
    tracking_uri: str | None = None,
    *,
    progress: bool = False,
    into: str | Path | None = None,
) -> str:
    """Download an MLflow model's files to a new temporary folder and return its path.

    ``models:/name@alias`` and ``models:/name/3`` are resolved against the registry of
    ``tracking_uri`` (default: ``MLFLOW_TRACKING_URI``), not a global default. Nothing is
    loaded or run. ``progress`` shows MLflow's download progress bars (off by default).
    The folder (``fairgate-*``) is made in ``into``, a folder its owner removes (an audit's
    scratch folder, see :func:`audits.run_audit`), else in the system's temporary folder,
    where the caller must remove it. A download that fails leaves no folder.
    """
    import shutil
    import tempfile

    import mlflow
    from mlflow.artifacts import download_artifacts
    from mlflow.tracking import MlflowClient

    match = MODELS_URI.match(uri)
    with _progress_bars(progress):
        if match:
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            try:
                version = (
                    match["version"]
                    or client.get_model_version_by_alias(match["name"], match["alias"]).version
                )
                uri = client.get_model_version_download_uri(match["name"], version)
            except Exception as err:
                store = public_uri(tracking_uri or mlflow.get_tracking_uri())
                raise ModelLoadError(
                    f"The registered model {uri!r} was not found in the tracking store {store}: "
                    f"{type(err).__name__}. Check the name and alias or version, and that "
                    "--tracking-uri (or model.tracking_uri) names the registry holding it."
                ) from err
        folder = tempfile.mkdtemp(prefix="fairgate-", dir=into)
        try:
            return download_artifacts(artifact_uri=uri, dst_path=folder, tracking_uri=tracking_uri)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise


def model_flavours(folder: str | Path) -> dict[str, dict[str, Any]]:
    """The ``flavors`` mapping of an MLflow model folder's ``MLmodel`` file (read as data)."""
    import yaml

    path = Path(folder) / "MLmodel"
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ModelLoadError(
            f"The MLflow model has no readable MLmodel file ({type(err).__name__})."
        ) from err
    flavours = meta.get("flavors") if isinstance(meta, dict) else None
    if not isinstance(flavours, dict) or not all(isinstance(v, dict) for v in flavours.values()):
        raise ModelLoadError("The MLflow model's MLmodel file has no 'flavors' mapping.")
    return flavours


def _inside(folder: Path, name: Any) -> Path:
    path = (folder / str(name)).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise ModelLoadError(
            f"The MLflow model's file {str(name)!r} is missing or outside the model folder."
        )
    return path


def _safe_kind(flavours: dict[str, dict[str, Any]]) -> str | None:
    """``'skops'`` or ``'onnx'`` when the model loads without unpickling, else ``None``."""
    pyfunc = flavours.get("python_function", {})
    if pyfunc.get("code"):
        return None  # code shipped with the model is put on sys.path and imported
    sklearn = flavours.get("sklearn")
    if sklearn is not None and sklearn.get("serialization_format") == "skops":
        return "skops"
    if "onnx" in flavours and pyfunc.get("loader_module", "mlflow.onnx") in _SAFE_LOADERS:
        return "onnx"
    return None


def _describe(flavours: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name, conf in flavours.items():
        detail = conf.get("serialization_format") or conf.get("loader_module")
        parts.append(f"{name} ({detail})" if detail else name)
    return ", ".join(parts) or "none"


def load_mlflow(
    *,
    uri: str,
    tracking_uri: str | None = None,
    trusted: bool = False,
    sha256: str | None = None,
    trusted_types: list[str] | None = None,
    progress: bool = False,
    folder: str | None = None,
    into: str | None = None,
    **_: Any,
) -> EstimatorAdapter:
    """Load an MLflow model URI (``models:/name@alias``, ``models:/name/3``, ``runs:/``, a path).

    The model's files are downloaded and hashed, and its ``MLmodel`` flavours read, *before*
    anything is loaded. A skops scikit-learn model is loaded with skops and ``trusted_types``;
    an ONNX model with onnxruntime. Any other flavour may unpickle code when loaded: it is
    refused unless ``trusted`` is true and ``sha256`` equals the hash of the downloaded files.
    ``tracking_uri`` (or ``MLFLOW_TRACKING_URI``) says which server resolves the URI.
    ``folder`` is a local copy of the URI's files already downloaded (and verified): it is
    loaded instead of downloading them again. ``into``: the folder the download goes in
    (see :func:`download_mlflow_model`), removed by its owner once the model is done with.
    """
    try:
        local = Path(
            folder or download_mlflow_model(uri, tracking_uri, progress=progress, into=into)
        )
    except ModelLoadError:
        raise
    except Exception as err:
        said = str(err)
        said = scrub(said, tracking_uri)
        raise ModelLoadError(
            f"The MLflow model {uri!r} cannot be downloaded: {type(err).__name__}: {said}"
        ) from err
    digest = file_sha256(local)
    flavours = model_flavours(local)
    kind = _safe_kind(flavours)
    if kind is not None and sha256 and sha256 != digest:
        raise ModelLoadError(
            f"The MLflow model {uri!r} has sha256 {digest}, not the pinned {sha256}."
        )
    if kind == "skops":
        conf = flavours["sklearn"]
        estimator = _load_skops(
            _inside(local, conf.get("pickled_model")), list(trusted_types or [])
        )
        return EstimatorAdapter(kind="mlflow", uri=uri, estimator=estimator, content_hash=digest)
    if kind is None:
        if not (trusted and sha256):
            raise UntrustedModelError(
                f"The MLflow model {uri!r} has flavours {_describe(flavours)}, which may run "
                "code when loaded (a pickle, cloudpickle or model code): it is refused unless "
                "the spec sets model.trusted: true and pins model.sha256 to its files "
                f"(sha256 {digest}). A scikit-learn model saved with "
                "serialization_format='skops', or an ONNX model, needs no pin."
            )
        if sha256 != digest:
            raise UntrustedModelError(
                f"The MLflow model {uri!r} has sha256 {digest}, not the pinned {sha256}: refused."
            )
    import mlflow.pyfunc

    try:
        model = mlflow.pyfunc.load_model(str(local))
    except Exception as err:
        raise ModelLoadError(f"The MLflow model {uri!r} cannot be loaded: {err}") from err
    try:
        raw = model.get_raw_model()
    except (AttributeError, NotImplementedError):  # a python_model has no raw model
        raw = None
    estimator = raw if callable(getattr(raw, "predict_proba", None)) else model
    return EstimatorAdapter(kind="mlflow", uri=uri, estimator=estimator, content_hash=digest)
