"""Log a monitor run to MLflow, and hold the breaker's state on the registered model version.

Metrics are logged per window (``step`` = window, timestamp = the window's end for time
windows), the transitions as a table artifact, the report and the document as artifacts. The
version behind a ``models:/`` URI gets the tag ``fairgate.breaker=<state>``; its aliases are
never touched.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from reports import check_hidden, event_disclosed, metric_key, window_disclosure

__all__ = ["CHECK_CODE", "STATE_CODE", "log_guard", "log_monitor", "tag_breaker"]

#: The breaker's state as a number, for the per-window ``breaker_state`` metric.
STATE_CODE = {"closed": 0, "half_open": 1, "open": 2}
#: A fairness check's status as a number, for the per-window ``check_status/<check>`` metric.
CHECK_CODE = {
    "pass": 0,
    "inconclusive": 1,
    "insufficient_evidence": 2,
    "skipped": 2,
    "fail": 3,
    "error": 4,
}


def _experiment(client: Any, name: str, tracking_uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created meanwhile by a concurrent run
        return client.get_experiment_by_name(name).experiment_id


def _millis(label: str, fallback: int) -> int:
    try:
        return int(datetime.fromisoformat(label).timestamp() * 1000)
    except ValueError:
        return fallback


def _check_metrics(document: dict[str, Any], window: dict[str, Any], at: int) -> list[Any]:
    """Per fairness check of a window: its status code, and its value and interval (unless
    the disclosure rule holds them back)."""
    from mlflow.entities import Metric

    out, step = [], int(window["window"])
    for c in window.get("checks", []):
        out.append(Metric(metric_key("check_status", c["name"]), CHECK_CODE[c["status"]], at, step))
        if check_hidden(document, window, c):
            continue
        if c["value"] is not None:
            out.append(Metric(metric_key("check_value", c["name"]), float(c["value"]), at, step))
        if c["ci"] is not None:
            for name, x in zip(("check_low", "check_high"), c["ci"], strict=True):
                out.append(Metric(metric_key(name, c["name"]), float(x), at, step))
    return out


def log_monitor(
    document: dict[str, Any], files: dict[str, Path], *, tracking_uri: str, experiment: str
) -> dict[str, str]:
    """Log one monitor run; return its ``run_id`` and ``artifact_uri``."""
    import pandas as pd
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id = _experiment(client, experiment, tracking_uri)
    tags = {
        "fairgate.kind": "monitor",
        "fairgate.breaker": document["state"],
        "fairgate.exit_code": str(document["exit_code"]),
        "fairgate.spec_name": document["system"],
        "fairgate.spec_sha256": document["spec"]["sha256"],
        "fairgate.monitor_id": document["monitor_id"],
    }
    run = client.create_run(
        experiment_id,
        run_name=f"{document['system']} · monitor · breaker {document['state']}",
        tags=tags,
    )
    run_id = run.info.run_id
    try:
        now = int(datetime.now().timestamp() * 1000)
        params = [Param(f"monitor.{k}", str(v)) for k, v in document["policy"].items()]
        metrics = []
        for w in document["windows"]:
            at = _millis(w["label"], now)
            step = int(w["window"])
            metrics.append(Metric("breaker_state", STATE_CODE[w["state"]], at, step))
            metrics.append(Metric("decisions", w["decisions"], at, step))
            warned = float(w.get("estimate") is not None)
            metrics.append(Metric("early_warning", warned, at, step))
            shown = window_disclosure(w)  # the disclosure rule, as in the report
            for c in w["cells"]:
                if shown[c["group"]].denominator is not None:
                    key = metric_key("reviewed", c["group"])
                    metrics.append(Metric(key, c["cases"], at, step))
                if c["judged"] and shown[c["group"]].rate is not None:
                    for name in ("rate", "low", "high"):
                        key = metric_key(f"misjudgment_{name}", c["group"])
                        metrics.append(Metric(key, float(c[name]), at, step))
            metrics.extend(_check_metrics(document, w, at))
        metrics.append(Metric("trips", document["trips"], now, 0))
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000], params=[] if i else params)
        if not metrics:
            client.log_batch(run_id, params=params)
        events = pd.DataFrame(
            [event_disclosed(document, ev) for ev in document["events"]]
            or [{"window": None, "label": "", "before": "", "after": "", "cause": "none"}]
        )
        client.log_table(run_id, data=events, artifact_file="breaker_transitions.json")
        for path in files.values():
            client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    return {"run_id": run_id, "artifact_uri": run.info.artifact_uri}


def tag_breaker(
    model_uri: str, state: str, *, tracking_uri: str, extra: dict[str, str] | None = None
) -> str | None:
    """Tag the registered version behind ``models:/...`` with ``fairgate.breaker=<state>``.

    Returns ``'name/version'`` when tagged, ``None`` when the URI names no registered version.
    """
    from mlflow.tracking import MlflowClient

    from ._provenance import utc_now
    from ._registry_gate import resolve_version

    client = MlflowClient(tracking_uri=tracking_uri)
    ref = resolve_version(model_uri, client)
    if ref is None:
        return None
    client.set_model_version_tag(ref.name, ref.version, "fairgate.breaker", state)
    # when it was set: a guard with a maximum age does not trust a state no monitor renews
    client.set_model_version_tag(ref.name, ref.version, "fairgate.breaker.updated_at", utc_now())
    for key, value in (extra or {}).items():
        client.set_model_version_tag(ref.name, ref.version, key, value)
    return f"{ref.name}/{ref.version}"


def log_guard(
    model_uri: str,
    *,
    state: str,
    refresh_s: float,
    register: str | None,
    tracking_uri: str,
    max_age_s: float = 0.0,
) -> str:
    """Log the breaker guard around ``model_uri`` (as MLflow model code); return its URI.

    The guard's code is ``audits/_guard_model.py``; the wrapped model is copied into the
    guard's artifacts, so the guard serves without fairgate installed.
    """
    import mlflow
    from mlflow.tracking import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    from . import _guard_model

    # no global MLflow state is left behind: the URI is set for this call, no experiment is
    # made active
    experiment_id = _experiment(MlflowClient(tracking_uri), "fairgate/guards", tracking_uri)
    with (
        _use_tracking_uri(tracking_uri),
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"guard of {model_uri}",
            tags={"fairgate.kind": "guard"},
        ),
    ):
        info = mlflow.pyfunc.log_model(
            name="guard",
            python_model=_guard_model.__file__,
            artifacts={"model": model_uri},
            model_config={"state": state, "refresh_s": refresh_s, "max_age_s": max_age_s},
            registered_model_name=register,
            pip_requirements=[f"mlflow=={mlflow.__version__}", "pandas"],
        )
    if register and info.registered_model_version is not None:
        return f"models:/{register}/{info.registered_model_version}"
    return info.model_uri
