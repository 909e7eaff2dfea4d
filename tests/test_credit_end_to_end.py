"""The reference credit audits end to end: v1 is blocked (exit 1), v2 released (exit 0)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio

from .conftest import CREDIT, ROOT, SPECS


def test_v1_blocked_and_v2_released_as_real_processes(tmp_path):
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    for version, expected in (("v1", 1), ("v2", 0)):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "audits.cli",
                "run",
                str(SPECS / f"credit_scoring_{version}.yaml"),
                "--out",
                str(tmp_path / version),
                "--no-mlflow",
                "--quiet",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == expected, proc.stderr
        doc = json.loads((tmp_path / version / "results.json").read_text())
        assert doc["exit_code"] == expected
        assert doc["verdict"] == ("fail" if expected else "pass")


@pytest.fixture(scope="module")
def v1_audit(tmp_path_factory):
    from audits.cli import main

    out = tmp_path_factory.mktemp("v1")
    uri = f"sqlite:///{out / 'mlflow.db'}"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = main(
            [
                "run",
                str(SPECS / "credit_scoring_v1.yaml"),
                "--out",
                str(out / "files"),
                "--tracking-uri",
                uri,
                "--quiet",
            ]
        )
    finally:
        os.chdir(cwd)
    return code, out, uri, json.loads((out / "files" / "results.json").read_text())


def test_v1_counts_are_hand_checkable(v1_audit):
    _, _, _, doc = v1_audit
    data = pd.read_csv(CREDIT / "data" / "audit.csv")
    path = CREDIT / "v1" / "model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    decided = model.predict(data.drop(columns="good_credit"))
    for sex in ("female", "male"):
        rows = data["sex"] == sex
        y, d = data.loc[rows, "good_credit"], decided[rows.to_numpy()]
        assert doc["groups"][f"sex={sex}"] == {
            "n": int(rows.sum()),
            "tp": int(((y == 1) & (d == 1)).sum()),
            "fp": int(((y == 0) & (d == 1)).sum()),
            "tn": int(((y == 0) & (d == 0)).sum()),
            "fn": int(((y == 1) & (d == 0)).sum()),
        }
    assert doc["groups"]["sex=female|age_band=<25"]["n"] == int(
        ((data.sex == "female") & (data.age_band == "<25")).sum()
    )
    assert (
        sum(g["n"] for k, g in doc["groups"].items() if k.startswith("sex=") and "|" not in k)
        == len(data)
        == doc["data"]["rows"]
        == 600
    )


def test_v1_fails_for_young_applicants_with_evidence(v1_audit):
    code, _, _, doc = v1_audit
    assert code == 1 and doc["verdict"] == "fail"
    failed = {c["name"] for c in doc["checks"] if c["status"] == "fail"}
    assert "selection_rate ratio [age_band]" in failed
    age = next(c for c in doc["checks"] if c["name"] == "selection_rate ratio [age_band]")
    assert age["value"] < 0.8 and age["details"]["worst_group"] == "age_band=<25"
    lo, hi = age["ci"]
    assert lo <= age["value"] <= hi
    for g in age["by_group"].values():  # every rate with its count and interval
        assert g["n"] >= 30 and g["ci"][0] <= g["value"] <= g["ci"][1]
    prov = doc["provenance"]
    assert len(prov["spec_sha256"]) == len(prov["data_sha256"]) == len(prov["model_sha256"]) == 64
    assert prov["seed"] == 0 and prov["fairgate_version"]


def test_v1_renderings(v1_audit):
    _, out, _, doc = v1_audit
    files = out / "files"
    suite = ET.parse(files / "junit.xml").getroot()
    assert int(suite.get("tests")) == len(doc["checks"])
    assert int(suite.get("failures")) == sum(c["status"] == "fail" for c in doc["checks"]) > 0
    summary = (files / "summary.md").read_text()
    assert summary.startswith("# BLOCKED: credit-scoring-v1")
    html = (files / "report.html").read_text()
    assert "BLOCKED" in html and "age_band=&lt;25" in html and "<script" not in html


def test_v1_is_logged_to_mlflow_with_its_artifacts(v1_audit):
    from mlflow.tracking import MlflowClient

    _, _, uri, doc = v1_audit
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("fairgate/credit-scoring")
    (run,) = [
        r
        for r in client.search_runs([exp.experiment_id])
        if "mlflow.parentRunId" not in r.data.tags
    ]
    assert run.data.tags["fairgate.verdict"] == "fail"
    assert run.data.tags["fairgate.model_sha256"] == doc["provenance"]["model_sha256"]
    assert run.data.params["data.label"] == "good_credit"
    assert run.data.tags["fairgate.data_validation"] == "pass"
    assert run.data.metrics["data_validation/failed"] == 0
    from reports import metric_key

    key = metric_key("check", "selection_rate ratio [age_band]")
    assert key == "check/selection_rate ratio _age_band_"
    assert run.data.metrics[key] == pytest.approx(
        next(c["value"] for c in doc["checks"] if c["name"] == "selection_rate ratio [age_band]")
    )
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert names == {"results.json", "junit.xml", "summary.md", "report.html"} | {
        f"explain_{c}.{e}" for c in ("importance", "beeswarm", "groups") for e in ("png", "svg")
    }
    local = client.download_artifacts(run.info.run_id, "results.json")
    logged = json.loads(Path(local).read_text())
    assert logged == doc


def test_same_inputs_and_seed_give_byte_identical_results(in_repo, fairgate, tmp_path):
    """results.json is byte-identical across runs but for its last key, the ``run`` block."""
    from audits import run_audit

    texts = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        code, _, err = fairgate(
            "run", SPECS / "credit_scoring_v2.yaml", "--no-mlflow", "-q", "--out", out,
            "--ledger", tmp_path / "ledger.jsonl",
        )  # fmt: skip
        assert code == 0, err
        texts.append((out / "results.json").read_text(encoding="utf-8"))
    heads, runs = zip(*(text.split('\n  "run": ', 1) for text in texts), strict=True)
    assert heads[0] == heads[1]
    assert runs[0] != runs[1]  # the audit ids differ
    doc = json.loads(texts[0])
    assert list(doc)[-1] == "run"  # nothing after the run block
    assert set(doc["run"]) == {
        "audit_id", "started_at", "finished_at", "python", "platform", "run_by", "ci", "seconds"
    }  # fmt: skip
    c = run_audit(SPECS / "credit_scoring_v2.yaml", seed=1).document
    assert [x["ci"] for x in doc["checks"]] != [x["ci"] for x in c["checks"]]


def test_render_a_past_audit_from_its_results(v1_audit, fairgate, tmp_path):
    _, out, _, _doc = v1_audit
    code, stdout, _ = fairgate(
        "render", out / "files" / "results.json", "--out", tmp_path / "again"
    )
    assert code == 0 and "verdict fail" in stdout  # rendered; the verdict is the document's
    assert (tmp_path / "again" / "report.html").read_text() == (
        out / "files" / "report.html"
    ).read_text()


def test_render_reads_a_schema_version_1_document(v1_audit, fairgate, tmp_path):
    """A document written before the run block (schema 1) renders to the same report."""
    _, out, _, doc = v1_audit
    old = json.loads((out / "files" / "results.json").read_text())
    run = old.pop("run")
    explain = run.pop("seconds")["explain"]
    old["schema_version"], old["audit_id"] = 1, run.pop("audit_id")
    old["provenance"].update(run)
    for check in old["checks"]:
        if check["type"] in ("sensitive_attribution", "proxy_attribution", "reason_codes"):
            check["details"]["seconds"] = explain
    folder = tmp_path / "v1"
    shutil.copytree(out / "files", folder)  # the charts beside it
    path = folder / "results.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    code, stdout, _ = fairgate("render", path, "--out", tmp_path / "again")
    assert code == 0 and doc["run"]["audit_id"] in stdout
    again = tmp_path / "again"
    assert (again / "report.html").read_text() == (out / "files" / "report.html").read_text()
    rendered = json.loads((again / "results.json").read_text())
    assert rendered["schema_version"] == 2
    assert rendered["run"] == {**doc["run"], "seconds": {"audit": None, "explain": explain}}
    assert {k: v for k, v in rendered.items() if k != "run"} == {
        k: v for k, v in doc.items() if k != "run"
    }
