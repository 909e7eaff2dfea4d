"""Hostile and mistaken MLflow set-ups (issue 10): an unreachable or unusable tracking store,
a ``models:/`` URI the registry does not know, logging that fails midway, and the files and
output MLflow itself would otherwise add. Each case runs fairgate as a real process and
asserts the exit code, that the message names the problem (and the store, without its
credentials), and that no MLflow run claims more than the exit code."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .bad_inputs_support import (
    ROOT,
    assert_exit,
    assert_no_release,
    assert_no_secret,
    decision_log,
    log_spec,
    run_cli,
    write_yaml,
)
from .conftest import policy_inlined
from .servers import free_port

SECRET = "S3cret-tracking-Pw"
#: MLflow retries an unreachable server for about four minutes by default; one try is enough
#: to see how fairgate fails.
NO_HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    """A decision log that passes the default spec and one that fails it."""
    folder = tmp_path_factory.mktemp("logs")
    return {
        "fair": decision_log(folder, name="fair.csv"),
        "unfair": decision_log(
            folder, name="unfair.csv", groups={"a": (200, 0.5, 0.7), "b": (200, 0.5, 0.3)}
        ),
    }


def _fairgate(tmp_path: Path, spec: dict, *args, env=None):
    """Run ``fairgate run`` from ``tmp_path`` with evidence in ``tmp_path/out``."""
    path = write_yaml(tmp_path / "spec.yaml", spec)
    out = tmp_path / "out"
    env = {"PYTHONPATH": str(ROOT), **(env or {})}
    return run_cli("run", path, "-q", "--out", out, *args, cwd=tmp_path, env=env), out


def _runs(uri: str, experiment: str) -> list:
    """The audit runs (not their child runs) of ``experiment``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    every = client.search_runs([found.experiment_id], "", run_view_type=3)  # deleted too
    return [r for r in every if "mlflow.parentRunId" not in r.data.tags]


@pytest.mark.parametrize("credentials", ["", f"fairgate:{SECRET}@"], ids=["plain", "credentials"])
def test_an_unreachable_tracking_server_is_no_pass(logs, tmp_path, credentials):
    port = free_port()
    proc, _ = _fairgate(
        tmp_path,
        log_spec(logs["fair"]),
        "--tracking-uri",
        f"http://{credentials}127.0.0.1:{port}",
        env=NO_HTTP_RETRIES,
    )
    shown = f"http://{'***@' if credentials else ''}127.0.0.1:{port}"  # the store, masked
    assert_exit(proc, 2, "could not be logged to MLflow", shown)
    assert_no_secret(SECRET, tmp_path, outputs=[proc.stdout, proc.stderr])


def test_evidence_of_an_unlogged_audit_claims_no_release(logs, tmp_path):
    proc, out = _fairgate(
        tmp_path,
        log_spec(logs["fair"]),
        "--tracking-uri",
        f"http://127.0.0.1:{free_port()}",
        env=NO_HTTP_RETRIES,
    )
    assert_exit(proc, 2)
    assert_no_release(out)


def test_a_store_that_cannot_be_created_is_named(logs, tmp_path):
    store = "sqlite:////proc/fairgate-store/mlflow.db"  # not writable, even by root
    proc, _ = _fairgate(tmp_path, log_spec(logs["fair"]), "--tracking-uri", store)
    assert_exit(proc, 2, f"{store} cannot be opened")


def _models_spec(logs, uri: str) -> dict:
    spec = log_spec(logs["fair"], model={"kind": "mlflow", "uri": uri})
    spec["model"].pop("column")
    return spec


@pytest.mark.parametrize(
    ("uri", "credentials"),
    [("models:/absent-model@production", ""), ("models:/absent-model/3", f"u:{SECRET}@")],
    ids=["alias-sqlite", "version-server-with-credentials"],
)
def test_a_models_uri_not_found_names_the_store_searched(logs, tmp_path, uri, credentials):
    if credentials:  # an unreachable server: the registry cannot answer at all
        store = f"http://{credentials}127.0.0.1:{free_port()}"
        shown = store.replace(credentials, "***@")  # the credentials masked
    else:
        store = shown = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    spec = _models_spec(logs, uri)
    proc, out = _fairgate(tmp_path, spec, "--tracking-uri", store, env=NO_HTTP_RETRIES)
    assert_exit(proc, 2, f"{uri} was not found in the model registry", shown)
    said = [line for line in proc.stderr.splitlines() if "was not found" in line]
    assert said and all(shown in line and SECRET not in line for line in said)
    assert_no_release(out)


