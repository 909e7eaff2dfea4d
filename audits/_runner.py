"""The audit runner: spec → data + model → decisions → checks → verdict → results document.

Every failure on the way (unreadable data, a missing column, a model that does not load or
predict, decisions that are not labels) is caught and recorded: the audit then ends with the
verdict ``error`` (exit code 2), never a pass, and its evidence is still written.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metrics import GroupMetrics, group_metrics
from models_under_test import (
    MediaBatches,
    ModelAdapter,
    PredictionError,
    load_model,
)
from reports import count_text

from ._checks import FAIRNESS_CHECKS, CheckResult, error_results
from ._evidence import Evidence, feature_rows
from ._explain_checks import EXPLAIN_CHECKS
from ._progress import progress, progress_enabled
from ._provenance import provenance, utc_now
from ._robustness_check import robustness
from ._spec import AuditSpec, load_spec
from ._status import ExitCode, Verdict, derive_verdict
from ._validation import validate_data

__all__ = ["CHECKS", "SCHEMA_VERSION", "AuditResult", "DataError", "run_audit"]

#: The explicit check registry: spec ``type`` → check function.
CHECKS = {**FAIRNESS_CHECKS, **EXPLAIN_CHECKS, "robustness": robustness}

SCHEMA_VERSION = 1
BATCH_ROWS = 50_000


class DataError(RuntimeError):
    """The audit data cannot be used as the spec describes it."""


@dataclass(frozen=True)
class AuditResult:
    """An audit's outcome: the results document and, for notebooks, the engine's result."""

    document: dict[str, Any]
    metrics: GroupMetrics | None = field(repr=False, default=None)
    #: Charts and other files for the output folder, listed in ``document["artifacts"]``.
    files: dict[str, bytes] = field(repr=False, default_factory=dict)
    #: Files with personal data (asked for by the spec): written, never logged or reported.
    private_files: dict[str, bytes] = field(repr=False, default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.document["verdict"])

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode(self.document["exit_code"])

    def checks_frame(self) -> pd.DataFrame:
        """One row per check and view: name, status, value, interval, threshold."""
        return pd.DataFrame(
            [
                {
                    "name": c["name"],
                    "status": c["status"],
                    "value": c["value"],
                    "ci_low": (c["ci"] or [None, None])[0],
                    "ci_high": (c["ci"] or [None, None])[1],
                    **{f"threshold_{k}": v for k, v in c["threshold"].items()},
                }
                for c in self.document["checks"]
            ]
        )


def _read_data(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as err:
        raise DataError(f"The data file {str(path)!r} cannot be read: {err}") from err


def _require_columns(frame: pd.DataFrame, roles: dict[str, str]) -> None:
    for role, column in roles.items():
        if column not in frame.columns:
            raise DataError(
                f"The data column {column!r} named by {role} is missing. The data has the "
                f"columns {list(frame.columns)}."
            )
        missing = int(frame[column].isna().sum())
        if missing:
            raise DataError(
                f"The data column {column!r} ({role}) has {count_text(missing)} missing values."
            )
        if role.startswith("data.sensitive"):
            joined = [v for v in pd.unique(frame[column].astype(str)) if "|" in v]
            if joined:
                raise DataError(
                    f"The sensitive column {column!r} has values containing '|', which joins "
                    f"group keys: {sorted(joined)[:3]!r}. Recode them."
                )


@dataclass(frozen=True)
class Decided:
    """What the model decided: one decision per row, and its probabilities when it has them.

    ``proba`` is the full matrix (rows × ``proba_classes``); ``scores`` is the probability of
    the favourable class (binary decisions), ``None`` when it is not known.
    """

    decisions: np.ndarray
    scores: np.ndarray | None = None
    proba: np.ndarray | None = None
    proba_classes: list[Any] | None = None


def _decide(
    adapter: ModelAdapter,
    frame: pd.DataFrame,
    features: Any,
    *,
    positive_label: Any,
    show: bool,
    batch_rows: int = BATCH_ROWS,
) -> Decided:
    """Decisions for every row, and the probability of the favourable class when available."""
    if adapter.decision_column is not None:
        decisions = frame[adapter.decision_column].to_numpy()
        score_col = getattr(adapter, "score_column", None)
        scores = frame[score_col].to_numpy(dtype=float) if score_col else None
        return Decided(decisions, scores)
    parts, probas = [], []
    with progress("Scoring", len(features), enabled=show) as advance:
        for start in range(0, len(features), batch_rows):
            batch = feature_rows(features, start, start + batch_rows)
            parts.append(np.asarray(adapter.predict(batch)).reshape(-1))
            if adapter.has_proba:
                probas.append(adapter.predict_proba(batch))
            advance(len(batch))
    decisions = np.concatenate(parts) if parts else np.array([])
    if len(decisions) != len(frame):
        raise PredictionError(
            f"The model returned {len(decisions)} decisions for {len(frame)} rows."
        )
    if not probas:
        return Decided(decisions)
    proba = np.concatenate(probas)
    classes = adapter.classes
    column = classes.index(positive_label) if classes and positive_label in classes else 1
    scores = proba[:, column] if proba.ndim == 2 and proba.shape[1] == 2 else None
    return Decided(decisions, scores, proba, classes)


def _check_decisions(decisions: np.ndarray, labels: pd.Series) -> list[Any]:
    if pd.isna(decisions).any():
        raise PredictionError(
            f"{count_text(pd.isna(decisions).sum())} decisions are missing (NaN)."
        )
    known = set(pd.unique(labels).tolist())
    seen = set(pd.unique(decisions).tolist())
    if not seen <= known:
        raise PredictionError(
            f"The decisions hold values {sorted(map(str, seen - known))} that are not among the "
            f"label's values {sorted(map(str, known))}: decisions and labels must be coded alike."
        )
    return sorted(known | seen, key=str)


def _features(spec: AuditSpec, frame: pd.DataFrame, decision_col: str | None) -> tuple[Any, int]:
    """What the model is given, and in batches of how many rows.

    Table data: every column but the label, the decision column and ``data.exclude``.
    Media data: the decoded images or waveforms the manifest names, batch by batch.
    """
    media = spec.data.media
    if media is not None:
        paths = tuple(frame[media.column].astype(str))
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise DataError(
                f"{count_text(len(missing))} files named by {media.column!r} do not exist, e.g. "
                f"{missing[0]!r}."
            )
        return MediaBatches(
            paths, media.kind, tuple(media.shape), media.sample_rate
        ), media.batch_size
    dropped = [spec.data.label, *spec.data.exclude, *([decision_col] if decision_col else [])]
    return frame.drop(columns=[c for c in dropped if c in frame.columns]), BATCH_ROWS


def _clusters(spec: AuditSpec, frame: pd.DataFrame) -> dict[str, Any]:
    """How many clusters (e.g. speakers) each single-attribute group holds."""
    column = spec.data.cluster_column
    if column not in frame.columns:
        return {"column": column, "per_group": {}}
    per_group = {}
    for attribute in spec.data.sensitive:
        if attribute in frame.columns:
            for level, n in frame.groupby(attribute)[column].nunique().items():
                per_group[f"{attribute}={level}"] = int(n)
    return {"column": column, "per_group": per_group}


def _clean(value: Any) -> Any:
    """JSON-ready: NaN and infinities become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _groups(gm: GroupMetrics) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for view in gm.views:
        for key, row in gm.counts(view).iterrows():
            out[str(key)] = {k: int(v) for k, v in row.items()}
    return out


