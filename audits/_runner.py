"""The audit runner: spec → data + model → decisions → checks → verdict → results document.

Every failure on the way (unreadable data, a missing column, a model that does not load or
predict, decisions that are not labels) is caught and recorded: the audit then ends with the
verdict ``error`` (exit code 2), never a pass, and its evidence is still written.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from metrics import GroupMetrics, group_metrics
from models_under_test import (
    ModelAdapter,
    load_model,
)

from ._checks import FAIRNESS_CHECKS, CheckResult, error_results
from ._data import (
    DataError,
    _cluster_arguments,
    _clusters,
    _features,
    _media_summary,
    _not_empty,
    _read_data,
    _require_columns,
)
from ._data_checks import check_data
from ._decisions import Decided, _check_decisions, _decide
from ._document import SCHEMA_VERSION, AuditResult, clean, new_audit_id
from ._evidence import Evidence
from ._explain_checks import EXPLAIN_CHECKS
from ._gx_import import finish_import, start_import
from ._progress import progress_enabled
from ._provenance import provenance, run_block, utc_now
from ._reading import needed_columns, read_parquet_columns
from ._robustness_check import robustness
from ._spec import AuditSpec, load_spec
from ._status import derive_verdict
from ._validation import validate_data

__all__ = ["CHECKS", "SCHEMA_VERSION", "AuditResult", "DataError", "run_audit"]

_T = TypeVar("_T")

#: The explicit check registry: spec ``type`` → check function.
CHECKS = {**FAIRNESS_CHECKS, **EXPLAIN_CHECKS, "robustness": robustness}


def _groups(gm: GroupMetrics) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for view in gm.views:
        for key, row in gm.counts(view).iterrows():
            out[str(key)] = {k: int(v) for k, v in row.items()}
    return out


class _StageError(Exception):
    """A stage could not finish: the audit stops there, with the ``error`` verdict."""

    def __init__(self, stage: str, err: BaseException):
        self.stage, self.err = stage, err
        super().__init__(f"{stage}: {type(err).__name__}: {err}")

    @property
    def record(self) -> dict[str, str]:
        return {"stage": self.stage, "type": type(self.err).__name__, "message": _text(self.err)}


def _text(err: BaseException) -> str:
    if isinstance(err, SystemExit):
        return f"the model's code asked the process to exit (SystemExit {err.code!r})"
    if isinstance(err, KeyboardInterrupt):
        return f"the audit was interrupted ({err or 'KeyboardInterrupt'})"
    return str(err) or type(err).__name__


def _stage(name: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Run a pipeline stage so that anything it raises stops the audit at ``name``.

    Model code runs inside the stages, in this process: whatever it raises, ``SystemExit``
    and ``KeyboardInterrupt`` included, becomes the audit's error, never an exit without a
    verdict.
    """

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> _T:
            try:
                return fn(*args, **kwargs)
            except _StageError:
                raise
            except BaseException as err:  # every end goes through the verdict
                raise _StageError(name, err) from err

        return run

    return wrap


@dataclass
class _Audit:
    """What the stages have produced so far (the document is built from whatever exists)."""

    spec: AuditSpec
    spec_path: Path
    seed: int
    show: bool
    audit_id: str
    started: str
    clock: float = field(default_factory=time.perf_counter)
    frame: pd.DataFrame | None = None
    validation: dict[str, Any] | None = None
    features: Any = None
    adapter: ModelAdapter | None = None
    gm: GroupMetrics | None = None
    results: list[CheckResult] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    private: dict[str, bytes] = field(default_factory=dict)
    #: With ``data.engine: spark``: what ran where (see :mod:`audits._spark`).
    engine: dict[str, Any] | None = None


@_stage("read")
def _read(spec: AuditSpec) -> pd.DataFrame:
    path = Path(spec.data.path)
    if path.suffix.lower() != ".parquet" or needed_columns(spec) is None:
        return _read_data(path)
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
    audit.validation = validation = validate_data(spec, frame, show=audit.show)
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
    return batch_rows


@_stage("load")
def _load(
    spec: AuditSpec, spec_path: Path, *, tracking_uri: str | None, show: bool
) -> ModelAdapter:
    """The model adapter (a decision log's adapter reads its decision column)."""
    params = spec.model.model_dump()
    if params["kind"] == "mlflow":
        params.update(tracking_uri=params.get("tracking_uri") or tracking_uri)
        params["progress"] = show  # MLflow's download bars: never with --quiet or CI
    if params["kind"] == "python":  # its module: from the spec's folder, then cwd
        params["search_path"] = [str(spec_path.resolve().parent), str(Path.cwd())]
    return load_model(params.pop("kind"), **params)


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


@_stage("check")
def _check(audit: _Audit, evidence: Evidence) -> None:
    """Run every check, then draw the explanation charts."""
    audit.results = _run_checks(audit.spec, audit.gm, evidence, audit.errors)
    audit.files, audit.private = _charts(evidence), evidence.private_files


def _pipeline(audit: _Audit, *, tracking_uri: str | None) -> None:
    """read → validate → load → decide → count → check; each stage fills ``audit``."""
    spec = audit.spec
    audit.frame = frame = _read(spec)
    batch_rows = _validate(audit, frame)
    audit.adapter = _load(spec, audit.spec_path, tracking_uri=tracking_uri, show=audit.show)
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
    )
    _check(audit, evidence)


