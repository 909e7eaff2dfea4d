"""A ledger record cannot be taken back: an audit that ends with exit 2 after its record was
appended (its evidence could not be published) gets a later record saying error / exit 2, so
that the ledger never says more than the exit code and ``verify --ledger`` finds the first
record superseded."""

from __future__ import annotations

import functools

import pytest

from audits import run_audit
from audits._attestation import load_signer
from audits._ledger import read_ledger, superseding
from audits._publish import publish_evidence, seal_in_ledger

from .bad_inputs_support import decision_log, log_spec, write_yaml
from .test_attestation import write_key_pair


def test_evidence_that_cannot_be_published_is_retracted_in_the_ledger(tmp_path):
    log = decision_log(tmp_path)
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(log))
    private, _ = write_key_pair(tmp_path, "ed25519")
    result = run_audit(spec, seed=0)
    doc = result.document
    assert doc["exit_code"] == 0
    ledger, out, elsewhere = tmp_path / "ledger.jsonl", tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()

    def replace_out():  # after MLflow and before the ledger: --out becomes a link
        out.symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(Exception, match=r"link|symbolic|symlink"):
        publish_evidence(
            doc,
            result,
            out,
            pdf=False,
            before_publish=replace_out,
            signer=load_signer(private),
            seal=functools.partial(seal_in_ledger, ledger=ledger, tracking=None, quiet=True),
        )
    records, problems = read_ledger(ledger)
    assert not problems
    assert [(r["verdict"], r["exit_code"]) for r in records] == [("pass", 0), ("error", 2)]
    assert records[1]["audit_id"] == records[0]["audit_id"]
    assert superseding(records, records[0]["attestation_sha256"]) == [2]
    assert not any(elsewhere.iterdir())  # nothing was published