def run_audit(
    spec_path: str | Path,
    *,
    seed: int | None = None,
    quiet: bool = True,
    spec: AuditSpec | None = None,
    tracking_uri: str | None = None,
) -> AuditResult:
    """Run the audit described by the spec at ``spec_path``.

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

    Returns
    -------
    AuditResult
        Never raises for data or model problems: they become the ``error`` verdict. An
        invalid spec raises :class:`~audits.SpecError`.
    """
    spec_path = Path(spec_path)
    spec = spec or load_spec(spec_path)
    seed = spec.seed if seed is None else seed
    started = utc_now()
    show = progress_enabled(quiet)
    data_path = Path(spec.data.path)
    errors: list[dict[str, str]] = []
    validation: dict[str, Any] | None = None
    files: dict[str, bytes] = {}
    private: dict[str, bytes] = {}
    gm: GroupMetrics | None = None
    adapter: ModelAdapter | None = None
    n_rows = None
    try:
        stage = "data"
        frame = _read_data(data_path)
        n_rows = len(frame)
        stage = "data validation"
        validation = validate_data(spec, frame, show=show)
        if not validation["success"]:
            failed = [
                f"{r['expectation']}({r['column'] or ''})"
                for r in validation["results"]
                if not r["success"] and r["severity"] == "error"
            ]
            raise DataError(f"{len(failed)} data expectation(s) failed: {', '.join(failed)}.")
        stage = "data"
        if spec.data.missing_sensitive == "unknown":
            frame[spec.data.sensitive] = frame[spec.data.sensitive].astype(object).fillna("unknown")
        model_params = spec.model.model_dump()
        decision_col = model_params.get("column")
        roles = {
            "data.label": spec.data.label,
            **{f"data.sensitive[{i}]": c for i, c in enumerate(spec.data.sensitive)},
        }
        if decision_col:
            roles["model.column"] = decision_col
        if spec.data.media:
            roles["data.media.column"] = spec.data.media.column
        _require_columns(frame, roles)
        stage = "model"
        if model_params["kind"] == "mlflow":
            model_params.update(tracking_uri=model_params.get("tracking_uri") or tracking_uri)
            model_params["progress"] = show  # MLflow's download bars: never with --quiet or CI
        adapter = load_model(model_params.pop("kind"), **model_params)
        features, batch_rows = _features(spec, frame, decision_col)
        decided = _decide(
            adapter,
            frame,
            features,
            positive_label=spec.data.positive_label,
            show=show,
            batch_rows=batch_rows,
        )
        decisions, scores = decided.decisions, decided.scores
        labels = frame[spec.data.label]
        classes = _check_decisions(decisions, labels)
        stage = "metrics"
        binary = len(classes) <= 2
        gm = group_metrics(
            labels.to_numpy(),
            decisions,
            frame[spec.data.sensitive],
            scores=scores if binary else None,
            pos_label=spec.data.positive_label,
            classes=None if binary else classes,
            n_boot=spec.n_boot,
            seed=seed,
            confidence=spec.confidence,
            min_group_size=spec.data.min_group_size,
            min_denominator=spec.data.min_denominator,
        )
        stage = "checks"
        evidence = Evidence(
            spec=spec,
            frame=frame,
            features=features,
            decisions=decisions,
            adapter=adapter,
            gm=gm,
            seed=seed,
            show=show,
        )
        results = _run_checks(spec, gm, evidence, errors)
        files, private = _charts(evidence), evidence.private_files
    except Exception as err:  # any failure is recorded as the audit's error, never a pass
        errors.append({"stage": stage, "type": type(err).__name__, "message": str(err)})
        results = error_results(
            spec,
            f"not computed: the audit stopped at the {stage} stage ({type(err).__name__}: {err})",
        )
    verdict, code = derive_verdict((r.status for r in results), errors=len(errors))
    document = {
        "schema_version": SCHEMA_VERSION,
        "audit_id": f"{spec.name}-{started.replace(':', '').replace('-', '')}",
        "spec": {
            "name": spec.name,
            "system": spec.system,
            "policy": spec.policy,
            "path": str(spec_path),
            "content": spec.model_dump(mode="json", by_alias=True),
        },
        "verdict": verdict.value,
        "exit_code": int(code),
        "provenance": provenance(
            spec_path=spec_path,
            data_path=data_path,
            model_hash=adapter.content_hash if adapter else None,
            seed=seed,
            started_at=started,
        ),
        "data": {
            "clusters": _clusters(spec, frame) if n_rows and spec.data.cluster_column else None,
            "path": str(data_path),
            "rows": n_rows,
            "label": spec.data.label,
            "positive_label": spec.data.positive_label,
            "sensitive": list(spec.data.sensitive),
            "min_group_size": spec.data.min_group_size,
        },
        "model": {
            "kind": spec.model.kind,
            "uri": adapter.uri if adapter else None,
            "scores": bool(gm is not None and gm.scores is not None),
            "endpoint": dict(getattr(adapter, "stats", {}), url=adapter.uri)
            if adapter is not None and hasattr(adapter, "stats")
            else None,
        },
        "data_validation": validation,
        "groups": _groups(gm) if gm is not None else {},
        "checks": [
            {**asdict(r), "status": r.status.value, "ci": list(r.ci) if r.ci else None}
            for r in results
        ],
        "errors": errors,
        "artifacts": sorted(files),
        "private_artifacts": sorted(private),
    }
    document["provenance"]["finished_at"] = utc_now()
    return AuditResult(document=_clean(document), metrics=gm, files=files, private_files=private)


def _run_checks(
    spec: AuditSpec, gm: GroupMetrics, evidence: Evidence, errors: list[dict[str, str]]
) -> list[CheckResult]:
    """Run every check; one that raises becomes an ``error`` result, the others still run."""
    results: list[CheckResult] = []
    for check in spec.checks:
        try:
            results.extend(CHECKS[check.type](check, spec, gm, evidence))
        except Exception as err:  # a broken check is never a pass
            message = f"the check could not be computed: {type(err).__name__}: {err}"
            errors.append(
                {"stage": f"checks ({check.type})", "type": type(err).__name__, "message": str(err)}
            )
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
