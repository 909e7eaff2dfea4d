"""Hostile inputs for the circuit breaker: the ``monitor:`` block, the log, the commands."""

from __future__ import annotations

import pandas as pd
import pytest

from .bad_inputs_support import assert_exit, assert_no_release, run_cli, write_yaml
from .monitor_support import monitor_spec, service_log


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "log.csv"
    service_log([0.05] * 2, per_window=200).to_csv(path, index=False)
    return path


def _call(fairgate, tmp_path, spec, log):
    code, out, err = fairgate(
        "monitor", spec, "--log", log, "--no-mlflow", "--out", tmp_path / "out",
        "--state-dir", tmp_path / "state",
    )  # fmt: skip
    return code, out + err


@pytest.mark.parametrize(
    ("monitor", "words"),
    [
        ({"timestmp": "ts"}, ["monitor.timestmp", "not a known key"]),
        ({"window": "0"}, ["monitor.window", "[1, 10000000]", "Got 0"]),
        ({"window": "0h"}, ["monitor.window", "above 0"]),
        ({"window": 0}, ["monitor.window", "[1, 10000000]"]),
        ({"window": "1 fortnight"}, ["monitor.window", "duration"]),
        ({"trip_above": 1.5}, ["monitor.trip_above", "1.5"]),
        ({"trip_above": 0}, ["monitor.trip_above"]),
        ({"min_cases": 0}, ["monitor.min_cases"]),
        ({"recovery_windows": 0}, ["monitor.recovery_windows"]),
        ({"cool_down": -1}, ["monitor.cool_down"]),
        ({"window": 500, "cool_down": "2h"}, ["monitor.cool_down", "time windows"]),
        ({"metric": "selection_rate"}, ["monitor.metric", "error_rate"]),
        ({"confidence": 1.0}, ["monitor.confidence"]),
        ({"estimate_may_open": True}, ["monitor.estimate_may_open", "monitor.score"]),
        ({"score": "score", "metric": "false_positive_rate"}, ["monitor.score", "error_rate"]),
        ({"pool_windows": 0}, ["monitor.pool_windows"]),
        ({"trip_on_fairness": "sometimes"}, ["monitor.trip_on_fairness"]),
    ],
    ids=lambda v: str(v)[:40],
)
def test_a_bad_monitor_block_is_a_usage_error(fairgate, tmp_path, log, monitor, words):
    spec = monitor_spec(log)
    spec["monitor"].update(monitor)
    code, output = _call(fairgate, tmp_path, write_yaml(tmp_path / "s.yaml", spec), log)
    assert code == 4, output
    for word in words:
        assert word in output, output
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()


def test_tripping_on_fairness_without_a_group_metric_check_is_a_usage_error(
    fairgate, tmp_path, log
):
    spec = monitor_spec(log, trip_on_fairness=True)
    spec["checks"] = [{"metric": "roc_auc", "disparity": "difference", "max": 0.1}]
    code, output = _call(fairgate, tmp_path, write_yaml(tmp_path / "s.yaml", spec), log)
    assert code == 4, output
    assert "monitor.trip_on_fairness needs a group_metric check" in output
    assert not (tmp_path / "out").exists()


def test_a_spec_without_a_monitor_block_is_a_usage_error(fairgate, tmp_path, log):
    spec = monitor_spec(log)
    del spec["monitor"]
    code, output = _call(fairgate, tmp_path, write_yaml(tmp_path / "s.yaml", spec), log)
    assert code == 4 and "monitor" in output


def _no_timestamp(path):
    service_log([0.05]).drop(columns="ts").to_csv(path, index=False)


def _header_only(path):
    service_log([0.05]).iloc[:0].to_csv(path, index=False)


def _zero_bytes(path):
    path.write_bytes(b"")


def _bad_times(path):
    frame = service_log([0.05] * 2)
    frame["ts"] = frame["ts"].astype(str)
    frame.loc[3, "ts"] = "yesterday-ish"
    frame.to_csv(path, index=False)


