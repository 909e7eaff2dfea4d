"""Log an audit to MLflow: params from the spec, metrics, tags, and the report files.

MLflow is imported here only, when logging, so that the CLI starts fast. A client is built
for the tracking URI given; no global MLflow state is changed.
"""

from __future__ import annotations

import json
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
    validation = document.get("data_validation")
    if validation:
        results = validation["results"]
        metrics["data_validation/expectations"] = len(results)
        metrics["data_validation/failed"] = sum(not r["success"] for r in results)
        metrics["data_validation/failed_errors"] = validation["failed_errors"]
    return metrics


_FAMILIES = {"group_metric": "fairness", "score_metric": "fairness"}


def _family(check_type: str) -> str:
    return _FAMILIES.get(check_type, "explainability")


def _dataset_input(document: dict[str, Any]):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    data, prov = document["data"], document["provenance"]
    dataset = Dataset(
        name=Path(str(data["path"])).name,
        digest=str(prov["data_sha256"])[:36],
        source_type="local",
        source=json.dumps({"uri": str(data["path"])}),
        profile=json.dumps({"num_rows": data["rows"]}),
    )
    return DatasetInput(dataset=dataset, tags=[InputTag(key="mlflow.data.context", value="audit")])


def log_audit(
    document: dict[str, Any],
    files: dict[str, Path],
    *,
    tracking_uri: str,
    experiment: str | None = None,
    model_id: str | None = None,
) -> dict[str, str]:
    """Log one audit as one MLflow run (with a child run per check family).

    Parameters
    ----------
    document : dict
        The results document.
    files : dict of str to Path
        The rendered files and charts, logged as artifacts of the parent run.
    tracking_uri : str
        Where to log. With a local ``sqlite:`` store the artifacts go next to the database.
    experiment : str, optional
        Experiment name; defaults to ``fairgate/<spec experiment or name>``.
    model_id : str, optional
        The MLflow logged model audited, linked as the run's model input (lineage).

    Returns
    -------
    dict
        ``run_id``, ``experiment_id``, ``artifact_uri`` and ``report_uri``.
    """
    from mlflow.entities import LoggedModelInput, Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    spec = document["spec"]
    name = experiment or f"fairgate/{spec['content'].get('experiment') or spec['name']}"
    found = client.get_experiment_by_name(name)
    if found is None:
        location = None
        if tracking_uri.startswith("sqlite:///"):
            location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
        try:
            experiment_id = client.create_experiment(name, artifact_location=location)
        except Exception:  # created meanwhile by a concurrent audit
            experiment_id = client.get_experiment_by_name(name).experiment_id
    else:
        experiment_id = found.experiment_id
    prov = document["provenance"]
    tags = {
        "fairgate.verdict": document["verdict"],
        "fairgate.exit_code": str(document["exit_code"]),
        "fairgate.spec_name": spec["name"],
        "fairgate.spec_sha256": prov["spec_sha256"],
        "fairgate.data_sha256": str(prov["data_sha256"]),
        "fairgate.model_sha256": str(prov["model_sha256"]),
        "fairgate.model_uri": str(document["model"]["uri"]),
        "fairgate.version": str(prov["fairgate_version"]),
        "fairgate.git_commit": str(prov["git_commit"]),
        "fairgate.audit_id": document["run"]["audit_id"],
        "fairgate.data_validation": (
            "not run"
            if not document.get("data_validation")
            else "pass"
            if document["data_validation"]["success"]
            else "fail"
        ),
    }
    run_name = f"{spec['name']} · {document['verdict']} · {document['run']['started_at']}"
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    run_id = run.info.run_id
    try:
        params = [Param(k, v) for k, v in _params(document).items()]
        metrics = [Metric(k, float(v), 0, 0) for k, v in _metrics(document).items()]
        for i in range(0, len(params), 100):
            client.log_batch(run_id, params=params[i : i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000])
        client.log_inputs(
            run_id,
            datasets=[_dataset_input(document)],
            models=[LoggedModelInput(model_id)] if model_id else None,
        )
        for path in files.values():
            client.log_artifact(run_id, str(path))
        _log_families(client, experiment_id, run_id, document)
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    artifact_uri = run.info.artifact_uri
    return {
        "run_id": run_id,
        "experiment_id": experiment_id,
        "artifact_uri": artifact_uri,
        "uri": artifact_uri,
        "report_uri": f"{artifact_uri}/report.html",
    }


def _log_families(client: Any, experiment_id: str, parent: str, document: dict[str, Any]) -> None:
    """One child run per check family (fairness, explainability), for navigation."""
    from mlflow.entities import Metric

    families: dict[str, list[dict[str, Any]]] = {}
    for check in document["checks"]:
        families.setdefault(_family(check["type"]), []).append(check)
    for family, checks in families.items():
        statuses = sorted({c["status"] for c in checks})
        child = client.create_run(
            experiment_id,
            run_name=f"{document['spec']['name']} · {family}",
            tags={
                "mlflow.parentRunId": parent,
                "fairgate.family": family,
                "fairgate.statuses": ",".join(statuses),
            },
        )
        metrics = [
            Metric(metric_key("check", c["name"]), float(c["value"]), 0, 0)
            for c in checks
            if c["value"] is not None
        ]
        if metrics:
            client.log_batch(child.info.run_id, metrics=metrics)
        client.set_terminated(child.info.run_id, status="FINISHED")
