"""Invalid specs exit 4 naming the field; data and model problems exit 2; never a pass."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml

from audits import ExitCode, SpecError, load_spec
from models_under_test import UntrustedModelError, file_sha256, load_model

from .conftest import SPECS, policy_inlined


@pytest.fixture
def credit_spec(in_repo) -> dict:
    return policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v1.yaml").read_text()))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s.update(owner="me"), "owner is not a known key"),
        (lambda s: s["data"].update(min_group_size="thirty"), "data.min_group_size"),
        (
            lambda s: s["checks"][0].update(metric="selection_rat"),
            "checks[0].metric must be one of 'selection_rate'",
        ),
        (
            lambda s: s["checks"][1].update(disparity="ratoi"),
            "checks[1].disparity must be one of 'ratio', 'difference'. Got 'ratoi' instead.",
        ),
        (
            lambda s: s["data"].update(path="models_under_test/nope.csv"),
            "data.path must be an existing file",
        ),
        (
            lambda s: s["model"].update(uri="models_under_test/credit_scoring/v9/model.skops"),
            "model.uri must be an existing file",
        ),
        (lambda s: s["model"].update(kind="tensorflow"), "model.kind must be one of"),
        (lambda s: s["checks"][0].pop("min"), "checks[0]: a check needs a threshold"),
        (lambda s: s["checks"][0].update(views=["sex|race"]), "checks[0].views must name"),
    ],
)
def test_invalid_spec_exits_4_and_names_the_field(
    credit_spec, write_spec, fairgate, mutate, expected, tmp_path
):
    mutate(credit_spec)
    code, _, err = fairgate("run", write_spec(credit_spec), "--out", tmp_path / "o", "--no-mlflow")
    assert code == ExitCode.USAGE_ERROR == 4
    assert expected in err
    assert not (tmp_path / "o").exists()


def test_bad_arguments_exit_4(fairgate, tmp_path):
    assert fairgate("run")[0] == 4
    assert fairgate("run", SPECS / "credit_scoring_v1.yaml", "--seed", "x")[0] == 4
    assert fairgate("frobnicate")[0] == 4
    assert fairgate("run", tmp_path / "missing.yaml")[0] == 4


def _run(fairgate, write_spec, spec, tmp_path):
    out = tmp_path / "out"
    code, _, err = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    return code, json.loads((out / "results.json").read_text()), err


def test_missing_data_column_exits_2(credit_spec, write_spec, fairgate, tmp_path):
    credit_spec["data"]["label"] = "repaid"
    code, doc, _err = _run(fairgate, write_spec, credit_spec, tmp_path)
    assert code == 2 and doc["verdict"] == "error"
    assert (
        "expect_column_to_exist(repaid)" in doc["errors"][0]["message"]
        and doc["errors"][0]["stage"] == "validate"
    )
    assert {c["status"] for c in doc["checks"]} == {"error"}


def test_nan_decisions_exit_2(write_spec, fairgate, tmp_path):
    data = tmp_path / "log.csv"
    pd.DataFrame(
        {"g": ["a", "b"] * 40, "y": [0, 1] * 40, "d": [1.0, np.nan] + [0.0, 1.0] * 39}
    ).to_csv(data, index=False)
    spec = {
        "name": "nan-log",
        "model": {"kind": "predictions", "column": "d"},
        "data": {"path": str(data), "label": "y", "sensitive": ["g"]},
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.8}],
    }
    code, doc, _ = _run(fairgate, write_spec, spec, tmp_path)
    assert code == 2 and doc["verdict"] == "error"
    assert "missing values" in doc["errors"][0]["message"]


def test_decisions_coded_unlike_labels_exit_2(write_spec, fairgate, tmp_path):
    data = tmp_path / "log.csv"
    pd.DataFrame({"g": ["a", "b"] * 40, "y": [0, 1] * 40, "d": ["yes", "no"] * 40}).to_csv(
        data, index=False
    )
    spec = {
        "name": "coded-log",
        "model": {"kind": "predictions", "column": "d"},
        "data": {"path": str(data), "label": "y", "sensitive": ["g"]},
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.8}],
    }
    code, doc, _ = _run(fairgate, write_spec, spec, tmp_path)
    assert code == 2 and "not among the label's values" in doc["errors"][0]["message"]


def test_unreadable_model_exits_2(credit_spec, write_spec, fairgate, tmp_path):
    broken = tmp_path / "broken.skops"
    broken.write_bytes(b"this is not a zip file")
    credit_spec["model"]["uri"] = str(broken)
    code, doc, _ = _run(fairgate, write_spec, credit_spec, tmp_path)
    assert code == 2 and doc["verdict"] == "error"
    assert doc["errors"][0]["stage"] == "load"
    assert doc["provenance"]["data_sha256"]  # evidence is still written


def test_untrusted_skops_types_are_refused(credit_spec, write_spec, fairgate, tmp_path):
    credit_spec["model"]["trusted_types"] = []
    code, doc, _ = _run(fairgate, write_spec, credit_spec, tmp_path)
    assert code == 2
    assert "sklearn.tree._tree.Tree" in doc["errors"][0]["message"]
    assert doc["errors"][0]["type"] == "UntrustedModelError"


class _Booby:
    """Unpickling this creates the file named by ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_without_pinned_hash_is_refused_before_it_is_opened(
    credit_spec, write_spec, fairgate, tmp_path
):
    marker = tmp_path / "pwned.txt"
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(_Booby(marker)))
    # Through the spec: refused as invalid (exit 4), naming the fields to set.
    credit_spec["model"] = {"kind": "sklearn", "uri": str(model)}
    code, _, err = fairgate("run", write_spec(credit_spec), "--no-mlflow", "-q")
    assert code == 4 and "model.trusted" in err and "model.sha256" in err
    # Through the adapter directly: trusted without pin, or with a wrong pin, is refused.
    with pytest.raises(UntrustedModelError):
        load_model("sklearn", uri=str(model))
    with pytest.raises(UntrustedModelError):
        load_model("sklearn", uri=str(model), trusted=True, sha256="0" * 64)
    assert not marker.exists()
    # With the right pin the file is opened: the marker appears (proof the test is live).
    with pytest.raises(Exception):  # noqa: B017 - a file object is no model
        load_model("sklearn", uri=str(model), trusted=True, sha256=file_sha256(model))
    assert marker.exists()


def test_pinned_pickle_loads(tmp_path):
    from sklearn.linear_model import LogisticRegression

    model = tmp_path / "lr.pkl"
    lr = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    model.write_bytes(pickle.dumps(lr))
    adapter = load_model("sklearn", uri=str(model), trusted=True, sha256=file_sha256(model))
    assert adapter.predict(pd.DataFrame({"x": [0.0, 3.0]})).tolist() == [0, 1]


def test_spec_error_lists_every_problem(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: Bad Name\nmodel: {kind: predictions}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    text = str(info.value)
    assert "name" in text and "model.column is required" in text and "data is required" in text


def test_schema_is_json_schema_of_the_spec(fairgate):
    code, out, _ = fairgate("schema")
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "AuditSpec"
    assert {"name", "model", "data", "checks"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False

    # Every bound is a JSON Schema keyword an editor enforces, not pydantic's own name for it
    # (a Field placed after a validator in Annotated comes out as "ge"/"gt"/...).
    def keys(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from keys(value)
        elif isinstance(node, list):
            for value in node:
                yield from keys(value)

    found = set(keys(schema))
    assert not found & {"ge", "gt", "le", "lt"}, sorted(found & {"ge", "gt", "le", "lt"})
    assert {"minimum", "maximum", "exclusiveMinimum"} <= found
