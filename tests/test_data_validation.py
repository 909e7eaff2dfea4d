"""Data validation with Great Expectations: each problem gives its result and exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from .conftest import CREDIT, ROOT, credit_validation_spec


@pytest.fixture
def audit_data():
    return pd.read_csv(CREDIT / "data" / "audit.csv")


_spec = credit_validation_spec


def _run(fairgate, write_spec, spec, tmp_path):
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    return code, json.loads((out / "results.json").read_text())


def _failed(doc):
    return [r for r in doc["data_validation"]["results"] if not r["success"]]


def test_clean_data_passes_validation(audit_data, tmp_path, write_spec, fairgate):
    audit_data.to_csv(tmp_path / "d.csv", index=False)
    code, doc = _run(
        fairgate,
        write_spec,
        _spec(tmp_path / "d.csv", ranges={"age": [18, 100]}, min_group_share=0.02),
        tmp_path,
    )
    assert doc["data_validation"]["success"] and code == 0
    kinds = {r["kind"] for r in doc["data_validation"]["results"]}
    assert {"columns", "label_values", "sensitive_missing", "ranges", "group_share"} <= kinds


def test_missing_column(audit_data, tmp_path, write_spec, fairgate):
    audit_data.drop(columns="age_band").to_csv(tmp_path / "d.csv", index=False)
    code, doc = _run(fairgate, write_spec, _spec(tmp_path / "d.csv"), tmp_path)
    (failed,) = _failed(doc)
    assert failed["expectation"] == "expect_column_to_exist" and failed["column"] == "age_band"
    assert code == 2 and doc["errors"][0]["stage"] == "validate"
    assert doc["groups"] == {}  # no metric was computed


def test_label_outside_its_set(audit_data, tmp_path, write_spec, fairgate):
    audit_data.loc[:4, "good_credit"] = 2
    audit_data.to_csv(tmp_path / "d.csv", index=False)
    code, doc = _run(fairgate, write_spec, _spec(tmp_path / "d.csv"), tmp_path)
    (failed,) = _failed(doc)
    assert failed["expectation"] == "expect_column_values_to_be_in_set"
    assert failed["unexpected_count"] == 5 and code == 2
    assert "partial_unexpected_list" not in json.dumps(doc)  # never the rows' contents


def test_a_group_at_one_percent(audit_data, tmp_path, write_spec, fairgate):
    audit_data["region"] = ["north"] * 594 + ["south"] * 6
    audit_data.to_csv(tmp_path / "d.csv", index=False)
    spec = _spec(tmp_path / "d.csv", min_group_share=0.02)
    spec["data"]["sensitive"] = ["sex", "region"]
    spec["data"]["min_group_size"] = 11
    code, doc = _run(fairgate, write_spec, spec, tmp_path)
    (failed,) = _failed(doc)
    assert failed["kind"] == "group_share"
    assert failed["observed_value"] == {"smallest_group": "region=south", "share": 0.01}
    assert code == 2
    # Marked as a warning, it is reported but does not stop the audit.
    spec["data"]["warn_only"] = ["group_share"]
    code, doc = _run(fairgate, write_spec, spec, tmp_path)
    assert _failed(doc)[0]["severity"] == "warning" and doc["data_validation"]["success"]
    assert doc["errors"] == [] and doc["groups"]  # the audit went on to its checks


def test_missing_sensitive_values_as_their_own_group(audit_data, tmp_path, write_spec, fairgate):
    audit_data.loc[:39, "sex"] = None
    audit_data.to_csv(tmp_path / "d.csv", index=False)
    code, doc = _run(fairgate, write_spec, _spec(tmp_path / "d.csv"), tmp_path)
    assert code == 2 and _failed(doc)[0]["expectation"] == "expect_column_values_to_not_be_null"
    code, doc = _run(
        fairgate, write_spec, _spec(tmp_path / "d.csv", missing_sensitive="unknown"), tmp_path
    )
    assert doc["groups"]["sex=unknown"]["n"] == 40


def test_named_expectation_from_the_spec(audit_data, tmp_path, write_spec, fairgate):
    audit_data.to_csv(tmp_path / "d.csv", index=False)
    spec = _spec(
        tmp_path / "d.csv",
        expectations=[
            {
                "expectation": "expect_column_mean_to_be_between",
                "kwargs": {"column": "credit_amount", "min_value": 0, "max_value": 1000},
                "severity": "error",
            }
        ],
    )
    code, doc = _run(fairgate, write_spec, spec, tmp_path)
    (failed,) = _failed(doc)
    assert failed["expectation"] == "expect_column_mean_to_be_between"
    assert failed["observed_value"] == pytest.approx(audit_data.credit_amount.mean())
    assert code == 2


def test_help_does_not_import_the_heavy_libraries():
    probe = (
        "import sys; from audits.cli import main; main(['--help']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'great_expectations', 'mlflow', 'shap', 'sklearn', 'matplotlib', 'weasyprint'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
