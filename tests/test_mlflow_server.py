"""The registry gate and deployed endpoints, against a real MLflow tracking server and real
MLflow model servers started here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pandas as pd
import pytest
import skops.io as sio
import yaml

from .conftest import CREDIT, ROOT, SPECS, policy_inlined
from .servers import start_model_server, start_tracking_server, stop

NAME = "credit-scoring"
FAIRNESS_ONLY = ("group_metric",)
#: The skops types of the registered versions, inspected (the registry's own list is not used).
TRUSTED_TYPES = ["sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch"]


def _load(version: str):
    path = CREDIT / version / "model.skops"
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    url, proc = start_tracking_server(root)
    yield url, root
    stop(proc)


@pytest.fixture(scope="module")
def registry(server):
    """Versions 1 (the remediated v2: in production), 2 (the naive v1), 3 (v2 again)."""
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    url, _ = server
    client = MlflowClient(tracking_uri=url)
    mlflow.set_tracking_uri(url)
    try:
        for version in ("v2", "v1", "v2"):
            path = CREDIT / version / "model.skops"
            with mlflow.start_run(run_name=f"register {version}"):
                mlflow.sklearn.log_model(
                    _load(version),
                    name="model",
                    registered_model_name=NAME,
                    serialization_format="skops",
                    skops_trusted_types=sio.get_untrusted_types(file=path),
                )
    finally:
        mlflow.set_tracking_uri(None)
    client.set_registered_model_alias(NAME, "production", "1")
    return client


def _spec(write_spec, uri: str, checks=FAIRNESS_ONLY, **model):
    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v1.yaml").read_text()))
    spec["name"] = "credit-scoring-registry"
    spec["experiment"] = "credit-scoring"
    spec["checks"] = [c for c in spec["checks"] if c.get("type", "group_metric") in checks]
    spec["model"] = {"kind": "mlflow", "uri": uri, "trusted_types": TRUSTED_TYPES, **model}
    return write_spec(spec)


def test_a_failing_version_never_gets_the_alias(
    registry, server, write_spec, fairgate, in_repo, tmp_path
):
    url, _ = server
    registry.set_registered_model_alias(NAME, "candidate", "2")
    code, _, err = fairgate(
        "run",
        _spec(write_spec, f"models:/{NAME}@candidate"),
        "--tracking-uri",
        url,
        "--promote",
        "production",
        "-q",
        "--out",
        tmp_path / "o",
    )
    assert code == 1, err
    assert registry.get_model_version_by_alias(NAME, "production").version == "1"
    tags = registry.get_model_version(NAME, "2").tags
    assert tags["fairgate.verdict"] == "fail"
    assert tags["fairgate.report"].endswith("/report.html")
    assert "fairgate.promoted_to" not in tags
    run = registry.get_run(tags["fairgate.run_id"])
    assert run.data.tags["fairgate.verdict"] == "fail"
    assert run.inputs.dataset_inputs[0].dataset.digest  # lineage: the audit data
    version = registry.get_model_version(NAME, "2")
    assert [m.model_id for m in run.inputs.model_inputs] == [
        version.model_id or version.source.removeprefix("models:/")
    ]  # and the model
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert tags["fairgate.spec_sha256"] == doc["provenance"]["spec_sha256"]


def test_a_passing_version_is_promoted_with_who_and_when(
    registry, server, write_spec, fairgate, in_repo, tmp_path
):
    url, _ = server
    registry.set_registered_model_alias(NAME, "candidate", "3")
    code, _, err = fairgate(
        "run",
        _spec(write_spec, f"models:/{NAME}@candidate"),
        "--tracking-uri",
        url,
        "--promote",
        "production",
        "-q",
        "--out",
        tmp_path / "o",
    )
    assert code == 0, err
    assert registry.get_model_version_by_alias(NAME, "production").version == "3"
    tags = registry.get_model_version(NAME, "3").tags
    assert tags["fairgate.verdict"] == "pass" and tags["fairgate.promoted_to"] == "production"
    assert tags["fairgate.promoted_by"] and tags["fairgate.promoted_at"].endswith("Z")
    exp = registry.get_experiment_by_name("fairgate/credit-scoring")
    children = registry.search_runs(
        [exp.experiment_id], f"tags.mlflow.parentRunId = '{tags['fairgate.run_id']}'"
    )
    assert {r.data.tags["fairgate.family"] for r in children} == {"fairness"}


def test_a_version_changed_after_its_audit_is_refused(registry, server, in_repo):
    from audits import run_audit
    from audits._registry_gate import PromotionRefused, promote, resolve_version

    url, root = server
    registry.set_registered_model_alias(NAME, "candidate", "3")
    ref = resolve_version(f"models:/{NAME}@candidate", registry)
    spec_path = SPECS / "credit_scoring_v2.yaml"
    spec = policy_inlined(yaml.safe_load(spec_path.read_text()))
    spec["checks"] = spec["checks"][:2]
    spec["model"] = {"kind": "mlflow", "uri": f"models:/{NAME}/3", "trusted_types": TRUSTED_TYPES}
    from audits import parse_spec

    result = run_audit(spec_path, spec=parse_spec(spec), tracking_uri=url)
    assert result.document["verdict"] == "pass"
    # Someone rewrites the version's files in the artifact store after the audit.
    version = registry.get_model_version(NAME, "3")
    model_id = version.model_id or version.source.rsplit("/", 1)[-1]
    model_dir = next(p.parent for p in (root / "artifacts").rglob("MLmodel") if model_id in str(p))
    (model_dir / "MLmodel").write_text((model_dir / "MLmodel").read_text() + "\n# changed\n")
    before = registry.get_model_version_by_alias(NAME, "production").version
    with pytest.raises(PromotionRefused, match="changed after the audit"):
        promote(registry, ref, "production", result.document, tracking_uri=url)
    assert registry.get_model_version_by_alias(NAME, "production").version == before


@pytest.fixture(scope="module")
def model_server(registry, server):
    url, _ = server
    endpoint, proc = start_model_server(f"models:/{NAME}/1", url)
    yield endpoint, proc
    stop(proc)


def test_rest_decisions_equal_the_in_process_model(model_server):
    from models_under_test import load_model

    endpoint, _ = model_server
    data = pd.read_csv(CREDIT / "data" / "audit.csv")
    features = data.drop(columns="good_credit")
    adapter = load_model("rest", url=endpoint, batch_size=250)
    remote = adapter.predict(features)
    assert (remote == _load("v2").predict(features)).all() and len(remote) == 600
    assert adapter.stats["requests"] == 3 and adapter.stats["retries"] == 0


def test_rest_audit_records_the_endpoint(
    model_server, write_spec, fairgate, in_repo, tmp_path, monkeypatch
):
    endpoint, _ = model_server
    monkeypatch.setenv("FAIRGATE_TEST_TOKEN", "s3cret-token-value")
    spec = yaml.safe_load(_spec(write_spec, "models:/x/1").read_text())
    spec["model"] = {
        "kind": "rest",
        "url": endpoint,
        "batch_size": 200,
        "headers_from_env": {"Authorization": "FAIRGATE_TEST_TOKEN"},
    }
    out = tmp_path / "o"
    code, _, _ = fairgate("run", write_spec(spec, "rest.yaml"), "--no-mlflow", "-q", "--out", out)
    doc = json.loads((out / "results.json").read_text())
    assert code == 0 and doc["model"]["endpoint"]["requests"] == 3
    assert doc["model"]["endpoint"]["url"] == endpoint
    for path in out.iterdir():
        assert "s3cret-token-value" not in path.read_text(errors="ignore")


def test_a_server_killed_mid_audit_is_an_error_never_a_pass(
    registry, server, write_spec, in_repo, tmp_path
):
    url, _ = server
    endpoint, proc = start_model_server(f"models:/{NAME}/1", url)
    spec = yaml.safe_load(_spec(write_spec, "models:/x/1").read_text())
    spec["model"] = {
        "kind": "rest",
        "url": endpoint,
        "batch_size": 50,
        "retries": 2,
        "backoff_s": 0.2,
        "rate_limit_per_s": 4,
    }
    path = write_spec(spec, "killed.yaml")
    killer = threading.Timer(1.5, stop, args=(proc,))
    killer.start()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "audits.cli",
                "run",
                str(path),
                "--tracking-uri",
                url,
                "-q",
                "--out",
                str(tmp_path / "o"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_WAIT_POLICY": "passive"},
        )
    finally:
        killer.cancel()
        stop(proc)
    assert done.returncode == 2, done.stderr
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert doc["verdict"] == "error" and doc["errors"][0]["type"] == "PredictionError"
    exp = registry.get_experiment_by_name("fairgate/credit-scoring")
    query = f"tags.`fairgate.audit_id` = '{doc['run']['audit_id']}'"
    runs = registry.search_runs([exp.experiment_id], query)
    assert [r.data.tags["fairgate.verdict"] for r in runs] == ["error"]


def test_two_concurrent_audits_both_log_everything(server, in_repo, tmp_path):
    from mlflow.tracking import MlflowClient

    url, _ = server
    procs = {}
    for version in ("v1", "v2"):
        spec = yaml.safe_load((SPECS / f"credit_scoring_{version}.yaml").read_text())
        spec["name"] = f"concurrent-{version}"
        spec["experiment"] = f"concurrent-{version}"
        spec["checks"] = [c for c in spec["checks"] if "type" not in c]
        path = tmp_path / f"{version}.yaml"
        path.write_text(yaml.safe_dump(spec))
        procs[version] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "audits.cli",
                "run",
                str(path),
                "--tracking-uri",
                url,
                "-q",
                "--out",
                str(tmp_path / version),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_WAIT_POLICY": "passive"},
        )
    codes = {v: p.wait(timeout=300) for v, p in procs.items()}
    assert codes == {"v1": 1, "v2": 0}
    client = MlflowClient(tracking_uri=url)
    for version in ("v1", "v2"):
        doc = json.loads((tmp_path / version / "results.json").read_text())
        exp = client.get_experiment_by_name(f"fairgate/concurrent-{version}")
        runs = client.search_runs(
            [exp.experiment_id], f"tags.`fairgate.audit_id` = '{doc['run']['audit_id']}'"
        )
        (run,) = runs
        expected = sum(c["value"] is not None for c in doc["checks"])
        assert sum(k.startswith("check/") for k in run.data.metrics) == expected
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"results.json", "junit.xml", "summary.md", "report.html"} <= names
        assert run.info.status == "FINISHED"
