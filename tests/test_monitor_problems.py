"""The monitor's exit code never says more than what it recorded: a breaker state that could
not be written is no release (exit 2), and the evidence written says so too."""

from __future__ import annotations

from .monitor_support import service_log
from .test_monitor import monitor, setup  # noqa: F401  (the fixture)
from .test_redteam_breaker_inputs import _guard_of


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


def test_the_guard_does_not_trust_a_state_no_monitor_renews(tmp_path):
    """A monitor that stopped left 'closed' in place for ever: with a maximum age, a state
    last written longer ago, or not saying when, hands decisions to people."""
    import json
    from datetime import UTC, datetime, timedelta

    state = tmp_path / "svc.json"

    def written(hours_ago):
        at = datetime.now(UTC) - timedelta(hours=hours_ago)
        state.write_text(
            json.dumps({"state": "closed", "reason": "ok", "updated_at": at.isoformat()})
        )

    written(1)
    assert _guard_of(str(state), 24 * 3600).state()[0] == "closed"
    written(30)
    observed, reason = _guard_of(str(state), 24 * 3600).state()
    assert observed == "open" and "monitor may have stopped" in reason
    assert _guard_of(str(state), 0).state()[0] == "closed"  # no limit asked for
    state.write_text(json.dumps({"state": "half_open", "reason": "probe"}))
    observed, reason = _guard_of(str(state), 3600).state()
    assert observed == "open" and "does not say when" in reason


def test_the_registry_tag_says_when_the_breaker_was_set(tmp_path, monkeypatch):
    """``tag_breaker`` stamps the version, so a guard reading the tag can tell its age."""
    from mlflow.tracking import MlflowClient

    from audits._monitor_record import tag_breaker

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    client = MlflowClient(tracking_uri=tracking)
    client.create_registered_model("svc-model")
    client.create_model_version("svc-model", (tmp_path / "model").as_uri())
    assert tag_breaker("models:/svc-model/1", "closed", tracking_uri=tracking) == "svc-model/1"
    assert _guard_of("models:/svc-model/1", 3600).state()[0] == "closed"
    client.set_model_version_tag(
        "svc-model", "1", "fairgate.breaker.updated_at", "2020-01-01T00:00:00Z"
    )
    observed, reason = _guard_of("models:/svc-model/1", 3600).state()
    assert observed == "open" and "2020-01-01" in reason
