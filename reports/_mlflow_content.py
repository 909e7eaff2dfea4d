"""What an audit's MLflow run holds: params from the spec, metrics under the disclosure rule,
the tags it is created with, its dataset input, and the check families of its child runs.

MLflow is imported here only when a dataset input is built; see :mod:`reports._mlflow` for the
run itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ._gaming import GAMING_TYPES, value_hidden
from ._mlflow_store import describe_store
from ._suppress import disclose, group_values, suppressed, withheld_values
from ._waiver_text import waiver_line

__all__ = ["metric_key"]


_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


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


def _without_credentials(uri: Any) -> Any:
    """A URL with user, password and query values as ``***`` (they may hold secrets)."""
    if not isinstance(uri, str) or "://" not in uri:
        return uri
    return describe_store(uri)


def _params(document: dict[str, Any]) -> dict[str, str]:
    content = dict(document["spec"]["content"])
    model = dict(content.get("model") or {})
    for key in ("url", "tracking_uri"):
        if key in model:
            model[key] = _without_credentials(model[key])
    content["model"] = model
    checks = content.pop("checks", [])
    params = _flatten("", content)
    params["checks.count"] = str(len(checks))
    for i, check in enumerate(checks):
        params[f"checks.{i}"] = ", ".join(
            f"{k}={v}" for k, v in check.items() if v not in (None, [], "")
        )[:6000]
    return params


def _metrics(document: dict[str, Any]) -> dict[str, float]:
    """Check values, group values and group sizes, under the disclosure rule (a group value
    or size that shows or recovers a count under 11 is not logged; results.json, logged as
    an artifact, keeps the exact aggregates)."""
    metrics: dict[str, float] = {}
    withheld = withheld_values(document)
    for check in document["checks"]:
        hidden = value_hidden(check) or check["name"] in withheld
        if check["value"] is not None and not hidden:
            metrics[metric_key("check", check["name"])] = check["value"]
        disclosed = group_values(check, document=document)
        for group, g in check["by_group"].items():
            if g.get("value") is not None and disclosed[group].rate is not None:
                metrics[metric_key("group", check["metric"], group)] = g["value"]
    sizes = {group: counts["n"] for group, counts in document["groups"].items()}
    hidden = suppressed(sizes)
    for group, n in sizes.items():
        if group not in hidden:
            metrics[metric_key("n", group)] = n
    validation = document.get("data_validation")
    if validation:
        results = validation["results"]
        metrics["data_validation/expectations"] = len(results)
        metrics["data_validation/failed"] = sum(not r["success"] for r in results)
        metrics["data_validation/failed_errors"] = validation["failed_errors"]
    return metrics


_FAMILIES = {
    "group_metric": "fairness",
    "score_metric": "fairness",
    **dict.fromkeys(GAMING_TYPES, "gaming"),
}


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
        # the row count under the disclosure rule: none under 11 (results.json keeps it)
        profile=json.dumps({"num_rows": disclose(numerator=data["rows"]).numerator}),
    )
    return DatasetInput(dataset=dataset, tags=[InputTag(key="mlflow.data.context", value="audit")])


def _tags(document: dict[str, Any]) -> dict[str, str]:
    """The run's tags at creation: what was audited and the waivers, never the verdict."""
    prov, validation = document["provenance"], document.get("data_validation")
    waivers = document.get("waivers") or []
    states = [w.get("state", "?") for w in waivers]
    waiver_tags = {  # each waiver, and a count per state ("none" without any)
        "fairgate.waivers": ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
        or "none",
        **{
            f"fairgate.waiver.{n}": f"{w['state']}: {waiver_line(w)}"[:5000]
            for n, w in enumerate(waivers)
        },
    }
    return {
        **waiver_tags,
        "fairgate.spec_name": document["spec"]["name"],
        "fairgate.spec_sha256": prov["spec_sha256"],
        "fairgate.data_sha256": str(prov["data_sha256"]),
        "fairgate.model_sha256": str(prov["model_sha256"]),
        "fairgate.model_uri": str(document["model"]["uri"]),
        "fairgate.version": str(prov["fairgate_version"]),
        "fairgate.git_commit": str(prov["git_commit"]),
        "fairgate.audit_id": document["run"]["audit_id"],
        "fairgate.data_validation": (
            "not run" if not validation else "pass" if validation["success"] else "fail"
        ),
    }
