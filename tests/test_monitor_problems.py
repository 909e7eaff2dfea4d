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


def test_the_guard_refuses_secrets_in_the_uris_it_would_store(fairgate, tmp_path):
    """The guard model holds the wrapped model's URI and the state's URL: MLflow stores and
    serves them, so a token in either is refused (exit 4) and never shown."""
    tracking = ["--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]
    for model, state in [
        ("models:/svc/1?token=s3cr3t", str(tmp_path / "s.json")),
        ("https://u:s3cr3t@host/model", str(tmp_path / "s.json")),
        ("models:/svc/1", "https://host/state.json?key=s3cr3t"),
    ]:
        code, out, err = fairgate("guard", model, "--state", state, *tracking)
        assert code == 4, err
        assert "s3cr3t" not in out + err and "not shown" in err
    assert not (tmp_path / "mlflow.db").exists()  # nothing was logged
