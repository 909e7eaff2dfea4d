"""A REST model's URL carrying an API key in its query string: the audit reaches the model
with it, and the key appears in no evidence file, MLflow store, ledger or console output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import skops.io as sio
import yaml

from .bad_inputs_support import assert_no_secret
from .conftest import CREDIT, ROOT, SPECS, policy_inlined
from .servers import KServeV2Server, free_port
from .test_attestation import write_key_pair

TOKEN = "S3CR3T-TOKEN-1234"
PASSWORD = "pw-8d41c7"
QUERY = f"?api_key={TOKEN}&x=1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"https://svc:{PASSWORD}@models.example.org:8443/v1/score{QUERY}#{TOKEN}",
            "https://***@models.example.org:8443/v1/score?api_key=***&x=***#***",
        ),
        (f"http://127.0.0.1:9/{QUERY}", "http://127.0.0.1:9/?api_key=***&x=***"),
        (f"http://127.0.0.1:9/?{TOKEN}", "http://127.0.0.1:9/?***"),
        ("http://127.0.0.1:5000/a/b", "http://127.0.0.1:5000/a/b"),
        ("sqlite:////tmp/s/mlflow.db", "sqlite:////tmp/s/mlflow.db"),
        ("models:/credit@candidate", "models:/credit@candidate"),
    ],
)
def test_a_url_is_shown_with_its_credentials_and_query_values_masked(url, shown):
    from models_under_test import public_uri, scrub
    from reports import describe_store

    assert public_uri(url) == shown == describe_store(url)
    said = scrub(f"POST {url} failed: 401 for {PASSWORD} and key {TOKEN}", url)
    assert said.startswith("POST ") and "failed: 401 for" in said
    for secret in (TOKEN, PASSWORD):  # a secret of the URL is masked, other text kept
        assert (secret in said) == (secret not in url), said


def _rest_spec(tmp_path, url: str):
    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text()))
    spec["checks"] = [c for c in spec["checks"] if "metric" in c]  # decisions only
    spec["data"]["path"] = str(ROOT / spec["data"]["path"])
    spec["model"] = {
        "kind": "rest",
        "url": url,
        "protocol": "kserve",
        "model_name": "credit",
        "retries": 1,
        "backoff_s": 0.01,
        "timeout_s": 5,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _fairgate(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "passive"}
    return subprocess.run(
        [sys.executable, "-m", "audits", *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _store_values(tracking_uri: str) -> list[str]:
    """Every param, tag and run name of every run in the store."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments])
    assert runs, "the audit logged no MLflow run"
    values = []
    for run in runs:
        values += [f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items()]
        values.append(run.info.run_name or "")
    return values


def test_an_api_key_in_the_url_reaches_the_model_and_no_output(tmp_path):
    path = CREDIT / "v2" / "model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    server = KServeV2Server(model, "credit")
    store = tmp_path / "store"
    tracking = f"sqlite:///{store / 'mlflow.db'}"
    out, ledger = tmp_path / "evidence", tmp_path / "ledger.jsonl"
    private, _ = write_key_pair(tmp_path, "ed25519")
    try:
        spec = _rest_spec(tmp_path, f"{server.url}/{QUERY}")
        done = _fairgate(
            tmp_path, "run", spec, "--tracking-uri", tracking, "--ledger", ledger,
            "--signing-key", private, "--out", out,
        )  # fmt: skip
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    # The model was reached, with the key: every request carried the query string.
    assert server.requests >= 1
    assert set(server.seen_queries) == {QUERY[1:]}
    doc = json.loads((out / "results.json").read_text())
    assert doc["verdict"] == "pass" and doc["model"]["endpoint"]["requests"] == server.requests
    shown = f"{server.url}/?api_key=***&x=***"
    assert doc["spec"]["content"]["model"]["url"] == shown
    assert doc["model"]["uri"] == doc["model"]["endpoint"]["url"] == shown
    # The provenance hashes the spec file as written (with its key), not the shown copy.
    import hashlib

    assert doc["provenance"]["spec_sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest()
    assert (out / "attestation.intoto.jsonl").is_file() and ledger.is_file()
    assert any((store / "artifacts").rglob("results.json"))  # the artifacts were logged
    values = _store_values(tracking)
    assert any(shown in v for v in values)  # the endpoint is named, masked
    assert_no_secret(TOKEN, out, store, ledger, outputs=[done.stdout, done.stderr, *values])
    assert_no_secret("api_key=S3CR3T", out, store, ledger)


def test_an_unreachable_endpoint_says_where_without_the_key(tmp_path):
    port = free_port()  # nothing listens there
    spec = _rest_spec(tmp_path, f"http://127.0.0.1:{port}/{QUERY}")
    out = tmp_path / "evidence"
    done = _fairgate(tmp_path, "run", spec, "--no-mlflow", "--out", out)
    assert done.returncode == 2, done.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["verdict"] == "error" and doc["model"]["endpoint"]["requests"] == 2
    said = json.dumps(doc["errors"])
    assert f"127.0.0.1:{port}/v2/models/credit/infer?api_key=***&x=***" in said, said
    assert "failed after 2 attempts" in said
    assert_no_secret(TOKEN, out, outputs=[done.stdout, done.stderr])


def test_a_password_in_the_url_is_refused_unshown(tmp_path):
    port = free_port()
    spec = _rest_spec(tmp_path, f"http://svc:{PASSWORD}@127.0.0.1:{port}/{QUERY}")
    out = tmp_path / "evidence"
    done = _fairgate(tmp_path, "run", spec, "--no-mlflow", "--out", out)
    assert done.returncode == 4 and "model.url must not hold credentials" in done.stderr
    assert not out.exists()  # nothing was audited
    for secret in (PASSWORD, TOKEN):
        assert_no_secret(secret, tmp_path / "evidence", outputs=[done.stdout, done.stderr])


def test_a_url_of_another_scheme_is_refused_with_its_key_masked(tmp_path, fairgate):
    spec = _rest_spec(tmp_path, f"ftp://127.0.0.1:9/{QUERY}")
    code, out, err = fairgate("validate", spec)
    assert code == 4, err
    assert (
        "model.url must start with http:// or https://. Got 'ftp://127.0.0.1:9/?api_key=***&x=***'"
        in err
    )
    assert TOKEN not in out + err
