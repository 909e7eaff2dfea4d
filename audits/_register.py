"""Gather the audits for the committee's register: from an MLflow tracking store (the
results.json each audit run logged, its charts, its tagged verdict), from evidence folders,
and what is known of each system in service (its registry aliases, its breaker's state).

Every results document is checked as ``fairgate render`` checks it: a document whose verdict
or exit code is not the one its checks and errors imply is refused, never shown.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Gathered",
    "RegisterError",
    "breaker_states",
    "from_evidence",
    "from_mlflow",
    "read_audit",
]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODELS = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))?$")


class RegisterError(ValueError):
    """An audit named on the command line cannot be read as a consistent results document."""


@dataclass
class Gathered:
    """What was found: one entry per audit, per-system context, and what could not be read."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _number(value: Any) -> bool:
    """Nothing, or a finite number (as :func:`~audits._document.finite_number` judges)."""
    from ._document import finite_number

    return value is None or finite_number(value)


def _shape(document: dict[str, Any]) -> str | None:
    """What in a document's identity or numbers no fairgate run writes (a hand edit), else
    ``None``: names the site's paths are made from, and the values its charts draw."""
    spec, run = document.get("spec"), document.get("run")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return "spec.name must be a string"
    content = spec.get("content") or {}
    if not isinstance(content, dict) or not isinstance(content.get("experiment", ""), str | None):
        return "spec.content.experiment must be a string"
    if not isinstance(run, dict) or not isinstance(run.get("audit_id"), str):
        return "run.audit_id must be a string"
    for i, check in enumerate(document.get("checks") or []):
        if not isinstance(check, dict):
            return f"checks[{i}] must be a mapping"
        if not isinstance(check.get("name"), str):  # diff and the site key checks by name
            return f"checks[{i}].name must be a string"
        ci = check.get("ci") or []
        if not _number(check.get("value")) or not isinstance(ci, list):
            return f"checks[{i}].value must be a finite number or null"
        if not all(_number(x) for x in ci):
            return f"checks[{i}].ci must hold finite numbers"
    return None


def _consistent(document: dict[str, Any], where: str) -> dict[str, Any]:
    from ._document import contradictions, verdict_of

    problem = _shape(document)
    if problem:
        raise RegisterError(f"{where} is not a fairgate results document: {problem}.")
    try:
        verdict, code = verdict_of(document)
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise RegisterError(f"{where} is not a fairgate results document: {err}") from err
    problems = contradictions(document)
    if problems:
        raise RegisterError(f"{where} is not a consistent results document: {'; '.join(problems)}")
    if (document.get("verdict"), document.get("exit_code")) != (verdict.value, int(code)):
        raise RegisterError(
            f"{where} states the verdict {document.get('verdict')!r}, but its checks and errors "
            f"imply {verdict.value!r}: refused."
        )
    return document


def _load(path: Path) -> dict[str, Any]:
    from reports import load_results

    try:
        return _consistent(load_results(path), str(path))
    except (OSError, ValueError) as err:
        if isinstance(err, RegisterError):
            raise
        raise RegisterError(f"{path} is not a readable fairgate results document: {err}") from err


def _results_path(target: Path) -> Path:
    return target / "results.json" if target.is_dir() else target


def from_evidence(folders: list[Path], into: Gathered) -> None:
    """Add the audit of each evidence folder (or results.json path) to ``into``.

    Raises
    ------
    RegisterError
        When one of them holds no consistent results document (bad usage: it was named).
    """
    from reports import load_artifacts

    for folder in folders:
        path = _results_path(Path(folder))
        document = _load(path)
        into.entries.append(
            {
                "document": document,
                "images": load_artifacts(document, path.parent),
                "source": str(path),
            }
        )


def read_audit(target: str, *, tracking_uri: str | None) -> dict[str, Any]:
    """One audit for ``fairgate diff``: a results.json path, an evidence folder, or the id of
    an MLflow run that logged one (with ``tracking_uri``)."""
    path = Path(target)
    if path.exists():
        return _load(_results_path(path))
    if _RUN_ID.match(target) and tracking_uri:
        from reports import tracking_client

        client = tracking_client(tracking_uri)
        return _run_document(client, target)
    raise RegisterError(
        f"{target!r} must be a results.json file, an evidence folder holding one, or an MLflow "
        "run id (32 hex digits, with --tracking-uri). It is none of these."
    )


