"""Signed registered models against a real MLflow tracking server: the downloaded version is
verified before it is loaded, and the registry gate refuses a version whose files differ from
the signed, audited ones."""

from __future__ import annotations

import json

import pytest
import skops.io as sio
import yaml

from .conftest import CREDIT, SPECS
from .servers import start_tracking_server, stop
from .test_model_signing import key_pair

NAME = "credit-signed"
TRUSTED_TYPES = ["sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-signed")
    url, proc = start_tracking_server(root)
    yield url, root
    stop(proc)


@pytest.fixture(scope="module")
def registry(server):
    """Version 1: the credit model v2, logged with skops."""
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    url, _ = server
    path = CREDIT / "v2" / "model.skops"
    mlflow.set_tracking_uri(url)
    try:
        with mlflow.start_run(run_name="register signed"):
            mlflow.sklearn.log_model(
                sio.load(path, trusted=sio.get_untrusted_types(file=path)),
                name="model",
                registered_model_name=NAME,
                serialization_format="skops",
                skops_trusted_types=sio.get_untrusted_types(file=path),
            )
    finally:
        mlflow.set_tracking_uri(None)
    return MlflowClient(tracking_uri=url)


def test_signed_version_promoted_then_a_changed_file_is_refused(
    registry, server, fairgate, in_repo, write_spec, tmp_path, monkeypatch
):
    """... and no copy of the model is left in the temporary folder by signing, auditing
    (its signature verified) or the promotion gate, whatever their outcome."""
    import tempfile

    from audits import parse_spec, run_audit
    from audits._registry_gate import PromotionRefused, promote, resolve_version

    scratch = tmp_path / "tmp"  # this test's temporary folder: no other process's counts
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    url, root = server
    private, public = key_pair(tmp_path, "org")
    signature = tmp_path / "model.sig"
    code, stdout, err = fairgate(
        "sign-model", f"models:/{NAME}/1", "--key", private, "--signature", signature,
        "--tracking-uri", url,
    )  # fmt: skip
    assert code == 0, err
    assert "  MLmodel" in stdout and "  model.skops" in stdout
    spec = yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text())
    spec["checks"] = spec["checks"][:2]
    spec["model"] = {
        "kind": "mlflow",
        "uri": f"models:/{NAME}/1",
        "trusted_types": TRUSTED_TYPES,
        "signature": {"path": str(signature), "public_key": str(public)},
    }
    spec_path = write_spec(spec)
    out = tmp_path / "o"
    code, _, err = fairgate(
        "run", spec_path, "--tracking-uri", url, "--promote", "production", "-q", "--out", out
    )
    doc = json.loads((out / "results.json").read_text())
    assert code == 0, (err, doc["errors"])
    names = {f["name"] for f in doc["model"]["signature"]["files"]}
    assert {"MLmodel", "model.skops"} <= names
    assert registry.get_model_version_by_alias(NAME, "production").version == "1"

    # Someone rewrites one of the version's files in the artifact store after the audit.
    version = registry.get_model_version(NAME, "1")
    model_id = version.model_id or version.source.rsplit("/", 1)[-1]
    model_dir = next(p.parent for p in (root / "artifacts").rglob("MLmodel") if model_id in str(p))
    (model_dir / "MLmodel").write_text((model_dir / "MLmodel").read_text() + "\n# changed\n")
    ref = resolve_version(f"models:/{NAME}/1", registry)
    with pytest.raises(PromotionRefused, match=r"differ from the signed, audited ones \(MLmodel\)"):
        promote(registry, ref, "staging", doc, tracking_uri=url)
    assert "staging" not in registry.get_registered_model(NAME).aliases

    # And an audit of the changed version stops before loading it.
    again = run_audit(spec_path, spec=parse_spec(spec), tracking_uri=url).document
    assert (again["verdict"], again["exit_code"]) == ("error", 2)
    [error] = again["errors"]
    assert error["stage"] == "verify_model" and "MLmodel" in error["message"]
    assert sorted(p.name for p in scratch.glob("fairgate-*")) == []
