"""Signed evidence and the audit ledger (issue 16): sign, verify, tamper, chain, concurrency."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from audits._ledger import append_record, verify_ledger

from .bad_inputs_support import ROOT, decision_log, log_spec, run_cli, write_yaml
from .conftest import policy_inlined

EVIDENCE = ("results.json", "report.html", "summary.md", "junit.xml", "attestation.intoto.jsonl")
CREDIT = ROOT / "models_under_test" / "credit_scoring"


def write_key_pair(folder: Path, kind: str) -> tuple[Path, Path]:
    """A fresh private key (PKCS#8 PEM) and its public key (SubjectPublicKeyInfo PEM)."""
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else ec.generate_private_key(ec.SECP256R1())
    )
    private, public = folder / f"{kind}.pem", folder / f"{kind}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """One signed decision-log audit per key type: (folder, public key, ledger, data)."""
    from audits.cli import main

    base = tmp_path_factory.mktemp("signed")
    log = decision_log(base)
    spec = write_yaml(base / "spec.yaml", log_spec(log))
    made = {}
    for kind in ("ed25519", "ecdsa"):
        private, public = write_key_pair(base, kind)
        out, ledger = base / f"out-{kind}", base / f"ledger-{kind}.jsonl"
        code = main(
            [
                "run",
                str(spec),
                "--no-mlflow",
                "--out",
                str(out),
                "--signing-key",
                str(private),
                "--ledger",
                str(ledger),
                "-q",
            ]
        )
        assert code == 0
        made[kind] = (out, public, ledger, log)
    return made


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_sign_then_verify(signed, fairgate, kind):
    out, public, ledger, log = signed[kind]
    code, stdout, _ = fairgate("verify", out, "--key", public, "--data", log, "--ledger", ledger)
    assert code == 0, stdout
    for name in EVIDENCE[:4]:
        assert f"ok  {name}: sha256" in stdout
    assert "signature: valid" in stdout
    assert "the attestation is recorded in the ledger" in stdout
    envelope = json.loads((out / "attestation.intoto.jsonl").read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://fairgate.dev/attestation/audit/v1"
    results = json.loads((out / "results.json").read_text())
    predicate = statement["predicate"]
    assert (predicate["verdict"], predicate["exit_code"]) == (results["verdict"], 0)
    assert predicate["checks"] == [
        {"name": c["name"], "status": c["status"], "value": c["value"]} for c in results["checks"]
    ]
    assert statement["subject"][0]["digest"]["sha256"] == results["provenance"]["data_sha256"]


def test_the_other_key_does_not_verify(signed, fairgate):
    out = signed["ed25519"][0]
    code, stdout, _ = fairgate("verify", out, "--key", signed["ecdsa"][1])
    assert code == 1
    assert "FAILED  attestation.intoto.jsonl signature: does not verify" in stdout


@pytest.mark.parametrize("name", EVIDENCE)
def test_a_flipped_byte_in_any_evidence_file_fails_naming_it(signed, fairgate, tmp_path, name):
    out, public, _, _ = signed["ed25519"]
    copy = tmp_path / "evidence"
    shutil.copytree(out, copy)
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    code, stdout, _ = fairgate("verify", copy, "--key", public)
    assert code == 1
    failed = [line for line in stdout.splitlines() if line.startswith("FAILED")]
    assert failed and all(name in line for line in failed), stdout
    assert "NOT VERIFIED" in stdout


def test_a_deleted_evidence_file_and_other_data_fail(signed, fairgate, tmp_path):
    out, public, _, _log = signed["ed25519"]
    copy = tmp_path / "evidence"
    shutil.copytree(out, copy)
    (copy / "report.html").unlink()
    other = decision_log(tmp_path, seed=1)
    code, stdout, _ = fairgate("verify", copy, "--key", public, "--data", other)
    assert code == 1
    assert "FAILED  report.html: is missing" in stdout
    assert f"FAILED  data {other}: was changed" in stdout


def test_verify_from_a_fresh_folder_with_only_the_public_key(signed, tmp_path):
    """A committee gets the evidence folder and the public key, nothing else."""
    out, public, _, _ = signed["ecdsa"]
    shutil.copytree(out, tmp_path / "evidence")
    shutil.copy(public, tmp_path / "public.pem")
    env = {"FAIRGATE_SIGNING_KEY": "", "FAIRGATE_LEDGER": ""}
    proc = run_cli("verify", "evidence", "--key", "public.pem", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified: everything matches" in proc.stdout
    assert "(exit 0): the release may proceed" in proc.stdout  # what it decided, said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence", "public.pem"]


def test_the_model_files_are_the_subjects(fairgate, write_spec, tmp_path):
    """A model-file audit attests the model's file; verify --model tells it from another."""
    private, public = write_key_pair(tmp_path, "ed25519")
    model = CREDIT / "v1" / "model.skops"
    text = (ROOT / "audits/specs/credit_scoring_v1.yaml").read_text()
    spec = policy_inlined(yaml.safe_load(text))
    spec["model"]["uri"] = str(model)
    spec["data"]["path"] = str(CREDIT / "data" / "audit.csv")
    spec["checks"] = spec["checks"][:1]
    spec["attestation"] = {"signing_key": str(private)}  # the key from the spec this time
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_spec(spec), "--no-mlflow", "--out", out, "--ledger", tmp_path / "l.jsonl"
    )
    assert code in (0, 1), err
    code, stdout, _ = fairgate("verify", out, "--key", public, "--model", model)
    assert code == 0, stdout
    assert "matches the attested model" in stdout
    changed = tmp_path / "model.skops"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0x01
    changed.write_bytes(bytes(data))
    for other in (changed, CREDIT / "v2" / "model.skops"):
        code, stdout, _ = fairgate("verify", out, "--key", public, "--model", other)
        assert code == 1
        assert f"FAILED  {other}: sha256" in stdout and "is not the attested model" in stdout


