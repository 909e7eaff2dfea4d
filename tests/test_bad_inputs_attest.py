"""Hostile inputs for signed evidence and the ledger: --signing-key, FAIRGATE_SIGNING_KEY,
attestation.signing_key, --ledger, and ``fairgate verify``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .bad_inputs_support import (
    assert_no_release,
    assert_no_secret,
    decision_log,
    log_spec,
    write_yaml,
)

PASSWORD = "correct-horse-battery-staple-91"


def _pem(key, password: str | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _public(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def case(tmp_path):
    """A decision-log spec, an output folder and a ledger that must stay untouched."""
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    return tmp_path, spec, tmp_path / "out", tmp_path / "ledger.jsonl"


def _run(fairgate, spec, out, ledger, *extra):
    return fairgate("run", spec, "--no-mlflow", "-q", "--out", out, "--ledger", ledger, *extra)


KEYS = {
    # name: (file content, password in the environment, exit code, words of the message)
    "not a key": (b"hello, I am not a key\n", None, 2, ["not a PEM private key"]),
    "empty file": (b"", None, 2, ["not a PEM private key"]),
    "too big": (b"A" * 70_000, None, 2, ["more than"]),
    "encrypted, no password": (
        _pem(ed25519.Ed25519PrivateKey.generate(), PASSWORD), None, 2, ["is encrypted",
        "FAIRGATE_SIGNING_KEY_PASSWORD"]
    ),
    "encrypted, wrong password": (
        _pem(ed25519.Ed25519PrivateKey.generate(), PASSWORD), "wrong-password-x", 2,
        ["wrong password"]
    ),
    "password for a plain key": (
        _pem(ed25519.Ed25519PrivateKey.generate()), PASSWORD, 2, ["is not encrypted"]
    ),
    "rsa key": (
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), None, 2,
        ["Ed25519 or ECDSA P-256", "RSAPrivateKey"]
    ),
    "ecdsa P-384": (
        _pem(ec.generate_private_key(ec.SECP384R1())), None, 2, ["Ed25519 or ECDSA P-256"]
    ),
    "a public key": (_public(ed25519.Ed25519PrivateKey.generate()), None, 2, ["PEM private key"]),
}  # fmt: skip


@pytest.mark.parametrize("name", KEYS)
@pytest.mark.parametrize("given_by", ["option", "env", "spec"])
def test_an_unusable_signing_key_stops_the_audit(case, fairgate, monkeypatch, name, given_by):
    tmp, spec_path, out, ledger = case
    content, password, code, words = KEYS[name]
    key = tmp / "key.pem"
    key.write_bytes(content)
    if password:
        monkeypatch.setenv("FAIRGATE_SIGNING_KEY_PASSWORD", password)
    extra: tuple = ()
    if given_by == "option":
        extra = ("--signing-key", key)
    elif given_by == "env":
        monkeypatch.setenv("FAIRGATE_SIGNING_KEY", str(key))
    else:
        spec_path = write_yaml(
            tmp / "signed.yaml",
            log_spec(tmp / "log.csv", attestation={"signing_key": str(key)}),
        )
    got, stdout, stderr = _run(fairgate, spec_path, out, ledger, *extra)
    assert got == code, stdout + stderr
    for word in [*words, str(key)]:
        assert word.lower() in stderr.lower(), stderr
    assert "Nothing was audited" in stderr
    assert not out.exists() and not ledger.exists()
    assert_no_release(tmp)
    secrets = [PASSWORD, "wrong-password-x"] if password else []
    for secret in secrets:
        assert_no_secret(secret, tmp, outputs=[stdout, stderr])
    if content.startswith(b"-----BEGIN"):
        body = content.decode().splitlines()[1]
        assert_no_secret(body, outputs=[stdout, stderr])


@pytest.mark.parametrize("given_by", ["option", "env", "spec"])
def test_a_signing_key_that_does_not_exist_is_a_usage_error(case, fairgate, monkeypatch, given_by):
    tmp, spec_path, out, ledger = case
    missing = tmp / "no-such-key.pem"
    extra: tuple = ()
    if given_by == "option":
        extra = ("--signing-key", missing)
    elif given_by == "env":
        monkeypatch.setenv("FAIRGATE_SIGNING_KEY", str(missing))
    else:
        spec_path = write_yaml(
            tmp / "s.yaml", log_spec(tmp / "log.csv", attestation={"signing_key": str(missing)})
        )
    code, stdout, stderr = _run(fairgate, spec_path, out, ledger, *extra)
    assert code == 4, stdout + stderr
    assert "no-such-key.pem" in stderr
    assert any(w in stderr for w in ("does not exist", "must be an existing file")), stderr
    assert not out.exists() and not ledger.exists()


def test_a_folder_as_signing_key_is_a_usage_error(case, fairgate):
    tmp, spec_path, out, ledger = case
    code, _, stderr = _run(fairgate, spec_path, out, ledger, "--signing-key", tmp)
    assert code == 4
    assert "--signing-key" in stderr
    assert not out.exists()


def test_key_material_in_the_spec_is_refused_and_never_shown(case, fairgate):
    tmp, _, out, ledger = case
    material = _pem(ed25519.Ed25519PrivateKey.generate()).decode()
    spec = write_yaml(
        tmp / "s.yaml", log_spec(tmp / "log.csv", attestation={"signing_key": material})
    )
    code, stdout, stderr = _run(fairgate, spec, out, ledger)
    assert code == 4
    assert "attestation.signing_key must be the path of a PEM key file" in stderr
    assert_no_secret(material.splitlines()[1], out, outputs=[stdout, stderr])
    assert not out.exists()


def test_the_private_key_is_never_written(case, fairgate):
    tmp, spec_path, out, ledger = case
    key = tmp / "keys" / "key.pem"
    key.parent.mkdir()
    key.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    code, stdout, stderr = _run(fairgate, spec_path, out, ledger, "--signing-key", key)
    assert code == 0, stderr
    body = key.read_text().splitlines()[1]
    assert_no_secret(body, out, ledger, tmp / "spec.yaml", outputs=[stdout, stderr])


# --- the ledger ---------------------------------------------------------------------------


def _ledger_case(tmp: Path, kind: str) -> Path:
    if kind == "broken chain":
        from audits._ledger import append_record

        path = tmp / "ledger.jsonl"
        append_record(path, {"audit_id": "a"})
        append_record(path, {"audit_id": "b"})
        lines = path.read_text().splitlines()
        path.write_text(lines[1] + "\n")  # the first record deleted
        return path
    if kind == "a link":
        target = tmp / "elsewhere.jsonl"
        target.write_text("")
        (tmp / "ledger.jsonl").symlink_to(target)
        return tmp / "ledger.jsonl"
    if kind == "under a file":
        (tmp / "afile").write_text("x")
        return tmp / "afile" / "ledger.jsonl"
    if kind == "binary garbage":
        path = tmp / "ledger.jsonl"
        path.write_bytes(b"\x00\xff\xfe garbage\n")
        return path
    raise AssertionError(kind)


LEDGERS = {
    "broken chain": "broken at line 1",
    "a link": "cannot be opened",
    "under a file": "cannot be opened",
    "binary garbage": "broken at line 1",
}


@pytest.mark.parametrize("kind", LEDGERS)
def test_an_unusable_ledger_stops_publication(case, fairgate, kind):
    tmp, spec_path, out, _ = case
    ledger = _ledger_case(tmp, kind)
    before = ledger.read_bytes() if ledger.is_file() else None
    code, stdout, stderr = _run(fairgate, spec_path, out, ledger)
    assert code == 2, stdout + stderr
    assert LEDGERS[kind] in stderr and "Nothing was published" in stderr
    assert not out.exists()
    assert not list(tmp.glob(".out.staging-*"))
    if before is not None:
        assert ledger.read_bytes() == before
    assert_no_release(tmp)


def test_a_folder_as_ledger_is_a_usage_error(case, fairgate):
    tmp, spec_path, out, _ = case
    code, _, stderr = _run(fairgate, spec_path, out, tmp)
    assert code == 4 and "--ledger" in stderr
    assert not out.exists()


# --- fairgate verify ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    """A signed audit: (folder, private key path, public key path)."""
    from audits.cli import main

    tmp = tmp_path_factory.mktemp("evidence")
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp / "key.pem").write_bytes(_pem(key))
    (tmp / "pub.pem").write_bytes(_public(key))
    spec = write_yaml(tmp / "spec.yaml", log_spec(decision_log(tmp)))
    args = ["run", spec, "--no-mlflow", "-q", "--out", tmp / "out"]
    args += ["--signing-key", tmp / "key.pem", "--ledger", tmp / "l.jsonl"]
    assert main([str(a) for a in args]) == 0
    return tmp / "out", tmp / "key.pem", tmp / "pub.pem"


def _signed_statement(private: Path, evidence_listing: dict) -> bytes:
    """A correctly signed envelope over a statement listing ``evidence_listing``."""
    from securesystemslib.dsse import Envelope

    from audits import load_signer

    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"sha256": "0" * 64}}],
        "predicateType": "https://fairgate.dev/attestation/audit/v1",
        "predicate": {"evidence": evidence_listing},
    }
    envelope = Envelope(json.dumps(statement).encode(), "application/vnd.in-toto+json", {})
    envelope.sign(load_signer(private))
    return json.dumps(envelope.to_dict()).encode() + b"\n"


def _attestation_case(folder: Path, private: Path, kind: str) -> None:
    att = folder / "attestation.intoto.jsonl"
    if kind == "two envelopes":
        att.write_bytes(att.read_bytes() * 2)
    elif kind == "not json":
        att.write_bytes(b"{not json\n")
    elif kind == "missing":
        att.unlink()
    elif kind == "a path outside the folder":
        att.write_bytes(_signed_statement(private, {"../key.pem": {"sha256": "0" * 64}}))
    elif kind == "no results.json listed":
        att.write_bytes(_signed_statement(private, {}))
    else:
        raise AssertionError(kind)


ATTESTATIONS = {
    "two envelopes": "must hold exactly one DSSE envelope",
    "not json": "is not a DSSE envelope",
    "missing": "is missing",
    "a path outside the folder": "../key.pem: is not a plain file name",
    "no results.json listed": "results.json: is not covered by the attestation",
}


@pytest.mark.parametrize("kind", ATTESTATIONS)
def test_a_bad_attestation_does_not_verify(evidence, fairgate, tmp_path, kind):
    out, private, public = evidence
    folder = tmp_path / "copy"
    shutil.copytree(out, folder)
    _attestation_case(folder, private, kind)
    code, stdout, stderr = fairgate("verify", folder, "--key", public)
    assert code == 1, stdout + stderr
    assert ATTESTATIONS[kind] in stdout
    assert "NOT VERIFIED" in stdout and "verified: everything matches" not in stdout


def _usage(evidence: tuple[Path, Path, Path], tmp: Path, kind: str) -> tuple[list, str]:
    out, private, public = evidence
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a key")
    return {
        "nothing to verify": ([], "needs an evidence folder"),
        "no key": ([out], "--key"),
        "no such folder": ([tmp / "nope", "--key", public], "does not exist"),
        "no such key": ([out, "--key", tmp / "nope.pem"], "nope.pem"),
        "a private key": ([out, "--key", private], "must be a public key"),
        "not a key": ([out, "--key", garbage], "not one"),
        "model without folder": (["--model", out, "--ledger", tmp / "l"], "name it"),
        "no such ledger": (["--ledger", tmp / "nope.jsonl"], "cannot be read"),
    }[kind]


@pytest.mark.parametrize(
    "kind",
    [
        "nothing to verify",
        "no key",
        "no such folder",
        "no such key",
        "a private key",
        "not a key",
        "model without folder",
        "no such ledger",
    ],
)
def test_verify_bad_usage(evidence, fairgate, tmp_path, kind):
    args, words = _usage(evidence, tmp_path, kind)
    code, stdout, stderr = fairgate("verify", *args)
    assert code == 4, stdout + stderr
    assert words in stderr
    if kind == "a private key":
        assert_no_secret(evidence[1].read_text().splitlines()[1], outputs=[stdout, stderr])


def test_a_garbled_ledger_does_not_verify(fairgate, tmp_path):
    ledger = tmp_path / "l.jsonl"
    ledger.write_bytes(b"\x00\xff\n[1, 2]\n")
    code, stdout, _ = fairgate("verify", "--ledger", ledger)
    assert code == 1
    assert "ledger line 1: is not a JSON record" in stdout
    assert "ledger line 2: must hold exactly the keys" in stdout
