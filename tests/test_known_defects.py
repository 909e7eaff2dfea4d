"""Known defects of shipped behaviour, repaired: each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .bad_inputs_support import log_spec, write_yaml

# --- a Parquet folder in which one file lacks a column -----------------------------------


def _log_folder(tmp_path: Path, drop: str) -> Path:
    rng = np.random.default_rng(0)
    n = 4_000
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "group": rng.choice(["a", "b"], n),
            "outcome": rng.integers(0, 2, n),
            "decision": rng.integers(0, 2, n),
        }
    )
    folder = tmp_path / "logs"
    folder.mkdir()
    frame.iloc[:2_000].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[2_000:].drop(columns=[drop]).to_parquet(folder / "b.parquet", index=False)
    return folder


@pytest.mark.parametrize(
    ("drop", "role", "data"),
    [
        ("group", "data.sensitive[0]", {}),  # streamed
        ("outcome", "data.label", {}),  # streamed
        ("group", "data.sensitive[0]", {"cluster_column": "id"}),  # read in memory
    ],
)
def test_a_folder_file_lacking_a_column_is_a_missing_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fairgate, drop: str, role: str, data: dict
) -> None:
    """pyarrow reads a column that a later file lacks as nulls: the audit said "not null"
    (or "2000 missing values") instead of naming the column and the file. Exit 2."""
    monkeypatch.chdir(tmp_path)
    _log_folder(tmp_path, drop)
    spec = log_spec(Path("logs"), data={"id_column": "id", **data})
    out = tmp_path / "out"
    code, _, err = fairgate(
        "run", write_yaml(tmp_path / "s.yaml", spec), "--no-mlflow", "--out", out
    )
    assert code == 2, err
    message = " ".join(err.split())
    assert f"'{drop}' named by {role} is missing from the file 'logs/b.parquet'" in message
    assert "not_be_null" not in message and "missing values" not in message
    assert str(tmp_path) not in message  # only the path the user gave


def test_a_monitored_folder_file_lacking_a_column_is_named(tmp_path: Path, fairgate) -> None:
    """A log file without the review outcome read as rows not yet reviewed (pandas.concat
    fills the column with missing values): the monitor judged the other files alone."""
    from .monitor_support import monitor_spec, service_log

    folder = tmp_path / "logs"
    folder.mkdir()
    log = service_log([0.05] * 4, per_window=500, seed=3)
    log.iloc[:1000].to_csv(folder / "part-1.csv", index=False)
    log.iloc[1000:].drop(columns=["outcome"]).to_parquet(folder / "part-2.parquet")
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(folder / "part-1.csv", window=500))
    out = tmp_path / "out"
    code, stdout, err = fairgate(
        "monitor", spec, "--log", folder, "--out", out, "--state-dir", tmp_path / "state",
        "--no-mlflow",
    )  # fmt: skip
    assert code == 2, stdout + err
    message = " ".join((stdout + err).split())
    assert "'outcome'" in message and "part-2.parquet" in message, message


# --- the ledger's numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("seq", True, "has sequence number True, expected 1"),
        ("seq", 1.0, "has sequence number 1.0, expected 1"),
        ("exit_code", False, "has exit code False"),
        ("exit_code", "0", "has exit code '0'"),
    ],
)
def test_the_ledger_refuses_a_boolean_for_a_number(
    tmp_path: Path, fairgate, key: str, value: object, words: str
) -> None:
    """``"seq": true`` equals 1 in Python, so a rewritten first record passed as intact."""
    import json

    from audits._ledger import append_record, record_hash, verify_ledger

    path = tmp_path / "ledger.jsonl"
    append_record(path, {"audit_id": "a0", "verdict": "pass", "exit_code": 0})
    record = json.loads(path.read_text())
    record[key] = value
    record["hash"] = record_hash(record)
    path.write_text(json.dumps(record, sort_keys=True) + "\n")
    assert [p.message for p in verify_ledger(path)] != []
    code, stdout, _ = fairgate("verify", "--ledger", path)
    assert code == 1
    assert f"FAILED  ledger line 1: {words}" in stdout, stdout


# --- named expectations that can never fail -----------------------------------------------

NEVER_FAIL = {
    "no bound": (
        {"expectation": "expect_column_values_to_be_between", "kwargs": {"column": "outcome"}},
        "data.expectations[0].kwargs must give expect_column_values_to_be_between a bound",
    ),
    "null bounds": (
        {
            "expectation": "expect_column_mean_to_be_between",
            "kwargs": {"column": "outcome", "min_value": None, "max_value": None},
        },
        "Got min_value: None, max_value: None instead.",
    ),
    "lengths": (
        {"expectation": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "group"}},
        "expect_column_value_lengths_to_be_between a bound",
    ),
    "mostly 0": (
        {
            "expectation": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "group", "value_set": ["a"], "mostly": 0},
        },
        "data.expectations[0].kwargs must set mostly above 0",
    ),
    "mostly false": (
        {
            "expectation": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "group", "mostly": False},
        },
        "Got mostly: False instead.",
    ),
    "whole share": (
        {
            "expectation": "expect_column_proportion_of_unique_values_to_be_between",
            "kwargs": {"column": "group", "min_value": 0, "max_value": 1},
        },
        "a proportion is always within [0, 1]",
    ),
    "quantiles unbounded": (
        {
            "expectation": "expect_column_quantile_values_to_be_between",
            "kwargs": {
                "column": "outcome",
                "quantile_ranges": {"quantiles": [0.5], "value_ranges": [[None, None]]},
            },
        },
        "a bound",
    ),
}


@pytest.mark.parametrize("case", NEVER_FAIL)
def test_a_named_expectation_that_can_never_fail_is_refused(tmp_path: Path, fairgate, case):
    """An expectation without a bound (or ``mostly: 0``) passed every data: accepted, it
    blocked nothing while the report listed it as a validation."""
    from .bad_inputs_support import decision_log

    expectation, words = NEVER_FAIL[case]
    spec = log_spec(decision_log(tmp_path), data={"expectations": [expectation]})
    code, _, err = fairgate("validate", write_yaml(tmp_path / "s.yaml", spec))
    assert code == 4, err
    assert words in " ".join(err.split()), err
    assert "can never fail" in " ".join(err.split())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"column": "outcome", "min_value": 0},
        {"column": "outcome", "max_value": 1, "mostly": 0.95},
        {"column": "outcome", "min_value": {"$PARAMETER": "low"}},
    ],
)
def test_a_named_expectation_with_one_bound_is_accepted(tmp_path: Path, fairgate, kwargs):
    from .bad_inputs_support import decision_log

    expectation = {"expectation": "expect_column_values_to_be_between", "kwargs": kwargs}
    spec = log_spec(decision_log(tmp_path), data={"expectations": [expectation]})
    code, _, err = fairgate("validate", write_yaml(tmp_path / "s.yaml", spec))
    assert code == 0, err


# --- group values read as written ---------------------------------------------------------


def _spelled_log(path: Path, spellings: list[str], n: int = 600) -> Path:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "group": [spellings[i % len(spellings)] for i in range(n)],
            "outcome": rng.integers(0, 2, n),
            "decision": rng.integers(0, 2, n),
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_groups_spelled_true_and_upper_true_stay_distinct(tmp_path: Path) -> None:
    """pandas reads ``TRUE``, ``True`` and ``true`` as one boolean: two groups written
    differently were judged as one (``group=True``)."""
    from audits import run_audit

    log = _spelled_log(tmp_path / "log.csv", ["TRUE", "true", "false"])
    spec = write_yaml(tmp_path / "s.yaml", log_spec(log))
    document = run_audit(spec).document
    assert set(document["groups"]) == {"group=TRUE", "group=true", "group=false"}
    assert document["groups"]["group=TRUE"]["n"] == 200  # each spelling its own rows
    # written as pandas prints booleans, a boolean column stays one (the model gets booleans)
    _spelled_log(log, ["True", "False"])
    assert set(run_audit(spec).document["groups"]) == {"group=True", "group=False"}


def test_a_monitored_log_keeps_group_spellings_across_files(tmp_path: Path) -> None:
    from audits._monitor_log import read_log

    folder = tmp_path / "logs"
    folder.mkdir()
    _spelled_log(folder / "1.csv", ["TRUE", "FALSE"])
    _spelled_log(folder / "2.csv", ["true", "false"])
    frame, _ = read_log(str(folder), text=["group"])
    assert set(frame["group"]) == {"TRUE", "FALSE", "true", "false"}


# --- a ratio of 0 to 0 ----------------------------------------------------------------------


def test_the_engine_s_ratio_of_zero_to_zero_is_undefined_as_in_fairlearn() -> None:
    """The engine said 1.0 (the groups are equal) for 0/0; fairlearn says NaN."""
    from fairlearn.metrics import demographic_parity_ratio

    from metrics import against_reference, between_groups
    from metrics._exact import exact_disparity

    y = np.array([0, 1, 0, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = demographic_parity_ratio(
            y, np.zeros(4, int), sensitive_features=np.array(list("aabb"))
        )
    assert np.isnan(reference)
    assert np.isnan(between_groups(np.array([0.0, 0.0]), "ratio"))
    overall, per_group = against_reference(np.array([0.0, 0.0, 0.0]), 0, "ratio")
    assert np.isnan(overall) and np.isnan(per_group).all()
    # a zero reference against a selected group is still 0, never undefined
    overall, per_group = against_reference(np.array([0.0, 0.0, 0.5]), 0, "ratio")
    assert overall == 0.0 and np.isnan(per_group[1]) and per_group[2] == 0.0
    assert between_groups(np.array([0.0, 0.5]), "ratio") == 0.0
    num, den = np.array([0, 0]), np.array([100, 100])
    assert exact_disparity(num, den, [0, 1], None, "ratio") is None
    assert exact_disparity(num, den, [0, 1], None, "difference") == 0


def test_a_score_ratio_of_zero_to_zero_never_passes(tmp_path: Path) -> None:
    """Scores of 0 for everyone: the mean score and scoring rate ratios were 1.0, a pass."""
    from audits import run_audit

    rng = np.random.default_rng(5)
    n = 600
    frame = pd.DataFrame(
        {
            "group": np.where(np.arange(n) % 2, "a", "b"),
            "outcome": rng.integers(0, 2, n),
            "decision": 0,
            "score": 0.0,
        }
    )
    frame.to_csv(tmp_path / "log.csv", index=False)
    checks = [
        {"metric": "mean_score", "disparity": "ratio", "min": 0.8},
        {"metric": "scoring_rate", "disparity": "ratio", "min": 0.8},
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.8, "reference": "group=a"},
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.8, "decide_on": "interval"},
    ]
    spec = log_spec(tmp_path / "log.csv", model={"score_column": "score"}, checks=checks)
    document = run_audit(write_yaml(tmp_path / "s.yaml", spec)).document
    assert document["verdict"] != "pass" and document["exit_code"] == 2
    for check in document["checks"]:
        assert check["status"] == "insufficient_evidence", check
        assert check["value"] is None, check
        assert "a ratio of 0 to 0 is undefined" in check["message"], check["message"]


# --- minimums the disclosure rule could not show --------------------------------------------


@pytest.mark.parametrize("size", [1, 5, 10, True])
def test_a_min_group_size_under_11_is_refused(tmp_path: Path, fairgate, size) -> None:
    """A group of 5 could be judged by the verdict, while every report hides its counts."""
    from .bad_inputs_support import decision_log

    spec = log_spec(decision_log(tmp_path), data={"min_group_size": size})
    code, _, err = fairgate("validate", write_yaml(tmp_path / "s.yaml", spec))
    assert code == 4, err
    message = " ".join(err.split())
    if size is True:
        assert "data.min_group_size must be a number, not a boolean" in message
    else:
        assert "data.min_group_size must be at least 11" in message
        assert "the disclosure rule hides every count under 11" in message
        assert f"Got {size} instead." in message


def test_a_monitor_min_cases_under_11_is_refused(tmp_path: Path, fairgate) -> None:
    from .monitor_support import monitor_spec

    spec = monitor_spec(tmp_path / "log.csv", min_cases=10)
    code, _, err = fairgate("validate", write_yaml(tmp_path / "s.yaml", spec))
    assert code == 4, err
    assert "monitor.min_cases must be at least 11" in " ".join(err.split())


def test_min_group_size_11_is_accepted_and_the_rule_is_the_reports_rule(
    tmp_path: Path, fairgate
) -> None:
    from audits._spec_rules import MIN_SHOWN
    from reports import MIN_CELL

    from .bad_inputs_support import decision_log

    assert MIN_SHOWN == MIN_CELL
    spec = log_spec(decision_log(tmp_path), data={"min_group_size": 11})
    code, _, err = fairgate("validate", write_yaml(tmp_path / "s.yaml", spec))
    assert code == 0, err


def test_a_reference_check_names_the_group_it_compares_with(tmp_path: Path) -> None:
    """The message of a check against a reference group named 'most favoured: d' while its
    ratio was taken against the reference a: a committee read the wrong comparison."""
    from audits import run_audit

    from .bad_inputs_support import decision_log

    log = decision_log(
        tmp_path,
        groups={
            "a": (300, 0.5, 0.5),
            "b": (200, 0.5, 0.3),
            "c": (200, 0.5, 0.5),
            "d": (200, 0.5, 0.8),
        },
    )
    checks = [
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.5, "reference": "group=a"}
    ]
    document = run_audit(write_yaml(tmp_path / "s.yaml", log_spec(log, checks=checks))).document
    (check,) = document["checks"]
    assert "compared with the reference group group=a" in check["message"], check["message"]
    assert "most favoured" not in check["message"]
