"""The audit runner: spec → data + model → decisions → checks → verdict → results document.

Every failure on the way (unreadable data, a missing column, a model that does not load or
predict, decisions that are not labels) is caught and recorded: the audit then ends with the
verdict ``error`` (exit code 2), never a pass, and its evidence is still written.

The stage wrapper and the audit's state are in :mod:`audits._stages`, the check stage and the
check registry in :mod:`audits._check_stage`; a streamed decision log runs the pipeline of
:mod:`audits._stream_pipeline`, and ``data.engine: spark`` that of :mod:`audits._spark`;
every pipeline's state becomes the results document in :mod:`audits._render_document`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from metrics import GroupMetrics, group_metrics
from models_under_test import ModelAdapter, ModelLoadError, load_model
from reports import DEFAULT_STORE, default_tracking_uri

from ._check_stage import CHECKS, _check, _run_checks
from ._checks import error_results
from ._data import (
    DataError,
    _cluster_arguments,
    _features,
    _not_empty,
    _read_data,
    _require_columns,
)
from ._data_checks import check_data
from ._data_files import DataFiles, snapshot_files
from ._decisions import Decided, _check_decisions, _decide
from ._digest_stage import confirm_data, list_data, start_digest
from ._document import SCHEMA_VERSION, AuditResult, new_audit_id
from ._evidence import Evidence
from ._folder_columns import refuse_missing_file_columns
from ._gx_import import finish_import, start_import
from ._gx_worker import GXWorker
from ._model_signature import VerifiedModel
from ._policy import DEPLOYMENT_CHECKS
from ._progress import progress_enabled
from ._provenance import utc_now
from ._reading import needed_columns, read_parquet_columns
from ._render_document import render_document
from ._signed_model import check_loaded, verify_spec_model
from ._spec import AuditSpec, load_spec
from ._stages import _Audit, _stage, _StageError
from ._stream_pipeline import stream_read, streamed_pipeline
from ._streaming import streamable
from ._validation import validate_data
from ._waiver_spec import Waiver

__all__ = ["CHECKS", "SCHEMA_VERSION", "AuditResult", "DataError", "run_audit"]


@_stage("read")
def _read(spec: AuditSpec, *, files: DataFiles | None = None) -> pd.DataFrame:
    """The data in memory (``files``: a folder's files as :func:`list_data` found them)."""
    path = Path(spec.data.path)
    refuse_missing_file_columns(spec, files=files)  # each file has the columns used
    # A folder (Spark names its output folder 'x.parquet') is read whole, as its files.
    if path.suffix.lower() != ".parquet" or path.is_dir() or needed_columns(spec) is None:
        return _read_data(path, text=list(spec.data.sensitive))  # groups as written
    try:  # a decision log: only the columns the audit uses, groups as dictionaries
        frame = read_parquet_columns(path, spec)
    except Exception as err:
        raise DataError(f"The data file {str(path)!r} cannot be read: {err}") from err
    return _not_empty(frame, path)


@_stage("validate")
def _validate(audit: _Audit, frame: pd.DataFrame) -> int:
    """Great Expectations validation (kept in the results even when it fails), the columns
    each role needs, the label's values, and what the model will be given (media files that
    are missing or unreadable stop the audit here). Returns the scoring batch size."""
    spec = audit.spec
    audit.validation = validation = validate_data(
        spec, frame, show=audit.show, worker=audit.gx_worker
    )
    if not validation["success"]:
        failed = [
            f"{r['expectation']}({r['column'] or ''})"
            for r in validation["results"]
            if not r["success"] and r["severity"] == "error"
        ]
        raise DataError(f"{len(failed)} data expectation(s) failed: {', '.join(failed)}.")
    if spec.data.missing_sensitive == "unknown":
        frame[spec.data.sensitive] = frame[spec.data.sensitive].astype(object).fillna("unknown")
    roles = {
        "data.label": spec.data.label,
        **{f"data.sensitive[{i}]": c for i, c in enumerate(spec.data.sensitive)},
    }
    if getattr(spec.model, "column", None):
        roles["model.column"] = spec.model.column  # type: ignore[union-attr]
    if spec.data.media:
        roles["data.media.column"] = spec.data.media.column
    if spec.data.cluster_column:
        roles["data.cluster_column"] = spec.data.cluster_column
    _require_columns(frame, roles)
    check_data(spec, frame)
    audit.features, batch_rows = _features(spec, frame, getattr(spec.model, "column", None))
    if spec.data.media is not None:  # the files the model reads: confirmed at the digest
        audit.media_files = snapshot_files(audit.features.paths)
    return batch_rows


def _model_store(spec: AuditSpec, tracking_uri: str | None) -> str | None:
    """The tracking store resolving an MLflow model URI: ``model.tracking_uri``, else the
    caller's (``--tracking-uri``), else ``$MLFLOW_TRACKING_URI``, else fairgate's default
    store, which must then exist. MLflow's own default (an ``mlflow.db`` it would create in
    the working directory) is never used: a registry URI with no store is refused."""
    model = spec.model
    uri = getattr(model, "uri", "")
    if model.kind != "mlflow" or not str(uri).startswith(("models:/", "runs:/")):
        return getattr(model, "tracking_uri", None) or tracking_uri
    named = model.tracking_uri or tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if named:
        return named
    default = default_tracking_uri()
    if not Path(default.removeprefix("sqlite:///")).is_file():
        raise ModelLoadError(
            f"The model {uri!r} is a registry URI, but no tracking store was named "
            "(--tracking-uri, MLFLOW_TRACKING_URI or model.tracking_uri) and fairgate's "
            f"default store {DEFAULT_STORE}/mlflow.db does not exist here. Name the store "
            "holding the model."
        )
    return default


@_stage("verify_model")
def _verify_model(
    spec: AuditSpec, *, tracking_uri: str | None, show: bool, scratch: Path | None = None
) -> VerifiedModel:
    """Verify the model's files against ``model.signature`` before anything loads them (a
    ``models:/`` URI is downloaded first, into ``scratch``; the folder verified is the one
    then loaded)."""
    store = _model_store(spec, tracking_uri)
    return verify_spec_model(spec.model, tracking_uri=store, show=show, into=scratch)


@_stage("load")
def _load(
    spec: AuditSpec,
    spec_path: Path,
    *,
    tracking_uri: str | None,
    show: bool,
    signed: VerifiedModel | None = None,
    scratch: Path | None = None,
) -> ModelAdapter:
    """The model adapter (a decision log's adapter reads its decision column).

    With a verified signature, the files loaded are the verified ones (an MLflow model is
    not downloaded again), and a single model file must still hash as signed once loaded.
    An MLflow model is downloaded into ``scratch`` (the audit's, removed when it ends).
    """
    params = spec.model.model_dump()
    params.pop("signature", None)
    if params["kind"] == "mlflow":
        params.update(tracking_uri=_model_store(spec, tracking_uri))
        params["progress"] = show  # MLflow's download bars: never with --quiet or CI
        params["into"] = None if scratch is None else str(scratch)
        if signed is not None:
            params["folder"] = signed.path
    if params["kind"] == "python":  # its module: from the spec's folder, then cwd
        params["search_path"] = [str(spec_path.resolve().parent), str(Path.cwd())]
    adapter = load_model(params.pop("kind"), **params)
    if signed is not None:
        check_loaded(adapter, signed, preprocess=params.get("preprocess"))
    return adapter


@_stage("decide")
def _decide_all(
    spec: AuditSpec,
    adapter: ModelAdapter,
    frame: pd.DataFrame,
    features: Any,
    *,
    show: bool,
    batch_rows: int,
) -> tuple[Decided, list[Any]]:
    """Every row's decision (and probabilities), checked against the label's values."""
    decided = _decide(
        adapter,
        frame,
        features,
        positive_label=spec.data.positive_label,
        show=show,
        batch_rows=batch_rows,
        proba_classes=getattr(spec.model, "proba_classes", None),
        decision_values=getattr(spec.model, "decision_values", None),
    )
    return decided, _check_decisions(decided.decisions, frame[spec.data.label])


@_stage("count")
def _count(
    spec: AuditSpec, frame: pd.DataFrame, decided: Decided, classes: list[Any], *, seed: int
) -> GroupMetrics:
    """The count tables and every group rate with its interval."""
    binary = len(classes) <= 2
    return group_metrics(
        frame[spec.data.label].to_numpy(),
        decided.decisions,
        frame[spec.data.sensitive],
        scores=decided.scores if binary else decided.proba if decided.proba_classes else None,
        score_classes=None if binary else decided.proba_classes,
        pos_label=spec.data.positive_label,
        classes=None if binary else classes,
        n_boot=spec.n_boot,
        seed=seed,
        confidence=spec.confidence,
        min_group_size=spec.data.min_group_size,
        min_denominator=spec.data.min_denominator,
        **_cluster_arguments(spec, frame),
    )


def _pipeline(audit: _Audit, *, tracking_uri: str | None) -> None:
    """read → validate → [verify_model] → load → decide → count → check → digest; each
    stage fills ``audit``."""
    spec = audit.spec
    list_data(audit)  # the files read and their stats, before reading them
    if streamable(spec):
        streamed = stream_read(audit)
        if streamed is not None:
            start_digest(audit)
            streamed_pipeline(audit, streamed, tracking_uri=tracking_uri)
            return confirm_data(audit)
    audit.frame = frame = _read(spec, files=audit.data_files)
    start_digest(audit)
    batch_rows = _validate(audit, frame)
    if getattr(spec.model, "signature", None) is not None:  # verified before it is loaded
        audit.signed = _verify_model(
            spec, tracking_uri=tracking_uri, show=audit.show, scratch=audit.scratch
        )
    audit.adapter = _load(
        spec,
        audit.spec_path,
        tracking_uri=tracking_uri,
        show=audit.show,
        signed=audit.signed,
        scratch=audit.scratch,
    )
    features = audit.features
    decided, classes = _decide_all(
        spec, audit.adapter, frame, features, show=audit.show, batch_rows=batch_rows
    )
    audit.gm = _count(spec, frame, decided, classes, seed=audit.seed)
    evidence = Evidence(
        spec=spec,
        frame=frame,
        features=features,
        decisions=decided.decisions,
        adapter=audit.adapter,
        gm=audit.gm,
        seed=audit.seed,
        show=audit.show,
        scores=decided.scores,
    )
    _check(audit, evidence)
    confirm_data(audit)  # the data digest, of the data as they were read


def run_audit(
    spec_path: str | Path,
    *,
    seed: int | None = None,
    quiet: bool = True,
    spec: AuditSpec | None = None,
    tracking_uri: str | None = None,
    audit_id: str | None = None,
    waivers: list[Waiver] | None = None,
    waivers_source: str = "waivers file",
    started_at: str | None = None,
    spark_master: str | None = None,
    gx_worker: GXWorker | None = None,
) -> AuditResult:
    """Run the audit described by the spec at ``spec_path``.

    The audit is a pipeline of named stages (read → validate → verify_model (when the spec
    names a model signature) → load → decide → count → check → digest (the data's digest, of
    the data as they were read: :mod:`audits._digest_stage`)), then the results document is
    rendered from what the stages produced. A stage that fails, for whatever reason (model
    code calling ``sys.exit`` included), stops the pipeline; its error is recorded with the
    stage's name and every check that was not computed is an ``error``: the verdict is then
    ``error`` (exit code 2), never a pass.

    Parameters
    ----------
    spec_path : str or Path
        The YAML audit spec. Its relative paths resolve against the working directory.
    seed : int, optional
        Overrides the spec's seed.
    quiet : bool, default=True
        Hide progress bars (they are also hidden when stderr is not a terminal, or in CI).
    spec : AuditSpec, optional
        The already validated spec (saves reading it again).
    tracking_uri : str, optional
        The MLflow server resolving ``models:/`` URIs when the spec names none.
    audit_id : str, optional
        The audit's id (default: a new time-ordered unique id, see
        :func:`~audits._document.new_audit_id`).
    waivers : list of Waiver, optional
        Waivers from a separate file (``--waivers``), checked against the spec by
        :func:`~audits._waiver_spec.load_waiver_file`; applied after the spec's own.
    waivers_source : str, default="waivers file"
        Where those waivers were written (the file's path), as the report says it.
    started_at : str, optional
        The audit's start time (ISO 8601 UTC, default now). Waivers are judged on its date;
        tests set it to see a waiver expire.
    spark_master : str, optional
        With ``data.engine: spark``: the master URL of a session fairgate starts (default:
        the active session, e.g. under ``spark-submit``, else Spark's default).
    gx_worker : GXWorker, optional
        A validation worker already started (:meth:`~audits._gx_worker.GXWorker.start`):
        Great Expectations then validates in that process, imported on another core while
        this one reads the data (the command line starts one). Local engine only; the caller
        closes it. Default: Great Expectations in this process.

    Returns
    -------
    AuditResult
        Never raises for data or model problems: they become the ``error`` verdict. An
        invalid spec raises :class:`~audits.SpecError`.
    """
    spec_path = Path(spec_path)
    spec = spec or load_spec(spec_path)
    if gx_worker is not None and spec.data.engine == "spark":
        raise ValueError("A validation worker validates pandas frames: not with Spark.")
    if gx_worker is None:
        start_import()  # Great Expectations loads while the data is read and the model loads
    audit = _Audit(
        spec=spec,
        spec_path=spec_path,
        seed=spec.seed if seed is None else seed,
        show=progress_enabled(quiet),
        audit_id=audit_id or new_audit_id(spec.name),
        started=started_at or utc_now(),
        waivers=[(w, "spec") for w in spec.waivers] + [(w, waivers_source) for w in waivers or ()],
        gx_worker=gx_worker,
    )
    # What the deployment alone decides (a prohibited use) holds whatever the data say.
    upfront = [c for c in spec.checks if c.type in DEPLOYMENT_CHECKS]
    declared_owners: list[int | None] = []
    declared = _run_checks(spec, None, None, audit.errors, declared_owners, checks=upfront)
    try:  # what the audit downloads goes in its scratch folder, removed on every way out
        with tempfile.TemporaryDirectory(prefix="fairgate-", ignore_cleanup_errors=True) as scratch:
            audit.scratch = Path(scratch)
            if spec.data.engine == "spark":
                from ._spark import spark_pipeline

                spark_pipeline(audit, tracking_uri=tracking_uri, master=spark_master)
            else:
                _pipeline(audit, tracking_uri=tracking_uri)
    except _StageError as stop:
        audit.errors.append(stop.record)
        audit.results = error_results(
            spec,
            f"not computed: the audit stopped at the {stop.stage} stage "
            f"({stop.record['type']}: {stop.record['message']})",
            [c for c in spec.checks if c.type not in DEPLOYMENT_CHECKS],
        )
    audit.results = declared + audit.results
    audit.owners = declared_owners + audit.owners
    finish_import()  # no import thread outlives the audit (it ended before validating)
    document = render_document(audit)
    return AuditResult(
        document=document, metrics=audit.gm, files=audit.files, private_files=audit.private
    )
