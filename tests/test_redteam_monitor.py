"""Red team of the circuit breaker: a person's action taken while a monitor replays the log.

``fairgate monitor`` read people's actions, replayed the log, then wrote the state file the
guard reads; a ``fairgate breaker open`` recorded in between was overwritten by the replay's
"closed", so the served model went on deciding although a person had stopped it.
"""

from __future__ import annotations

import subprocess
import sys
import time

import yaml

from .bad_inputs_support import ROOT
from .monitor_support import monitor_spec, service_log

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
