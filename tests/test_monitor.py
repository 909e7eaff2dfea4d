"""``fairgate monitor``, ``fairgate breaker`` and the served guard, on real logs and servers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from audits._monitor_record import CHECK_CODE
from reports import metric_key

from .monitor_support import HOUR, START, monitor_spec, selection_log, service_log
from .servers import start_model_server, start_tracking_server, stop


@pytest.fixture
def setup(tmp_path, write_spec):
    """Write a log and its spec; return a runner of ``fairgate monitor`` on them."""

    def make(log: pd.DataFrame | None = None, *, name: str = "log.csv", **monitor):
        path = tmp_path / name
        if log is not None:
            if name.endswith(".parquet"):
                log.to_parquet(path)
            else:
                log.to_csv(path, index=False)
        return path, write_spec(monitor_spec(path, **monitor))

    return make


def monitor(fairgate, tmp_path, spec, log, *, mlflow: bool = False):
    out = tmp_path / f"out-{time.monotonic_ns()}"
    logging = ["--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"] if mlflow else []
    code, stdout, stderr = fairgate(
        "monitor",
        spec,
        "--log",
        log,
        "--out",
        out,
        "--state-dir",
        tmp_path / "state",
        *(logging or ["--no-mlflow"]),
    )
    doc = json.loads((out / "monitoring.json").read_text()) if out.exists() else None
    return code, stdout + stderr, doc, out


def test_a_step_in_one_group_opens_the_breaker_and_exits_5(fairgate, tmp_path, setup):
    log, spec = setup(service_log([0.05] * 3 + [0.25] * 2))
    code, output, doc, out = monitor(fairgate, tmp_path, spec, log)
    assert code == 5, output
    assert "breaker: open" in output or "breaker: half_open" in output
    trip = next(e for e in doc["events"] if e["cause"] == "trip")
    assert trip["group"] == "group=a" and trip["window"] == 3 and trip["low"] > 0.15
    assert [w["state"] for w in doc["windows"]][:3] == ["closed"] * 3
    state = json.loads((tmp_path / "state" / "service-watch.json").read_text())
    assert state["state"] == doc["state"] != "closed" and "group=a" in state["reason"]
    html = (out / "report.html").read_text()
    # overall, group=a, group=b, and the spec's check (error rate difference) per window
    assert html.count("data:image/png;base64,") == 4
    assert "group=a" in html and "trip" in html
    transitions = pd.read_csv(out / "transitions.csv")
    assert list(transitions["cause"][:1]) == ["trip"]


def test_a_steady_log_in_count_windows_over_a_folder_exits_0(fairgate, tmp_path, setup):
    folder = tmp_path / "logs"
    folder.mkdir()
    full = service_log([0.05] * 6, per_window=500, seed=3)
    full.iloc[:1500].to_csv(folder / "part-1.csv", index=False)
    full.iloc[1500:].to_parquet(folder / "part-2.parquet")
    _, spec = setup(None, name="logs/part-1.csv", window=500)
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, folder)
    assert code == 0, output
    assert len(doc["windows"]) == 6 and doc["log"]["pending_rows"] == 1
    assert {w["health"] for w in doc["windows"]} <= {"healthy", "uncertain"}
    code, output, doc2, _ = monitor(fairgate, tmp_path, spec, str(folder / "part-*"))
    assert code == 0 and len(doc2["windows"]) == 6  # a glob reads the same files


def test_windows_without_enough_reviews_are_insufficient_never_healthy(fairgate, tmp_path, setup):
    log = service_log([0.05] * 2 + [0.40] * 2, per_window=400)
    log.loc[log["ts"] >= START + 2 * HOUR, "outcome"] = np.nan  # reviews not back yet
    path, spec = setup(log)
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 0, output  # the bad windows are not reviewed yet: nothing to trip on
    health = [w["health"] for w in doc["windows"]]
    assert health[2:] == ["insufficient"] * 2 and "trip" not in health
    # the reviews come in: the same windows now trip the breaker
    path.unlink()
    path, spec = setup(service_log([0.05] * 2 + [0.40] * 2, per_window=400))
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 5 and doc["windows"][2]["health"] == "trip"


@pytest.mark.parametrize("may_open", [False, True])
def test_scores_estimate_the_rate_before_the_reviews_come_in(fairgate, tmp_path, setup, may_open):
    log = service_log([0.05] * 2 + [0.30] * 2, per_window=600)
    log.loc[log["ts"] >= START + 2 * HOUR, "outcome"] = np.nan  # reviews not back yet
    path, spec = setup(log, score="score", estimate_may_open=may_open)
    code, output, doc, out = monitor(fairgate, tmp_path, spec, path)
    expected = "trip" if may_open else "insufficient"  # an estimate trips only if allowed
    assert [w["health"] for w in doc["windows"]][2:] == [expected] * 2
    assert [w["estimated"] for w in doc["windows"]][2:] == [may_open] * 2
    assert doc["early_warnings"][:1] == [doc["windows"][2]["label"]]
    assert doc["windows"][2]["estimate"]["group"] == "group=a"
    assert "Early warnings" in (out / "report.html").read_text()
    if may_open:
        assert code == 5, output
        assert doc["events"][0]["cause"] == "estimated_trip"
    else:
        assert code == 0 and "early warning" in output and not doc["events"]


PARITY = {"name": "parity", "metric": "selection_rate", "disparity": "ratio", "min": 0.8}


def _fairness_spec(write_spec, log_path, *, checks=(PARITY,), data=None, **monitor):
    doc = monitor_spec(log_path, **monitor)
    doc["checks"] = list(checks)
    doc["data"].update(data or {})
    return write_spec(doc, name=f"spec-{time.monotonic_ns()}.yaml")


def _statuses(doc, field="status"):
    return [[c[field] for c in w["checks"]] for w in doc["windows"]]


@pytest.mark.parametrize("trips", [False, True])
def test_a_collapsing_selection_rate_ratio_fails_the_fairness_check_in_those_windows(
    fairgate, tmp_path, write_spec, trips
):
    path = tmp_path / "log.csv"
    selection_log([0.5] * 3 + [0.1] * 3, per_window=600).to_csv(path, index=False)
    spec = _fairness_spec(write_spec, path, trip_on_fairness=trips)
    code, output, doc, out = monitor(fairgate, tmp_path, spec, path)
    statuses = _statuses(doc)
    assert ["fail"] not in statuses[:3] and statuses[3:] == [["fail"]] * 3, statuses
    assert _statuses(doc, "evidence")[3:] == [["trip"]] * 3  # intervals wholly under 0.8
    check = doc["windows"][4]["checks"][0]
    assert check["name"] == "parity [group]" and check["ci"][1] < 0.8
    assert check["worst_group"] == "group=a"
    assert doc["fairness"]["beyond_threshold"]["parity [group]"] == [
        w["label"] for w in doc["windows"][3:]
    ]
    assert {w["health"] for w in doc["windows"][:3]} <= {"healthy", "uncertain"}
    html = (out / "report.html").read_text()
    assert "Fairness checks per window" in html and "parity [group]" in html
    assert html.count("data:image/png;base64,") == 4  # 3 misjudgment charts, 1 check chart
    if not trips:  # recorded, reported, but the breaker follows the misjudgment rate only
        assert code == 0, output
        assert "recorded only (monitor.trip_on_fairness is off)" in output
        assert not doc["events"]
        return
    assert code == 5, output
    first = doc["events"][0]
    assert (first["window"], first["cause"], first["check"]) == (
        3,
        "fairness_trip",
        "parity [group]",
    )
    assert first["group"] == "group=a" and first["high"] < first["bound"] == 0.8
    assert "fairness check parity [group]" in doc["reason"]
    assert "fairness_trip" in (out / "transitions.csv").read_text()


def test_a_window_without_enough_reviews_gives_insufficient_evidence_for_each_check(
    fairgate, tmp_path, write_spec
):
    log = selection_log([0.5, 0.5, 0.1, 0.1], per_window=600)
    late = log["ts"] >= START + 2 * HOUR
    keep = late & (log.index.to_series() % 20 == 0)  # 1 in 20 reviewed: ~30 per window
    log.loc[late & ~keep, "outcome"] = np.nan
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    spec = _fairness_spec(write_spec, path, trip_on_fairness=True)
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 0, output  # the collapse is not reviewed yet: nothing to trip on
    statuses = _statuses(doc)
    assert statuses[2:] == [["insufficient_evidence"]] * 2, statuses
    assert "under monitor.min_cases" in doc["windows"][2]["checks"][0]["message"]
    assert [w["health"] for w in doc["windows"]][2:] == ["insufficient"] * 2
    # a group under data.min_group_size: the check is insufficient though the window is not,
    # and with trip_on_fairness such a window is never healthy; with no window's fairness
    # judged at all, the monitor could not decide (exit 2), never 'the model decides'
    path = tmp_path / "full.csv"
    selection_log([0.5] * 3, per_window=600).to_csv(path, index=False)
    spec = _fairness_spec(write_spec, path, trip_on_fairness=True, data={"min_group_size": 250})
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 2 and "trip_on_fairness is on" in output, output
    assert _statuses(doc) == [["insufficient_evidence"]] * 3
    assert {w["health"] for w in doc["windows"]} == {"uncertain"}


def test_the_checks_resample_by_the_spec_s_clusters(fairgate, tmp_path, write_spec):
    log = selection_log([0.5] * 2, per_window=600)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    spec = _fairness_spec(write_spec, path, data={"cluster_column": "desk"})
    code, output, _, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 2 and "cluster (data.cluster_column) column 'desk'" in output, output
    # each desk decides alike (all favourable or all not): resampling whole desks widens the
    # intervals
    log.assign(desk=log["decision"] * 20 + np.arange(len(log)) % 20).to_csv(path, index=False)
    code, output, clustered, _ = monitor(fairgate, tmp_path, spec, path)
    plain = _fairness_spec(write_spec, path)
    _, _, rows, _ = monitor(fairgate, tmp_path, plain, path)
    assert code == 0, output
    for a, b in zip(clustered["windows"], rows["windows"], strict=True):
        (ca,), (cb,) = a["checks"], b["checks"]
        assert ca["value"] == cb["value"]
        assert ca["ci"][1] - ca["ci"][0] > cb["ci"][1] - cb["ci"][0]


def test_a_log_without_any_review_cannot_decide(fairgate, tmp_path, setup):
    log = service_log([0.05] * 3, reviewed=0.0)
    path, spec = setup(log)
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 2, output
    assert "min_cases" in output and doc["exit_code"] == 2
    assert {w["health"] for w in doc["windows"]} == {"insufficient"}


def test_people_force_open_and_reset_the_breaker(fairgate, tmp_path, setup):
    path, spec = setup(service_log([0.05] * 3))
    state_dir = tmp_path / "state"
    assert monitor(fairgate, tmp_path, spec, path)[0] == 0
    code, out, _ = fairgate(
        "breaker",
        "open",
        "service-watch",
        "--by",
        "Ana Officer",
        "--reason",
        "complaints at desk 3",
        "--state-dir",
        state_dir,
    )
    assert code == 0 and "open" in out
    assert fairgate("breaker", "status", "service-watch", "--state-dir", state_dir)[0] == 5
    # the monitor replays the person's action after the windows judged when it was taken
    path, spec = setup(service_log([0.05] * 5))
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 5, output
    forced = [e for e in doc["events"] if e["cause"] == "force_open"]
    assert forced and forced[0]["by"] == "Ana Officer" and forced[0]["window"] == 2
    assert "complaints at desk 3" in doc["reason"]
    code, _, _ = fairgate(
        "breaker",
        "reset",
        "service-watch",
        "--by",
        "Ben Lead",
        "--reason",
        "camera re-lit",
        "--state-dir",
        state_dir,
    )
    assert code == 0
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path)
    assert code == 0, output
    assert [(e["cause"], e["by"]) for e in doc["events"]] == [
        ("force_open", "Ana Officer"),
        ("reset", "Ben Lead"),
    ]
    assert fairgate("breaker", "status", "service-watch", "--state-dir", state_dir)[0] == 0


def _register_model(tracking: str, artifacts: Path, name: str = "svc-model") -> str:
    """Register a model in ``tracking``; a local store keeps its artifacts in ``artifacts``
    (MLflow's default, ./mlruns, would be the working folder: the repository's root)."""
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    location = artifacts.as_uri() if tracking.startswith("sqlite:") else None
    experiment = MlflowClient(tracking_uri=tracking).create_experiment(
        "registration", artifact_location=location
    )
    mlflow.set_tracking_uri(tracking)
    x = pd.DataFrame({"x": np.arange(21.0)})
    model = LogisticRegression().fit(x, (x["x"] > 10).astype(int))
    try:
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                model, name="model", registered_model_name=name, input_example=x.head(2)
            )
    finally:
        mlflow.set_tracking_uri(None)
    return f"models:/{name}/1"


def test_the_monitor_logs_windows_to_mlflow_and_tags_the_model_version(fairgate, tmp_path, setup):
    from mlflow.tracking import MlflowClient

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    uri = _register_model(tracking, tmp_path / "artifacts")
    # 2000 decisions a window: group a's misjudged counts are all 11 or more, so every
    # window's rate may be logged (with 1000, 10 and 8 of them would be held back)
    path, _ = setup(service_log([0.05] * 3 + [0.25] * 2, per_window=2000))
    spec_doc = monitor_spec(path, decision="decision")
    spec_doc["model"] = {"kind": "mlflow", "uri": uri}
    spec = tmp_path / "mlflow-spec.yaml"
    spec.write_text(json.dumps(spec_doc))
    code, output, doc, _ = monitor(fairgate, tmp_path, spec, path, mlflow=True)
    assert code == 5, output
    client = MlflowClient(tracking_uri=tracking)
    version = client.get_model_version("svc-model", "1")
    assert version.tags["fairgate.breaker"] == doc["state"]
    assert not client.get_registered_model("svc-model").aliases  # no alias was touched
    (run,) = client.search_runs(
        [client.get_experiment_by_name("fairgate/service-watch").experiment_id]
    )
    assert run.data.tags["fairgate.breaker"] == doc["state"]
    history = client.get_metric_history(run.info.run_id, "misjudgment_low/group_a")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert history[3].value > 0.15 > history[0].value
    states = client.get_metric_history(run.info.run_id, "breaker_state")
    assert [m.value for m in states][:4] == [0, 0, 0, 2]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"breaker_transitions.json", "report.html", "monitoring.json"} <= artifacts
    table = json.loads(
        Path(client.download_artifacts(run.info.run_id, "breaker_transitions.json")).read_text()
    )
    assert "trip" in json.dumps(table)
    # the spec's fairness check (error rate difference at most 0.1) per window
    key = metric_key("check_value", "error_rate difference [group]")
    values = client.get_metric_history(run.info.run_id, key)
    assert [m.step for m in values] == [0, 1, 2, 3, 4]
    assert values[0].value < 0.1 < values[3].value  # 5 % vs 5 %, then 25 % vs 5 %
    status = client.get_metric_history(
        run.info.run_id, metric_key("check_status", "error_rate difference [group]")
    )
    assert [m.value for m in status][3:] == [CHECK_CODE["fail"]] * 2


def test_the_served_guard_hands_decisions_to_people_while_the_breaker_is_open(fairgate, tmp_path):
    tracking, server = start_tracking_server(tmp_path / "mlflow")
    model_server = None
    try:
        uri = _register_model(tracking, tmp_path / "artifacts")
        folder = tmp_path / "service-log"
        folder.mkdir()
        spec_doc = monitor_spec(folder, decision="decision")
        spec_doc["model"] = {"kind": "mlflow", "uri": uri}
        spec = tmp_path / "spec.yaml"
        state_file = tmp_path / "state" / "service-watch.json"

        def run_monitor() -> int:
            code, out, err = fairgate(
                "monitor",
                spec,
                "--log",
                folder,
                "--state-dir",
                tmp_path / "state",
                "--out",
                tmp_path / f"out-{time.monotonic_ns()}",
                "--tracking-uri",
                tracking,
            )
            assert code in (0, 5), out + err
            return code

        def part(i: int, rates: list[float], first: int) -> None:
            log = service_log(rates, seed=i, start=START + first * HOUR)
            log.to_csv(folder / f"part-{i}.csv", index=False)

        part(1, [0.05] * 3, 0)
        spec_doc["data"]["path"] = str(folder / "part-1.csv")  # the spec's data: any one file
        spec.write_text(json.dumps(spec_doc))
        assert run_monitor() == 0
        code, out, err = fairgate(
            "guard", uri, "--state", state_file, "--refresh-s", "0.5", "--tracking-uri", tracking
        )
        assert code == 0, out + err
        guard_uri = out.split("guard logged: ")[1].split()[0]
        url, model_server = start_model_server(guard_uri, tracking)

        def answers() -> list[dict]:
            time.sleep(0.6)  # the guard reads the state at most every 0.5 s
            body = {"dataframe_records": [{"x": 0.0}, {"x": 20.0}]}
            reply = requests.post(f"{url}/invocations", json=body, timeout=30)
            reply.raise_for_status()
            return reply.json()["predictions"]

        closed = answers()
        assert [a["decision"] for a in closed] == [0, 1]
        part(2, [0.25] * 2, 3)  # misjudgment of group a steps from 5 % to 25 %
        assert run_monitor() == 5
        opened = answers()
        assert [a["decision"] for a in opened] == ["manual_review"] * 2
        assert "group=a" in opened[0]["reason"]
        tags = requests.get(
            f"{tracking}/api/2.0/mlflow/model-versions/get",
            params={"name": "svc-model", "version": "1"},
            timeout=10,
        ).json()["model_version"]["tags"]
        state = json.loads(state_file.read_text())["state"]
        assert state in ("open", "half_open")
        assert {"key": "fairgate.breaker", "value": state} in tags
        part(3, [0.05] * 4, 5)  # fixed: cool-down, then two healthy half-open windows
        assert run_monitor() == 0
        assert [a["decision"] for a in answers()] == [0, 1]
    finally:
        if model_server is not None:
            stop(model_server)
        stop(server)


SECRET = "Tr4cking-S3cret"


def test_tracking_credentials_are_written_nowhere_and_needed_again(
    fairgate, tmp_path, setup, monkeypatch
):
    """The monitor given a tracking URI with credentials keeps only its public form in the
    state file; ``breaker`` then needs the URI again to tag the model (exit 2 without it)."""
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking, server = start_tracking_server(tmp_path / "mlflow")
    try:
        uri = _register_model(tracking, tmp_path / "artifacts")
        secret = tracking.replace("http://", f"http://auditor:{SECRET}@")
        path, _ = setup(service_log([0.05] * 3 + [0.25] * 2))
        spec_doc = monitor_spec(path, decision="decision")
        spec_doc["model"] = {"kind": "mlflow", "uri": uri}
        spec = tmp_path / "mlflow-spec.yaml"
        spec.write_text(json.dumps(spec_doc))
        state_dir = tmp_path / "state"
        code, out, err = fairgate(
            "monitor", spec, "--log", path, "--out", tmp_path / "out",
            "--state-dir", state_dir, "--tracking-uri", secret,
        )  # fmt: skip
        assert code == 5, out + err
        state_file = state_dir / "service-watch.json"
        state = json.loads(state_file.read_text())
        assert state["tracking_uri"] == tracking.replace("http://", "http://***@")
        client = MlflowClient(tracking_uri=tracking)

        def tag() -> str:
            return client.get_model_version("svc-model", "1").tags["fairgate.breaker"]

        assert tag() == state["state"] != "closed"
        reset = ("breaker", "reset", "service-watch", "--by", "Ben Lead", "--reason", "fixed")
        code, out, err = fairgate(*reset, "--state-dir", state_dir)
        assert code == 2, out + err
        assert "--tracking-uri" in err and "without its credentials" in err
        assert json.loads(state_file.read_text())["state"] == "closed"  # recorded, not tagged
        assert tag() != "closed"
        code, out, err = fairgate(*reset, "--state-dir", state_dir, "--tracking-uri", secret)
        assert code == 0, out + err
        assert tag() == "closed"
        # a state file written before only public URIs were kept loses its secret
        state_file.write_text(json.dumps({**state, "tracking_uri": secret}))
        opened = ("breaker", "open", "service-watch", "--by", "Ana", "--reason", "complaints")
        code, out, err = fairgate(*opened, "--state-dir", state_dir)
        assert code == 2 and "--tracking-uri" in err, out + err
        assert tag() == "closed"
    finally:
        stop(server)
    written = [
        str(p) for p in tmp_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()
    ]
    assert not written
