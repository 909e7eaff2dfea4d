"""Red team 5 of the audit ledger: a record whose ``hash`` is not a text.

The next record's "does not follow" message cut the expected hash with ``prev[:12]``: a hash
written as a number (``"hash": 5``) ended ``fairgate verify --ledger`` in "fairgate failed:
TypeError" (exit 2) instead of naming the broken lines (exit 1), and an audit appending to
that ledger failed the same way instead of refusing the broken chain.
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
