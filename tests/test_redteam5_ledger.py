"""Red team 5 of the audit ledger: a record whose ``hash`` is not a text.

The next record's "does not follow" message cut the expected hash with ``prev[:12]``: a hash
written as a number (``"hash": 5``) ended ``fairgate verify --ledger`` in "fairgate failed:
TypeError" (exit 2) instead of naming the broken lines (exit 1), and an audit appending to
that ledger failed the same way instead of refusing the broken chain.

And a replay: the signed evidence of an earlier pass verified as "everything matches" with
the ledger although a later audit of the same spec, model and data had blocked the release.
"""

from __future__ import annotations

import json

import pytest

from audits._ledger import LedgerError, append_record, read_ledger


@pytest.mark.parametrize("forged", [5, ["a"], {"h": 1}, None, True])
def test_a_hash_that_is_not_a_text_is_a_broken_chain(fairgate, tmp_path, forged) -> None:
    ledger = tmp_path / "ledger.jsonl"
    append_record(ledger, {"audit_id": "a", "verdict": "pass", "exit_code": 0})
    append_record(ledger, {"audit_id": "b", "verdict": "fail", "exit_code": 1})
    first, second = ledger.read_text(encoding="utf-8").splitlines()
    record = json.loads(first)
    record["hash"] = forged
    ledger.write_text(json.dumps(record) + "\n" + second + "\n", encoding="utf-8")
    _, problems = read_ledger(ledger)
    assert [p.line for p in problems] == [1, 2]
    code, out, err = fairgate("verify", "--ledger", ledger)
    assert code == 1, out + err
    assert "ledger line 2" in out and "does not follow" in out
    with pytest.raises(LedgerError, match="broken at line 1"):
        append_record(ledger, {"audit_id": "c", "verdict": "pass", "exit_code": 0})


@pytest.fixture
def signed(fairgate, tmp_path):
    """A fair decision log's signed, passing evidence, recorded in a ledger."""
    import subprocess

    from .bad_inputs_support import decision_log, log_spec, write_yaml

    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private], check=True)
    subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public], check=True)
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    out, ledger = tmp_path / "evidence", tmp_path / "ledger.jsonl"
    code, stdout, err = fairgate(
        "run", spec, "--out", out, "--no-mlflow", "-q", "--ledger", ledger,
        "--signing-key", private,
    )  # fmt: skip
    assert code == 0, stdout + err
    return out, public, ledger


def test_evidence_a_later_audit_of_the_same_inputs_overturned_is_not_verified(
    signed, fairgate
) -> None:
    """A replay: the signed evidence of an earlier pass, shown again after a later audit of
    the same spec, model and data blocked the release, verified as "everything matches"."""
    from audits._ledger import ledger_entry

    out, public, ledger = signed
    code, stdout, _ = fairgate("verify", out, "--key", public, "--ledger", ledger)
    assert code == 0, stdout  # the latest word on these inputs
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    later = {**document, "verdict": "fail", "exit_code": 1, "run": {"audit_id": "later-audit"}}
    append_record(ledger, ledger_entry(later, attestation_sha256=None))
    code, stdout, _ = fairgate("verify", out, "--key", public, "--ledger", ledger)
    assert code == 1, stdout
    assert "FAILED  ledger entry: superseded: ledger line 2" in stdout
    assert "later-audit" in stdout and "'fail'" in stdout
    # A later audit of other data says nothing about this evidence.
    other = {**later, "provenance": {**document["provenance"], "data_sha256": "0" * 64}}
    ledger.write_text(ledger.read_text().splitlines()[0] + "\n", encoding="utf-8")
    append_record(ledger, ledger_entry(other, attestation_sha256=None))
    code, stdout, _ = fairgate("verify", out, "--key", public, "--ledger", ledger)
    assert code == 0, stdout