def _no_label(path):
    service_log([0.05]).drop(columns="outcome").to_csv(path, index=False)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_no_timestamp, ["timestamp", "'ts'"]),
        (_header_only, ["no decisions", "0 rows"]),
        (_zero_bytes, ["empty"]),
        (_bad_times, ["'ts'", "not times"]),
        (_no_label, ["label", "'outcome'"]),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:],
)
def test_a_log_that_cannot_be_judged_cannot_decide(tmp_path, make, words):
    path = tmp_path / "service.csv"
    make(path)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path))
    proc = run_cli(
        "monitor", spec, "--log", path, "--no-mlflow", "--out", tmp_path / "out",
        "--state-dir", tmp_path / "state",
    )  # fmt: skip
    assert_exit(proc, 2, "could not decide", *words)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "state").exists()  # the breaker's state is left as it was


def _bad_scores(path):
    frame = service_log([0.05] * 2)
    frame.loc[5, "score"] = 1.7
    frame.to_csv(path, index=False)


def test_scores_that_are_not_probabilities_cannot_decide(fairgate, tmp_path):
    path = tmp_path / "log.csv"
    _bad_scores(path)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path, score="score"))
    code, output = _call(fairgate, tmp_path, spec, path)
    assert code == 2 and "'score'" in output and "probabilities" in output


def test_a_window_too_short_for_the_log_cannot_decide(fairgate, tmp_path):
    path = tmp_path / "log.csv"
    frame = service_log([0.05] * 2, per_window=50)
    frame.loc[len(frame)] = {**frame.iloc[0].to_dict(), "ts": pd.Timestamp("2027-03-01", tz="UTC")}
    frame.to_csv(path, index=False)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path, window="60s"))
    code, output = _call(fairgate, tmp_path, spec, path)
    assert code == 2 and "longer monitor.window" in output


def test_a_log_that_matches_no_file_cannot_decide(fairgate, tmp_path, log):
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(log))
    code, output = _call(fairgate, tmp_path, spec, str(tmp_path / "nothing-*.csv"))
    assert code == 2 and "matches no CSV or Parquet file" in output


def test_the_evidence_of_an_open_breaker_claims_no_release(fairgate, tmp_path):
    path = tmp_path / "log.csv"
    service_log([0.05, 0.4], per_window=400).to_csv(path, index=False)
    code, output = _call(fairgate, tmp_path, write_yaml(tmp_path / "s.yaml", monitor_spec(path)),
                         path)  # fmt: skip
    assert code == 5, output
    assert_no_release(tmp_path / "out", tmp_path / "state")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["open", "../../etc", "--by", "A", "--reason", "r"], ["SYSTEM", "spec name"]),
        (["open", "svc", "--by", " ", "--reason", "because"], ["--by"]),
        (["reset", "svc", "--by", "Ana", "--reason", ""], ["--reason"]),
        (["open", "svc", "--reason", "because"], ["--by"]),
        (["close", "svc", "--by", "Ana", "--reason", "r"], ["close"]),
    ],
)
def test_bad_breaker_commands_are_usage_errors(tmp_path, args, words):
    proc = run_cli("breaker", *args, "--state-dir", tmp_path / "state")
    assert_exit(proc, 4, *words)
    assert not (tmp_path / "state").exists()


def test_the_status_of_an_unknown_breaker_cannot_decide(fairgate, tmp_path):
    code, _, err = fairgate("breaker", "status", "never-seen", "--state-dir", tmp_path)
    assert code == 2 and "no breaker state" in err


def test_a_corrupt_state_file_is_not_read_as_closed(fairgate, tmp_path):
    (tmp_path / "svc.json").write_text("{not json")
    code, _, err = fairgate("breaker", "status", "svc", "--state-dir", tmp_path)
    assert code == 2 and "cannot be read" in err


def test_the_guard_of_an_unknown_model_is_not_logged(fairgate, tmp_path):
    code, _, err = fairgate(
        "guard", "models:/no-such-model/1", "--state", tmp_path / "s.json",
        "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
    )  # fmt: skip
    assert code == 2 and "could not be logged" in err


def test_unused_log_columns_do_not_matter(fairgate, tmp_path):
    path = tmp_path / "log.parquet"
    frame = service_log([0.05] * 2, per_window=300)
    frame["extra"] = pd.NA
    frame.to_parquet(path)
    code, output = _call(fairgate, tmp_path, write_yaml(tmp_path / "s.yaml", monitor_spec(path)),
                         path)  # fmt: skip
    assert code == 0, output