def _run_document(client: Any, run_id: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fairgate-register-") as tmp:
        try:
            local = client.download_artifacts(run_id, "results.json", tmp)
        except Exception as err:
            raise RegisterError(f"MLflow run {run_id} has no readable results.json: {err}") from err
        return _load(Path(local))


def _images(client: Any, run_id: str, document: dict[str, Any]) -> dict[str, bytes]:
    """The PNG charts the report embeds, downloaded from the run's artifacts."""
    found = {}
    with tempfile.TemporaryDirectory(prefix="fairgate-register-") as tmp:
        for name in document.get("artifacts", []):
            if not str(name).endswith(".png") or "/" in str(name):
                continue
            try:
                found[name] = Path(client.download_artifacts(run_id, name, tmp)).read_bytes()
            except Exception:  # a chart missing: the report says less, the verdict is intact
                continue
    return found


def _runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    runs, token = [], None
    while True:
        page = client.search_runs(experiment_ids, max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _version_verdict(tags: dict[str, str]) -> str | None:
    """What a version's audits say: the newest audit's verdict (``fairgate.verdict``), unless
    another spec's newest audit of it (``fairgate.<spec>.verdict``) did not pass, which is
    then named: a lenient spec's later pass never hides a strict spec's fail."""
    from ._promotion import PASSING

    head, tail = "fairgate.", ".verdict"
    blocking = sorted(
        f"{verdict} ({key[len(head) : -len(tail)]})"
        for key, verdict in tags.items()
        if key.startswith(head) and key.endswith(tail) and len(key) > len(head + tail)
        if verdict not in PASSING
    )
    return "; ".join(blocking) if blocking else tags.get("fairgate.verdict")


def _registry(client: Any, model_uri: str) -> dict[str, Any] | None:
    """The registered model behind ``models:/...``: its aliases (alias to version) and, per
    version, the audit and verdict fairgate tagged on it."""
    match = _MODELS.match(str(model_uri))
    if not match:
        return None
    try:
        model = client.get_registered_model(match["name"])
        found = client.search_model_versions(f"name = '{match['name']}'")
    except Exception:
        return None
    versions = {
        str(v.version): {
            "verdict": _version_verdict(v.tags or {}),
            "audit_id": (v.tags or {}).get("fairgate.audit_id"),
        }
        for v in found
    }
    return {
        "name": model.name,
        "aliases": dict(sorted((model.aliases or {}).items())),
        "versions": versions,
    }


def from_mlflow(tracking_uri: str, into: Gathered) -> None:
    """Add every audit run in the store's ``fairgate/...`` experiments to ``into``, with the
    breaker state of the latest monitor run and the registry aliases of each system.

    A run that holds no consistent results.json is listed in ``into.problems``; a store that
    cannot be read raises :class:`RuntimeError`.
    """
    from reports import describe_store, scrub, system_key, tracking_client

    try:
        client = tracking_client(tracking_uri)
        experiments = client.search_experiments(filter_string="name LIKE 'fairgate/%'")
        runs = _runs(client, [e.experiment_id for e in experiments]) if experiments else []
    except Exception as err:
        raise RuntimeError(
            f"The MLflow tracking store {describe_store(tracking_uri)} cannot be read: "
            f"{scrub(str(err), tracking_uri)}"
        ) from err
    monitors: dict[str, Any] = {}
    for run in runs:
        tags = run.data.tags
        if tags.get("fairgate.kind") == "monitor" and "fairgate.breaker" in tags:
            name = tags.get("fairgate.spec_name", "")
            if name not in monitors or run.info.start_time > monitors[name].info.start_time:
                monitors[name] = run
            continue
        if "fairgate.audit_id" not in tags or "mlflow.parentRunId" in tags:
            continue
        if run.info.status != "FINISHED" or "fairgate.verdict" not in tags:
            into.problems.append(
                f"MLflow run {run.info.run_id} ({tags.get('fairgate.spec_name')}) did not "
                f"finish ({run.info.status}): not shown."
            )
            continue
        try:
            document = _run_document(client, run.info.run_id)
        except RegisterError as err:
            into.problems.append(scrub(str(err), tracking_uri))
            continue
        into.entries.append(
            {
                "document": document,
                "images": _images(client, run.info.run_id, document),
                "source": f"MLflow run {run.info.run_id}",
                "tagged_verdict": tags.get("fairgate.verdict"),
            }
        )
    for entry in into.entries:
        document = entry["document"]
        ctx = into.context.setdefault(system_key(document), {})
        registry = _registry(client, document["model"].get("uri"))
        if registry:
            ctx["registry"] = registry
        monitor = monitors.get(document["spec"]["name"])
        if monitor is not None:
            ctx.setdefault("monitors", []).append(
                {
                    "state": monitor.data.tags["fairgate.breaker"],
                    "updated_at": _iso(monitor.info.start_time),
                    "version": document["spec"]["name"],
                }
            )


def _iso(millis: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(millis / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def breaker_states(state_dir: Path, into: Gathered) -> None:
    """Settle each system's breaker: its newest state, from the monitor's state files in
    ``state_dir`` (``<spec name>.json``) or its MLflow monitor runs."""
    from reports import system_key

    for entry in into.entries:
        name = entry["document"]["spec"]["name"]
        ctx = into.context.setdefault(system_key(entry["document"]), {})
        path = Path(state_dir) / f"{name}.json"
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(state, dict) and "state" in state:
            ctx.setdefault("monitors", []).append(
                {"state": state["state"], "updated_at": state.get("updated_at"), "version": name}
            )
    for ctx in into.context.values():
        found = [m for m in ctx.pop("monitors", []) if m.get("updated_at")]
        if found:
            ctx["breaker"] = max(found, key=lambda m: str(m["updated_at"]))