def _render(audit: _Audit) -> dict[str, Any]:
    """The results document: what was audited, how, every check, and the derived verdict."""
    spec, adapter, gm, frame = audit.spec, audit.adapter, audit.gm, audit.frame
    data_path = Path(spec.data.path) if spec.data.path else None
    verdict, code = derive_verdict((r.status for r in audit.results), errors=len(audit.errors))
    checks = [
        {**asdict(r), "status": r.status.value, "ci": list(r.ci) if r.ci else None}
        for r in audit.results
    ]
    explain_seconds = [c["details"].pop("seconds", None) for c in checks if c.get("details")]
    document = {
        "schema_version": SCHEMA_VERSION,
        "spec": {
            "name": spec.name,
            "system": spec.system,
            "policy": spec.policy,
            "path": str(audit.spec_path),
            "content": spec.model_dump(mode="json", by_alias=True),
        },
        "verdict": verdict.value,
        "exit_code": int(code),
        "provenance": provenance(
            spec_path=audit.spec_path,
            data_path=data_path,
            model_hash=adapter.content_hash if adapter else None,
            seed=audit.seed,
            media_files=getattr(audit.features, "paths", None),
        ),
        "data": {
            "clusters": _clusters(spec, frame)
            if frame is not None and spec.data.cluster_column
            else None,
            "path": str(data_path) if data_path else f"table:{spec.data.table}",
            "rows": audit.engine.get("rows")
            if audit.engine
            else (None if frame is None else len(frame)),
            **({"engine": audit.engine} if spec.data.engine == "spark" else {}),
            "label": spec.data.label,
            "positive_label": spec.data.positive_label,
            "sensitive": list(spec.data.sensitive),
            "min_group_size": spec.data.min_group_size,
            "media": _media_summary(spec, audit.features),
        },
        "model": {
            "kind": spec.model.kind,
            "uri": adapter.uri if adapter else None,
            "scores": bool(gm is not None and gm.scores is not None),
            "endpoint": dict(getattr(adapter, "stats", {}), url=adapter.uri)
            if adapter is not None and hasattr(adapter, "stats")
            else None,
        },
        "data_validation": audit.validation,
        "groups": _groups(gm) if gm is not None else {},
        "checks": checks,
        "errors": audit.errors,
        "artifacts": sorted(audit.files),
        "private_artifacts": sorted(audit.private),
        # Last: what differs between two runs of the same audit (see SCHEMA_VERSION).
        "run": {
            **run_block(audit_id=audit.audit_id, started_at=audit.started),
            "finished_at": utc_now(),
            "seconds": {
                "audit": round(time.perf_counter() - audit.clock, 3),
                "explain": max((s for s in explain_seconds if s is not None), default=None),
            },
        },
    }
    return clean(document)


def run_audit(
    spec_path: str | Path,
    *,
    seed: int | None = None,
    quiet: bool = True,
    spec: AuditSpec | None = None,
    tracking_uri: str | None = None,
    audit_id: str | None = None,
    spark_master: str | None = None,
) -> AuditResult:
    """Run the audit described by the spec at ``spec_path``.

    The audit is a pipeline of named stages (read → validate → load → decide → count →
    check), then the results document is rendered from what the stages produced. A stage
    that fails, for whatever reason (model code calling ``sys.exit`` included), stops the
    pipeline; its error is recorded with the stage's name and every check that was not
    computed is an ``error``: the verdict is then ``error`` (exit code 2), never a pass.

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
    spark_master : str, optional
        With ``data.engine: spark``: the master URL of a session fairgate starts (default:
        the active session, e.g. under ``spark-submit``, else Spark's default).

    Returns
    -------
    AuditResult
        Never raises for data or model problems: they become the ``error`` verdict. An
        invalid spec raises :class:`~audits.SpecError`.
    """
    spec_path = Path(spec_path)
    spec = spec or load_spec(spec_path)
    start_import()  # Great Expectations loads while the data is read and the model loads
    audit = _Audit(
        spec=spec,
        spec_path=spec_path,
        seed=spec.seed if seed is None else seed,
        show=progress_enabled(quiet),
        audit_id=audit_id or new_audit_id(spec.name),
        started=utc_now(),
    )
    try:
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
        )
    finish_import()  # no import thread outlives the audit (it ended before validating)
    document = _render(audit)
    return AuditResult(
        document=document, metrics=audit.gm, files=audit.files, private_files=audit.private
    )


def _run_checks(
    spec: AuditSpec, gm: GroupMetrics, evidence: Evidence, errors: list[dict[str, str]]
) -> list[CheckResult]:
    """Run every check; one that raises becomes an ``error`` result, the others still run.

    Model code called by a check (explanations, perturbed inputs) may raise ``SystemExit``:
    that check is an error. An interruption (``KeyboardInterrupt``, a signal) stops them all.
    """
    results: list[CheckResult] = []
    for check in spec.checks:
        try:
            results.extend(CHECKS[check.type](check, spec, gm, evidence))
        except (Exception, SystemExit) as err:  # a broken check is never a pass
            kind, text = type(err).__name__, _text(err)
            errors.append({"stage": f"check ({check.type})", "type": kind, "message": text})
            message = f"the check could not be computed: {kind}: {text}"
            results.extend(error_results(spec, message, [check]))
    return results


def _charts(evidence: Evidence) -> dict[str, bytes]:
    """Explanation charts, when the checks computed attributions."""
    if not evidence.attributions_computed:
        return dict(evidence.files)
    from ._explain_checks import importance_table
    from ._explain_plots import explanation_charts

    att, rows = evidence.attributions, evidence.attributed_rows
    groups = evidence.frame.iloc[rows][evidence.spec.data.sensitive].reset_index(drop=True)
    table = importance_table(att, evidence.importance_boot)
    return {**evidence.files, **explanation_charts(att, groups, importance=table)}
