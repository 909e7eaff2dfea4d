"""The rest adapter on the KServe v2 protocol: batches, retries, rate limit, auth, failure."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import skops.io as sio
import yaml

from models_under_test import PredictionError, load_model

from .conftest import CREDIT, SPECS, policy_inlined
from .servers import KServeV2Server


@pytest.fixture(scope="module")
def model():
    path = CREDIT / "v2" / "model.skops"
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


@pytest.fixture(scope="module")
def features():
    return pd.read_csv(CREDIT / "data" / "audit.csv").drop(columns="good_credit")


def test_kserve_decisions_equal_the_model_with_retries_rate_limit_and_auth(
    model, features, monkeypatch
):
    monkeypatch.setenv("FAIRGATE_KSERVE_TOKEN", "Bearer abc")
    server = KServeV2Server(model, "credit", fail_first=2)
    try:
        adapter = load_model(
            "rest",
            url=server.url,
            protocol="kserve",
            model_name="credit",
            batch_size=150,
            backoff_s=0.01,
            rate_limit_per_s=20,
            headers_from_env={"Authorization": "FAIRGATE_KSERVE_TOKEN"},
        )
        start = time.monotonic()
        decided = adapter.predict(features)
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert (decided == model.predict(features)).all()
    assert adapter.stats == {
        "requests": 6,
        "retries": 2,
        "failed_requests": 0,
        "model_version": "7",
    }
    assert elapsed >= 5 / 20  # six requests spaced by the rate limit
    assert all(h.get("Authorization") == "Bearer abc" for h in server.seen_headers)


def test_an_endpoint_that_keeps_failing_is_an_error(model, features):
    server = KServeV2Server(model, "credit", fail_first=10**6)
    try:
        adapter = load_model(
            "rest",
            url=server.url,
            protocol="kserve",
            model_name="credit",
            retries=2,
            backoff_s=0.01,
        )
        with pytest.raises(PredictionError, match="after 3 attempts"):
            adapter.predict(features.head(10))
    finally:
        server.close()
    assert adapter.stats["requests"] == 3 and adapter.stats["failed_requests"] == 1


def test_a_missing_auth_variable_is_an_error_not_an_anonymous_call(model, features, monkeypatch):
    monkeypatch.delenv("FAIRGATE_NO_SUCH_TOKEN", raising=False)
    adapter = load_model(
        "rest",
        url="http://127.0.0.1:9",
        protocol="kserve",
        model_name="m",
        headers_from_env={"Authorization": "FAIRGATE_NO_SUCH_TOKEN"},
    )
    with pytest.raises(PredictionError, match="FAIRGATE_NO_SUCH_TOKEN"):
        adapter.predict(features.head(3))


def test_unreachable_endpoint_audit_exits_2(write_spec, fairgate, in_repo, tmp_path):
    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text()))
    spec["checks"] = spec["checks"][:1]
    spec["model"] = {
        "kind": "rest",
        "url": "http://127.0.0.1:9",
        "retries": 1,
        "backoff_s": 0.01,
        "timeout_s": 2,
    }
    out = tmp_path / "o"
    code, _, _ = fairgate("run", write_spec(spec), "--no-mlflow", "-q", "--out", out)
    doc = json.loads((out / "results.json").read_text())
    assert code == 2 and doc["verdict"] == "error"
    assert doc["model"]["endpoint"]["requests"] == 2
