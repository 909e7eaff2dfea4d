"""The monitor's exit code never says more than what it recorded: a breaker state that could
not be written is no release (exit 2), and the evidence written says so too."""

from __future__ import annotations

from .monitor_support import service_log
from .test_monitor import monitor, setup  # noqa: F401  (the fixture)


def test_an_unwritable_state_file_is_not_a_closed_breaker(fairgate, tmp_path, setup):  # noqa: F811
    log, spec = setup(service_log([0.05] * 4))
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, log)
    assert code == 0, output  # healthy: closed
    state = tmp_path / "state" / "service-watch.json"
    state.unlink()
    (state / "blocker").mkdir(parents=True)  # a folder where the state file goes
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, log)
    assert code == 2, output  # was 0, with an error line
    assert doc["exit_code"] == 2 and "not recorded, so no release" in doc["message"]
    assert "breaker: closed (exit 2)" in output
