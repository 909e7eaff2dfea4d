"""Red team of the circuit breaker: a person's action taken while a monitor replays the log.

``fairgate monitor`` read people's actions, replayed the log, then wrote the state file the
guard reads; a ``fairgate breaker open`` recorded in between was overwritten by the replay's
"closed", so the served model went on deciding although a person had stopped it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reports import metric_key

from .bad_inputs_support import ROOT
from .monitor_support import HOUR, START, monitor_spec, service_log

#: A person forcing the breaker open.
ACT = ("open", "service-watch", "--by", "Ana", "--reason", "complaints")


def _breaker(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "audits.cli", "breaker", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_breaker_opened_during_a_replay_stays_open(fairgate, tmp_path, monkeypatch) -> None:
    import audits._monitor as monitor_module

    log = tmp_path / "log.csv"
    service_log([0.05] * 3).to_csv(log, index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(monitor_spec(log)), encoding="utf-8")
    state = tmp_path / "state"
    checks = monitor_module.window_checks
    opened: list[str] = []

    def person_acts_during_the_replay(*args, **kwargs):
        if not opened:  # a person, in another process, while the windows are judged
            proc = _breaker(*ACT, "--state-dir", state)
            stdout, stderr = proc.communicate(timeout=120)
            opened.append(stdout + stderr)
            assert proc.returncode == 0, opened[-1]
        return checks(*args, **kwargs)

    monkeypatch.setattr(monitor_module, "window_checks", person_acts_during_the_replay)
    out = tmp_path / "out"
    code, stdout, err = fairgate(
        "monitor", spec, "--log", log, "--state-dir", state, "--out", out, "--no-mlflow"
    )
    assert opened, "the person's action was not taken during the replay"
    assert code == 5, stdout + err
    assert "forced open by Ana" in stdout
    code, stdout, _ = fairgate("breaker", "status", "service-watch", "--state-dir", state)
    assert code == 5 and "open" in stdout


def test_a_person_s_action_waits_for_the_state_lock(tmp_path) -> None:
    """While a monitor holds the lock (writing the state), a person's action waits for it,
    then is recorded and applied."""
    from audits._monitor import state_lock

    state = tmp_path / "state"
    with state_lock(state, "service-watch"):
        proc = _breaker(*ACT, "--state-dir", state)
        time.sleep(3.0)
        assert proc.poll() is None, proc.communicate()
        assert not (state / "service-watch.json").exists()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stdout + stderr
    assert '"state": "open"' in (state / "service-watch.json").read_text(encoding="utf-8")


# --- small counts in the monitoring evidence ------------------------------------------------


def _window_log(windows: list[dict[str, tuple[int, int]]]) -> pd.DataFrame:
    """A reviewed log: per window and group, ``(reviewed decisions, misjudged ones)``."""
    rows = []
    for w, groups in enumerate(windows):
        for group, (cases, errors) in groups.items():
            for i in range(cases):
                wrong = i < errors
                rows.append(
                    {
                        "ts": START + w * HOUR + pd.Timedelta(seconds=10 + i),
                        "group": group,
                        "x": 0.0,
                        "decision": int(wrong),
                        "outcome": 0.0,
                        "score": 0.5,
                    }
                )
    rows.append({**rows[-1], "ts": START + len(windows) * HOUR, "outcome": float("nan")})
    return pd.DataFrame(rows)


def _monitored(fairgate, tmp_path: Path, windows: list[dict], *, expected: int):
    """``fairgate monitor`` of a log with these windows, logging to a sqlite store; its exit
    code must be ``expected``. Returns the evidence folder and the tracking URI."""
    log = tmp_path / "log.csv"
    _window_log(windows).to_csv(log, index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(monitor_spec(log, min_cases=11)), encoding="utf-8")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "out"
    code, stdout, err = fairgate(
        "monitor", spec, "--log", log, "--state-dir", tmp_path / "s", "--out", out,
        "--tracking-uri", tracking,
    )  # fmt: skip
    assert code == expected, stdout + err
    return out, tracking


def test_the_monitoring_evidence_shows_no_count_under_11(fairgate, tmp_path) -> None:
    """report.html showed the rate of a group with 9 reviewed decisions (22.2%: 2 of 9) and
    of one with 11 (9.1%: 1 of 11), the trip event of 8 of 9 misjudged, and MLflow got the
    metric reviewed/group_a = 9 and those rates: counts under 11 recovered in all of them."""
    from mlflow.tracking import MlflowClient

    windows = [
        {"a": (11, 1), "b": (109, 11)},
        {"a": (9, 2), "b": (111, 12)},
        {"a": (12, 10), "b": (111, 12)},
    ]
    out, tracking = _monitored(fairgate, tmp_path, windows, expected=5)
    doc = json.loads((out / "monitoring.json").read_text(encoding="utf-8"))
    trip = next(e for e in doc["events"] if e["cause"] == "trip")
    assert (trip["group"], trip["errors"], trip["cases"]) == ("group=a", 10, 12)  # the evidence
    report = (out / "report.html").read_text(encoding="utf-8")
    for leak in ("9.1%", "22.2%", "83.3%", ">9<"):
        assert leak not in report, leak
    assert "suppressed" in report
    transitions = pd.read_csv(out / "transitions.csv")
    assert transitions.loc[transitions["cause"] == "trip", "rate"].isna().all()
    client = MlflowClient(tracking_uri=tracking)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("fairgate/service-watch").experiment_id]
    )
    reviewed = client.get_metric_history(run.info.run_id, "reviewed/group_a")
    assert all(m.value >= 11 for m in reviewed)
    for name in ("rate", "low", "high"):
        assert not client.get_metric_history(run.info.run_id, f"misjudgment_{name}/group_a")
    overall = client.get_metric_history(run.info.run_id, "misjudgment_rate/overall")
    # Window 0: a's 1 of 11 is held back, so the window's 12 of 120 would give it back by
    # subtraction from b's 11 of 109 (complementary); window 1 holds back two groups; window
    # 2's 22 of 123 would give back a's 10 of 12 by subtraction from b's 12 of 111.
    assert [m.step for m in overall] == [1]
    rate_b = client.get_metric_history(run.info.run_id, "misjudgment_rate/group_b")
    assert 2 in [m.step for m in rate_b]  # window 2 shows b's rate, so not the overall
    table = client.download_artifacts(run.info.run_id, "breaker_transitions.json")
    assert "0.833" not in Path(table).read_text(encoding="utf-8")


def test_a_disparity_does_not_give_back_a_rate_held_back(fairgate, tmp_path) -> None:
    """Group a: 4 misjudged of 40 (its rate held back), b: 11 of 109 (10.1%, shown). The
    window's error_rate difference, 0.001, gave a's rate back (10.0%: 4 of 40) in the report,
    its chart and the MLflow metric check_value."""
    from mlflow.tracking import MlflowClient

    out, tracking = _monitored(fairgate, tmp_path, [{"a": (40, 4), "b": (109, 11)}], expected=0)
    doc = json.loads((out / "monitoring.json").read_text(encoding="utf-8"))
    (check,) = doc["windows"][0]["checks"]
    assert check["value"] == pytest.approx(11 / 109 - 4 / 40)  # the evidence keeps it
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "10.1%" in report  # b's rate may be shown ...
    assert f"{check['value']:.3f}" not in report  # ... the disparity may not
    assert "value suppressed" in report
    client = MlflowClient(tracking_uri=tracking)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("fairgate/service-watch").experiment_id]
    )
    key = metric_key("check_value", check["name"])
    assert not client.get_metric_history(run.info.run_id, key)
    status = client.get_metric_history(run.info.run_id, metric_key("check_status", check["name"]))
    assert [m.step for m in status] == [0]


@pytest.mark.parametrize(
    "line",
    ['{"action": "force_op', '{"action": "reset_all", "by": "A", "reason": "r"}', "[1, 2]"],
)
def test_unreadable_actions_of_people_open_the_breaker(fairgate, tmp_path, line: str) -> None:
    """A half-written or unknown action in <system>.manual.jsonl (a person's stop, perhaps)
    crashed every later monitor run ('fairgate failed: JSONDecodeError', exit 2) and left
    the state file as it was: "closed", and the guard kept the model deciding."""
    log = tmp_path / "log.csv"
    service_log([0.05] * 3).to_csv(log, index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(monitor_spec(log)), encoding="utf-8")
    state = tmp_path / "state"
    args = ("--log", log, "--state-dir", state, "--no-mlflow")
    code, stdout, err = fairgate("monitor", spec, *args, "--out", tmp_path / "o1")
    assert code == 0, stdout + err
    with (state / "service-watch.manual.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    code, stdout, err = fairgate("monitor", spec, *args, "--out", tmp_path / "o2")
    assert code == 2, stdout + err
    assert "service-watch.manual.jsonl" in err and "cannot be replayed" in err
    assert "fairgate failed" not in err
    code, stdout, _ = fairgate("breaker", "status", "service-watch", "--state-dir", state)
    assert code == 5 and "people's actions cannot be read" in stdout