# --- the ledger ---------------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path) -> Path:
    path = tmp_path / "ledger.jsonl"
    for i in range(5):
        append_record(path, {"audit_id": f"a{i}", "verdict": "pass", "exit_code": 0})
    assert verify_ledger(path) == []
    return path


def _edit(lines: list[str]) -> list[str]:
    record = json.loads(lines[2])
    record["verdict"] = "fail"
    return [*lines[:2], json.dumps(record, sort_keys=True), *lines[3:]]


def _edit_and_rehash(lines: list[str]) -> list[str]:
    from audits._ledger import record_hash

    record = json.loads(lines[2])
    record["verdict"] = "fail"
    record["hash"] = record_hash(record)
    return [*lines[:2], json.dumps(record, sort_keys=True), *lines[3:]]


def _insert(lines: list[str]) -> list[str]:
    from audits._ledger import record_hash

    record = json.loads(lines[1])
    record.update(audit_id="forged", prev=json.loads(lines[1])["hash"], seq=3)
    record["hash"] = record_hash(record)
    return [*lines[:2], json.dumps(record), *lines[2:]]


TAMPERING = {
    "edited": (_edit, 3, "was edited"),
    "edited and rehashed": (_edit_and_rehash, 4, "does not follow"),
    "deleted": (lambda lines: lines[:2] + lines[3:], 3, "does not follow"),
    "deleted first": (lambda lines: lines[1:], 1, "does not follow"),
    "reordered": (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], 2, "does not follow"),
    "inserted": (_insert, 4, "does not follow"),
    "garbled": (lambda lines: [*lines[:3], "{not json", *lines[4:]], 4, "is not a JSON record"),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_ledger_tampering_is_detected(ledger, fairgate, case):
    change, line, words = TAMPERING[case]
    lines = ledger.read_text().splitlines()
    ledger.write_text("\n".join(change(lines)) + "\n")
    code, stdout, _ = fairgate("verify", "--ledger", ledger)
    assert code == 1
    assert f"FAILED  ledger line {line}: {words}" in stdout, stdout
    # a broken chain is never extended
    from audits._ledger import LedgerError

    with pytest.raises(LedgerError, match="broken at line"):
        append_record(ledger, {"audit_id": "next"})


def test_an_intact_ledger_verifies(ledger, fairgate):
    code, stdout, _ = fairgate("verify", "--ledger", ledger)
    assert code == 0
    assert "5 records chained" in stdout


@pytest.mark.slow
def test_ten_concurrent_audits_leave_a_chain_of_ten_records(tmp_path):
    log = decision_log(tmp_path)
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(log))
    ledger = tmp_path / "ledger.jsonl"
    append_record(ledger, {"audit_id": "earlier"})
    env = {"CI": "true", "OMP_WAIT_POLICY": "passive", "PYTHONPATH": str(ROOT)}
    import os

    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "audits.cli",
                "run",
                str(spec),
                "--no-mlflow",
                "-q",
                "--out",
                str(tmp_path / f"out{i}"),
                "--ledger",
                str(ledger),
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(10)
    ]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stdout + stderr
    assert verify_ledger(ledger) == []
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, 12))
    ids = {
        json.loads((tmp_path / f"out{i}" / "results.json").read_text())["run"]["audit_id"]
        for i in range(10)
    }
    assert {r["audit_id"] for r in records[1:]} == ids


def test_the_mlflow_experiment_holds_the_ledger_head(tmp_path, fairgate):
    """With logging on, the attestation is logged and the experiment tagged with the head."""
    from mlflow.tracking import MlflowClient

    private, _public = write_key_pair(tmp_path, "ed25519")
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    ledger, tracking = tmp_path / "ledger.jsonl", f"sqlite:///{tmp_path / 'mlflow.db'}"
    for i in range(2):
        code, _, err = fairgate(
            "run",
            spec,
            "--tracking-uri",
            tracking,
            "--out",
            tmp_path / f"out{i}",
            "--signing-key",
            private,
            "--ledger",
            ledger,
        )
        assert code == 0, err
    head = json.loads(ledger.read_text().splitlines()[-1])["hash"]
    client = MlflowClient(tracking_uri=tracking)
    experiment = client.get_experiment_by_name("fairgate/bad-input-case")
    assert experiment.tags["fairgate.ledger_head"] == head
    logged = [
        {a.path for a in client.list_artifacts(run.info.run_id)}
        for run in client.search_runs([experiment.experiment_id])
    ]
    parents = [paths for paths in logged if "results.json" in paths]
    assert len(parents) == 2
    assert all("attestation.intoto.jsonl" in paths for paths in parents)


def test_verified_evidence_of_a_blocked_release_says_so(fairgate, tmp_path):
    """Authentic is not released: verify exits 0 on authentic evidence of an audit that could
    not decide, and says beside it that the release was blocked."""
    log = decision_log(tmp_path)
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(log, data={"min_group_size": 100_000}))
    private, public = write_key_pair(tmp_path, "ed25519")
    out = tmp_path / "out"
    code, _, err = fairgate("run", spec, "--no-mlflow", "--out", out, "--signing-key", private)
    assert code == 2, err  # every group is too small to judge: no release
    code, stdout, err = fairgate("verify", out, "--key", public)
    assert code == 0, stdout + err
    assert "verified: everything matches" in stdout
    assert "(exit 2): the release was BLOCKED" in stdout
    assert "may proceed" not in stdout
