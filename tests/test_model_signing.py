"""Signed models in, unsigned models out (issue 16, item 4): an OpenSSF model_signing signature
is verified before the model is loaded; a model that does not match is never opened."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .bad_inputs_support import decision_log
from .conftest import CREDIT, SPECS

MODEL = CREDIT / "v2" / "model.skops"


def key_pair(folder: Path, name: str, kind: str = "p256") -> tuple[Path, Path]:
    """A fresh private key (PKCS#8 PEM) and its public key (SubjectPublicKeyInfo PEM)."""
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else ec.generate_private_key(ec.SECP256R1())
    )
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
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


def der_sha256(public: Path) -> str:
    key = serialization.load_pem_public_key(public.read_bytes())
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


class _Marker:
    """A pickle whose loading runs ``code`` (here: writes a marker file)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


@pytest.fixture
def marker_model(tmp_path):
    """A trusted pickle that writes ``loaded.txt`` when opened, signed with key ``a``."""
    from audits import sign_model

    marker = tmp_path / "loaded.txt"
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(_Marker(f"open({str(marker)!r}, 'w').write('loaded-A')")))
    private, public = key_pair(tmp_path, "a")
    sign_model(model=model, private_key=private, signature=tmp_path / "model.sig")
    return model, marker, public


def marker_spec(tmp_path: Path, model: Path, *, signature: dict | None) -> Path:
    """Audit the marker model (pinned and trusted, as any pickle must be) on a decision log."""
    spec = {
        "name": "signed-model-case",
        "model": {
            "kind": "sklearn",
            "uri": str(model),
            "trusted": True,
            "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        },
        "data": {"path": str(decision_log(tmp_path)), "label": "outcome", "sensitive": ["group"]},
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.8}],
    }
    if signature is not None:
        spec["model"]["signature"] = signature
    path = tmp_path / f"spec-{len(list(tmp_path.glob('spec-*')))}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def run(fairgate, spec: Path, out: Path) -> tuple[int, dict, str]:
    code, _, err = fairgate("run", spec, "--no-mlflow", "-q", "--out", out)
    return code, json.loads((out / "results.json").read_text()), err


def test_signed_credit_model_passes_and_says_what_was_verified(
    tmp_path, fairgate, in_repo, write_spec
):
    private, public = key_pair(tmp_path, "org")
    signature = tmp_path / "credit.sig"
    code, stdout, err = fairgate("sign-model", MODEL, "--key", private, "--signature", signature)
    assert code == 0, err
    model_sha = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert f"sha256 {model_sha}  model.skops" in stdout
    spec = yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text())
    spec["checks"] = spec["checks"][:2]
    spec["model"]["signature"] = {"path": str(signature), "public_key": str(public)}
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_spec(spec), "--no-mlflow", "-q", "--out", out, "--signing-key", private
    )
    doc = json.loads((out / "results.json").read_text())
    assert code == 0, (err, doc["errors"])
    block = doc["model"]["signature"]
    assert block["verified"] is True
    assert block["files"] == [{"name": "model.skops", "digest": model_sha}]
    assert block["signature"]["sha256"] == hashlib.sha256(signature.read_bytes()).hexdigest()
    assert block["public_key"]["sha256"] == der_sha256(public)
    envelope = json.loads((out / "attestation.intoto.jsonl").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["predicate"]["model"]["signature"] == block
    assert statement["subject"] == [{"name": "model.skops", "digest": {"sha256": model_sha}}]
    code, stdout, _ = fairgate("verify", out, "--key", public, "--model", MODEL)
    assert code == 0, stdout


def test_a_tampered_model_is_never_loaded(marker_model, tmp_path, fairgate):
    model, marker, public = marker_model
    signature = {"path": str(tmp_path / "model.sig"), "public_key": str(public)}
    # The signed, untouched model verifies and is loaded: the marker proves loading runs it.
    code, doc, _ = run(fairgate, marker_spec(tmp_path, model, signature=signature), tmp_path / "o1")
    assert marker.read_text() == "loaded-A" and doc["model"]["signature"]["verified"] is True
    marker.unlink()
    data = model.read_bytes()
    assert data.count(b"loaded-A") == 1
    model.write_bytes(data.replace(b"loaded-A", b"loaded-B"))  # one byte changed
    # Without a signature the tampered (re-pinned) model would be loaded...
    code, doc, _ = run(fairgate, marker_spec(tmp_path, model, signature=None), tmp_path / "o2")
    assert marker.read_text() == "loaded-B"
    marker.unlink()
    # ...with it, the audit stops before loading: exit 2, no marker.
    code, doc, _ = run(fairgate, marker_spec(tmp_path, model, signature=signature), tmp_path / "o3")
    assert code == 2 and doc["verdict"] == "error"
    assert not marker.exists()
    [error] = doc["errors"]
    assert error["stage"] == "verify_model" and "does not match its signature" in error["message"]
    assert "model.pkl has digest" in error["message"]
    assert doc["model"]["signature"]["verified"] is False
    assert {c["status"] for c in doc["checks"]} == {"error"}


@pytest.mark.parametrize("broken", ["missing signature", "wrong key", "missing key", "not a key"])
def test_no_valid_signature_no_load(marker_model, tmp_path, fairgate, broken):
    model, marker, public = marker_model
    signature = {"path": str(tmp_path / "model.sig"), "public_key": str(public)}
    if broken == "missing signature":
        signature["path"] = str(tmp_path / "absent.sig")
    elif broken == "wrong key":
        signature["public_key"] = str(key_pair(tmp_path, "other")[1])
    elif broken == "missing key":
        signature["public_key"] = str(tmp_path / "absent.pub.pem")
    else:
        (tmp_path / "junk.pem").write_text("not a key\n")
        signature["public_key"] = str(tmp_path / "junk.pem")
    code, doc, _ = run(fairgate, marker_spec(tmp_path, model, signature=signature), tmp_path / "o")
    assert (code, doc["verdict"], doc["exit_code"]) == (2, "error", 2)
    assert not marker.exists()
    [error] = doc["errors"]
    assert error["stage"] == "verify_model"
    expected = {
        "missing signature": "absent.sig' does not exist",
        "wrong key": "Key mismatch",
        "missing key": "absent.pub.pem' does not exist",
        "not a key": "must be a PEM public key",
    }[broken]
    assert expected in error["message"]


def test_a_folder_signature_covers_every_file(tmp_path):
    from audits import ModelSignatureError, sign_model, verify_model_signature

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "weights.bin").write_bytes(bytes(range(256)))
    private, public = key_pair(tmp_path, "a")
    inside = folder / "model.sig"  # a signature kept inside the folder is not signed itself
    signed = sign_model(model=folder, private_key=private, signature=inside)
    assert set(signed.files) == {"MLmodel", "weights.bin"}
    verified = verify_model_signature(model=folder, signature=inside, public_key=public)
    assert verified.files == signed.files
    (folder / "extra.py").write_text("import os\n")
    with pytest.raises(ModelSignatureError, match=r"extra\.py"):
        verify_model_signature(model=folder, signature=inside, public_key=public)
    (folder / "extra.py").unlink()
    (folder / "weights.bin").unlink()
    with pytest.raises(ModelSignatureError, match=r"weights\.bin"):
        verify_model_signature(model=folder, signature=inside, public_key=public)


def test_sign_model_refuses_a_key_model_signing_cannot_use(tmp_path, fairgate):
    private, _ = key_pair(tmp_path, "ed", kind="ed25519")
    model = tmp_path / "m.bin"
    model.write_bytes(b"weights")
    code, _, err = fairgate("sign-model", model, "--key", private)
    assert code == 2 and "must be an ECDSA key" in err
    assert not (tmp_path / "m.bin.sig").exists()
    code, _, err = fairgate("sign-model", tmp_path / "absent.bin", "--key", private)
    assert code == 4


def ca_and_leaf(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A root certificate (PEM), a signing key and its certificate issued by that root."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    root_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} models")]))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    root_pem, leaf_pem, key_pem = (folder / f"{name}-{p}.pem" for p in ("root", "cert", "key"))
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return root_pem, leaf_pem, key_pem


def test_certificate_method_trusts_the_root_not_a_key(tmp_path, fairgate):
    from audits import ModelSignatureError, verify_model_signature

    root, cert, key = ca_and_leaf(tmp_path, "org")
    other_root, _, _ = ca_and_leaf(tmp_path, "other")
    model = tmp_path / "m.bin"
    model.write_bytes(b"weights" * 100)
    code, stdout, err = fairgate(
        "sign-model", model, "--key", key, "--certificate", cert, "--chain", root
    )
    assert code == 0, err
    assert "certificate CN=org models" in stdout
    verified = verify_model_signature(
        model=model, signature=tmp_path / "m.bin.sig", certificate_chain=[root]
    )
    assert verified.record()["certificate"]["subject"] == "CN=org models"
    assert verified.record()["method"] == "model_signing certificate"
    with pytest.raises(ModelSignatureError, match="does not match its signature"):
        verify_model_signature(
            model=model, signature=tmp_path / "m.bin.sig", certificate_chain=[other_root]
        )


def test_an_audit_trusting_roots_loads_only_what_they_signed(tmp_path, fairgate):
    from audits import sign_model

    root, cert, key = ca_and_leaf(tmp_path, "org")
    other_root, _, _ = ca_and_leaf(tmp_path, "other")
    marker, model = tmp_path / "loaded.txt", tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(_Marker(f"open({str(marker)!r}, 'w').write('loaded')")))
    signature = tmp_path / "model.sig"
    sign_model(
        model=model,
        private_key=key,
        signature=signature,
        certificate=cert,
        certificate_chain=[root],
    )
    trusted = {"path": str(signature), "certificate_chain": [str(other_root)]}
    code, doc, _ = run(fairgate, marker_spec(tmp_path, model, signature=trusted), tmp_path / "o1")
    assert code == 2 and not marker.exists()
    assert doc["errors"][0]["stage"] == "verify_model"
    trusted["certificate_chain"] = [str(root)]
    code, doc, _ = run(fairgate, marker_spec(tmp_path, model, signature=trusted), tmp_path / "o2")
    assert marker.exists()  # verified, then loaded (it is no classifier: the audit then stops)
    block = doc["model"]["signature"]
    assert block["verified"] and block["certificate"]["subject"] == "CN=org models"


@pytest.mark.parametrize(
    ("signature", "said"),
    [
        ({"path": "m.sig"}, "exactly one of public_key or certificate_chain. Got neither"),
        (
            {"path": "m.sig", "public_key": "k.pem", "certificate_chain": ["r.pem"]},
            "exactly one of public_key or certificate_chain. Got both",
        ),
        ({"path": "m.sig", "public_key": "-----BEGIN PUBLIC KEY-----"}, "must be file paths"),
    ],
)
def test_the_spec_names_one_thing_to_trust(marker_model, tmp_path, fairgate, signature, said):
    model, _, _ = marker_model
    code, _, err = fairgate("validate", marker_spec(tmp_path, model, signature=signature))
    assert code == 4 and said in err


def test_a_signed_mlflow_folder_is_audited_from_the_verified_files(
    tmp_path, fairgate, in_repo, write_spec
):
    import mlflow.sklearn
    import skops.io as sio

    folder = tmp_path / "mlflow-model"
    mlflow.sklearn.save_model(
        sio.load(MODEL, trusted=sio.get_untrusted_types(file=MODEL)),
        str(folder),
        serialization_format="skops",
        skops_trusted_types=sio.get_untrusted_types(file=MODEL),
    )
    private, public = key_pair(tmp_path, "org")
    code, _, err = fairgate(
        "sign-model", folder, "--key", private, "--signature", folder / "model.sig"
    )
    assert code == 0, err
    spec = yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text())
    spec["checks"] = spec["checks"][:1]
    spec["model"] = {
        "kind": "mlflow",
        "uri": str(folder),
        "trusted_types": spec["model"]["trusted_types"],
        "signature": {"path": str(folder / "model.sig"), "public_key": str(public)},
    }
    path = write_spec(spec)
    code, doc, err = run(fairgate, path, tmp_path / "o1")
    assert code == 0, (err, doc["errors"])
    names = {f["name"] for f in doc["model"]["signature"]["files"]}
    assert "MLmodel" in names and "model.sig" not in names  # the signature is not signed
    (folder / "requirements.txt").write_text("scikit-learn\nsomething-else\n")
    code, doc, _ = run(fairgate, path, tmp_path / "o2")
    assert code == 2 and doc["errors"][0]["stage"] == "verify_model"
    assert "requirements.txt has digest" in doc["errors"][0]["message"]