def test_tracking_credentials_appear_in_no_evidence(logs, tmp_path):
    store = f"http://u:{SECRET}@127.0.0.1:{free_port()}"
    spec = _models_spec(logs, "models:/absent-model/3")
    proc, _ = _fairgate(tmp_path, spec, "--tracking-uri", store, env=NO_HTTP_RETRIES)
    assert_exit(proc, 2)
    assert_no_secret(SECRET, tmp_path, outputs=[proc.stdout, proc.stderr])


@pytest.mark.parametrize(("log", "code"), [("fair", 2), ("unfair", 1)])
def test_logging_that_fails_midway_leaves_a_failed_run_never_a_pass(logs, tmp_path, log, code):
    """The experiment's artifact location is under a regular file: the run is created and its
    params logged, then the first artifact fails."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the artifacts should go")
    MlflowClient(tracking_uri=uri).create_experiment(
        "fairgate/midway", artifact_location=(blocker / "artifacts").as_uri()
    )
    proc, _ = _fairgate(tmp_path, log_spec(logs[log], experiment="midway"), "--tracking-uri", uri)
    assert_exit(proc, code, "could not be logged to MLflow", uri)
    (run,) = _runs(uri, "fairgate/midway")
    assert run.info.status == "FAILED"
    assert run.data.tags["fairgate.verdict"] == "error"
    assert "fairgate.exit_code" not in run.data.tags
    assert " · pass · " not in run.info.run_name


def test_a_deleted_experiment_is_no_pass(logs, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    client.delete_experiment(client.create_experiment("fairgate/gone"))
    proc, _ = _fairgate(tmp_path, log_spec(logs["fair"], experiment="gone"), "--tracking-uri", uri)
    assert_exit(proc, 2, "could not be logged to MLflow", "deleted")
    assert not [r for r in _runs(uri, "fairgate/gone") if "fairgate.verdict" in r.data.tags]


def test_no_mlflow_leaves_no_store_folder(logs, tmp_path):
    proc, _ = _fairgate(tmp_path, log_spec(logs["fair"]), "--no-mlflow")
    assert_exit(proc, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "spec.yaml"]


def test_the_default_store_is_made_when_first_logged_to(logs, tmp_path):
    proc, _ = _fairgate(tmp_path, log_spec(logs["unfair"]))
    assert_exit(proc, 1)
    uri = f"sqlite:///{tmp_path.resolve() / '.fairgate' / 'mlflow.db'}"
    (run,) = _runs(uri, "fairgate/bad-input-case")
    assert run.data.tags["fairgate.exit_code"] == "1" and run.info.status == "FINISHED"


# --- a registered model: downloads must not draw MLflow's progress bars ------------------


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> tuple[str, dict]:
    """A sqlite store with the credit-scoring model v2 registered (skops), and a spec
    auditing ``models:/credit-scoring@candidate`` on its fairness checks."""
    import mlflow
    import mlflow.sklearn
    import skops.io as sio
    from mlflow.tracking import MlflowClient

    from .conftest import CREDIT, SPECS

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    path = CREDIT / "v2" / "model.skops"
    trusted = sio.get_untrusted_types(file=path)
    # Artifacts beside the store (the default, ./mlruns, would be the repository's root).
    exp = MlflowClient(tracking_uri=uri).create_experiment(
        "registered", artifact_location=(root / "artifacts").as_uri()
    )
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=exp):
            mlflow.sklearn.log_model(
                sio.load(path, trusted=trusted),
                name="model",
                registered_model_name="credit-scoring",
                serialization_format="skops",
                skops_trusted_types=trusted,
            )
    finally:
        mlflow.set_tracking_uri(None)
    MlflowClient(tracking_uri=uri).set_registered_model_alias("credit-scoring", "candidate", "1")
    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text()))
    spec["checks"] = [c for c in spec["checks"] if "type" not in c]
    spec["model"] = {
        "kind": "mlflow",
        "uri": "models:/credit-scoring@candidate",
        "trusted_types": spec["model"]["trusted_types"],
    }
    spec["data"]["path"] = str(ROOT / spec["data"]["path"])
    return uri, spec


@pytest.mark.parametrize("setting", [None, "true"])
def test_quiet_prints_no_mlflow_progress_bars(registered, tmp_path, monkeypatch, setting):
    """Off in CI and with --quiet, even when MLflow's own setting asks for them (the bars of
    a download are turned on only on a terminal; tests/test_bad_inputs_secrets.py shows that
    forcing them on makes them appear)."""
    uri, spec = registered
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    env = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": setting} if setting else {}
    proc, out = _fairgate(tmp_path, spec, "--tracking-uri", uri, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Downloading artifacts" not in proc.stderr and proc.stderr == "", proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["model"]["uri"] == "models:/credit-scoring@candidate"


# --- --no-mlflow with a registry URI: no store of MLflow's own making ----------------------


def _strays(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name in ("mlflow.db", "mlruns"))


def test_no_mlflow_with_a_registry_uri_and_no_store_is_refused(registered, tmp_path):
    """Neither --tracking-uri, MLFLOW_TRACKING_URI, model.tracking_uri nor fairgate's default
    store: exit 2 at the load stage, and MLflow creates no mlflow.db in the working folder
    (it used to, resolving against its own default)."""
    _, spec = registered
    proc, out = _fairgate(tmp_path, spec, "--no-mlflow", env={"MLFLOW_TRACKING_URI": ""})
    assert proc.returncode == 2, proc.stderr
    doc = json.loads((out / "results.json").read_text())
    (error,) = doc["errors"]
    assert error["stage"] == "load" and "no tracking store was named" in error["message"]
    assert _strays(tmp_path) == [] and not (tmp_path / ".fairgate").exists()


@pytest.mark.parametrize("named_by", ["environment", "default store"])
def test_no_mlflow_resolves_a_registry_uri_in_the_named_or_default_store(
    registered, tmp_path, named_by
):
    uri, spec = registered
    env = {"MLFLOW_TRACKING_URI": uri}
    if named_by == "default store":
        (tmp_path / ".fairgate").mkdir()
        shutil.copy(uri.removeprefix("sqlite:///"), tmp_path / ".fairgate" / "mlflow.db")
        env = {"MLFLOW_TRACKING_URI": ""}
    proc, out = _fairgate(tmp_path, spec, "--no-mlflow", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["verdict"] == "pass" and doc["errors"] == []
    assert _strays(tmp_path) == []


# --- the downloaded model's files go with the audit ----------------------------------------


@pytest.mark.parametrize("ending", ["pass", "error"])
def test_an_audit_of_a_registered_model_leaves_no_folder_in_tmp(registered, tmp_path, ending):
    """The model's files are downloaded into a temporary folder that the audit removes when
    it ends, released or stopped by an error (here: a type the spec does not trust, found
    only once the files are there)."""
    uri, spec = registered
    spec = {**spec, "model": dict(spec["model"])}
    if ending == "error":
        spec["model"]["trusted_types"] = []
    private = tmp_path / "tmp"  # this audit's TMPDIR, so that no other process's folder counts
    private.mkdir()
    proc, out = _fairgate(
        tmp_path, spec, "--no-mlflow", env={"MLFLOW_TRACKING_URI": uri, "TMPDIR": str(private)}
    )
    doc = json.loads((out / "results.json").read_text())
    if ending == "pass":
        assert proc.returncode == 0 and doc["verdict"] == "pass", proc.stderr
    else:
        assert proc.returncode == 2, proc.stderr
        (error,) = doc["errors"]
        assert error["stage"] == "load" and "trusted" in error["message"], error
    assert sorted(p.name for p in private.glob("fairgate-*")) == []


def test_an_audit_ended_by_sigterm_leaves_no_folder_in_tmp(registered, tmp_path):
    """SIGTERM once the model's files are downloaded: the audit ends through its verdict
    (exit 2) and its temporary folder goes with it."""
    uri, spec = registered
    spec = {**spec, "n_boot": 100_000}  # long enough counting to be stopped in
    private = tmp_path / "tmp"
    private.mkdir()
    path = write_yaml(tmp_path / "spec.yaml", spec)
    env = {
        **os.environ,
        "CI": "true",
        "OMP_WAIT_POLICY": "passive",
        "PYTHONPATH": str(ROOT),
        "MLFLOW_TRACKING_URI": uri,
        "TMPDIR": str(private),
    }
    out = tmp_path / "out"
    command = [sys.executable, "-m", "audits", "run", path, "-q", "--no-mlflow", "--out", out]
    proc = subprocess.Popen(
        [str(a) for a in command], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not list(private.rglob("MLmodel")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, stderr
    assert json.loads((out / "results.json").read_text())["verdict"] == "error"
    assert sorted(p.name for p in private.glob("fairgate-*")) == []
