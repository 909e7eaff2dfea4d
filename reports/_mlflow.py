"""Log an audit to MLflow: params from the spec, metrics, tags, and the report files.

MLflow is imported here only, when logging, so that the CLI starts fast. A client is built
for the tracking URI given; no global MLflow state is changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_STORE", "default_tracking_uri", "log_audit", "metric_key"]

#: Folder of the working directory holding the default tracking database and artifacts.
DEFAULT_STORE = ".fairgate"
_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def default_tracking_uri(base: str | Path = ".") -> str:
    """An embedded sqlite tracking store in ``<base>/.fairgate/mlflow.db``."""
    store = (Path(base) / DEFAULT_STORE).resolve()
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def metric_key(*parts: str) -> str:
    """An MLflow-safe metric key: ``'sex=female|age_band=<25'`` → ``'sex_female.age_band_lt25'``."""
    text = "/".join(parts)
    for old, new in (
        ("|", "."),
        ("=", "_"),
        ("<=", "le"),
        (">=", "ge"),
        ("<", "lt"),
        (">", "gt"),
        ("+", "plus"),
    ):
        text = text.replace(old, new)
    return _BAD.sub("_", text)[:250]


def _flatten(prefix: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: str(value)[:6000]}


def _params(document: dict[str, Any]) -> dict[str, str]:
    content = dict(document["spec"]["content"])
    checks = content.pop("checks", [])
    params = _flatten("", content)
    params["checks.count"] = str(len(checks))
    for i, check in enumerate(checks):
        params[f"checks.{i}"] = ", ".join(
            f"{k}={v}" for k, v in check.items() if v not in (None, [], "")
        )[:6000]
    return params


def _metrics(document: dict[str, Any]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for check in document["checks"]:
        if check["value"] is not None:
            metrics[metric_key("check", check["name"])] = check["value"]
        for group, g in check["by_group"].items():
            if g.get("value") is not None:
                metrics[metric_key("group", check["metric"], group)] = g["value"]
    for group, counts in document["groups"].items():
        metrics[metric_key("n", group)] = counts["n"]
    return metrics


def log_audit(
    document: dict[str, Any],
    files: dict[str, Path],
    *,
    tracking_uri: str,
    experiment: str | None = None,
) -> dict[str, str]:
    """Log one audit as one MLflow run and return ``{'run_id', 'experiment_id', 'uri'}``.

    Parameters
    ----------
    document : dict
        The results document.
    files : dict of str to Path
        The rendered files, logged as artifacts.
    tracking_uri : str
        Where to log. With a local ``sqlite:`` store the artifacts go next to the database.
    experiment : str, optional
        Experiment name; defaults to ``fairgate/<spec name>``.
    """
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    name = experiment or f"fairgate/{document['spec']['name']}"
    found = client.get_experiment_by_name(name)
    if found is None:
        location = None
        if tracking_uri.startswith("sqlite:///"):
            location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
        experiment_id = client.create_experiment(name, artifact_location=location)
    else:
        experiment_id = found.experiment_id
    prov = document["provenance"]
    tags = {
        "fairgate.verdict": document["verdict"],
        "fairgate.exit_code": str(document["exit_code"]),
        "fairgate.spec_name": document["spec"]["name"],
        "fairgate.spec_sha256": prov["spec_sha256"],
        "fairgate.data_sha256": str(prov["data_sha256"]),
        "fairgate.model_sha256": str(prov["model_sha256"]),
        "fairgate.version": str(prov["fairgate_version"]),
        "fairgate.git_commit": str(prov["git_commit"]),
        "fairgate.audit_id": document["audit_id"],
    }
    run = client.create_run(
        experiment_id, run_name=f"{document['spec']['name']} audit {prov['started_at']}", tags=tags
    )
    run_id = run.info.run_id
    try:
        params = [Param(k, v) for k, v in _params(document).items()]
        metrics = [Metric(k, float(v), 0, 0) for k, v in _metrics(document).items()]
        for i in range(0, max(len(params), 1), 100):
            client.log_batch(run_id, params=params[i : i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000])
        for path in files.values():
            client.log_artifact(run_id, str(path))
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return {"run_id": run_id, "experiment_id": experiment_id, "uri": f"{run.info.artifact_uri}"}
