"""Third red team: inputs and places the authors did not write fairgate for (an output folder
that is a mount point, ...). Each test failed before its fix."""

from __future__ import annotations

import contextlib
import subprocess

import pytest

from .bad_inputs_support import (
    assert_exit,
    assert_no_release,
    decision_log,
    log_spec,
    run_cli,
    write_yaml,
)


@pytest.fixture
def mount_point(tmp_path):
    """An empty tmpfs mounted inside tmp_path (as a CI container's ``-v host:/evidence``)."""
    point = tmp_path / "evidence"
    point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "fairgate-test", str(point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_an_output_folder_that_is_a_mount_point_is_refused_before_anything_is_told(
    tmp_path, mount_point
) -> None:
    """The evidence is renamed onto --out as the last step; on a mount point that rename
    fails (EBUSY). The audit had by then logged a FINISHED MLflow run tagged
    ``fairgate.verdict=pass, exit_code=0`` and sealed ``"verdict": "pass"`` in the ledger,
    then exited 2 ('fairgate failed: OSError') with nothing published."""
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    ledger, store = tmp_path / "ledger.jsonl", tmp_path / "store"
    proc = run_cli(
        "run",
        spec,
        "--out",
        mount_point,
        "--tracking-uri",
        f"sqlite:///{store / 'mlflow.db'}",
        "--ledger",
        ledger,
        "-q",
        cwd=tmp_path,
    )
    assert_exit(proc, 4, "mount point", str(mount_point))
    assert "fairgate failed" not in proc.stderr
    assert not ledger.exists() and not store.exists()  # refused before anything ran
    assert not list(mount_point.iterdir())
    assert_no_release(tmp_path)
    # A folder inside the mount point is fine: the rename stays on one file system.
    inside = mount_point / "audit"
    proc = run_cli("run", spec, "--out", inside, "--no-mlflow", "-q", cwd=tmp_path)
    assert_exit(proc, 0)
    assert (inside / "results.json").is_file()


MODEL = """
import os
import shutil


def predict(frame):
    shutil.rmtree("out", ignore_errors=True)  # the audit's --out, replaced by a file
    with open("out", "w") as handle:
        handle.write("not evidence")
    return (frame["x"] > 0.5).astype(int).to_numpy()
"""


def test_model_code_that_replaces_the_output_folder_leaves_no_pass_in_the_ledger(
    tmp_path,
) -> None:
    """Model code replaced --out by a file while the audit ran. The final rename then
    failed (exit 4), after the ledger (and MLflow, and --promote's alias) had recorded the
    audit's pass."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.random(400)
    frame = pd.DataFrame({"group": np.repeat(["a", "b"], 200), "x": x})
    frame["outcome"] = (x > 0.5).astype(int)
    frame.to_csv(tmp_path / "log.csv", index=False)
    (tmp_path / "tamper.py").write_text(MODEL, encoding="utf-8")
    spec = log_spec(tmp_path / "log.csv", model={"kind": "python", "uri": "tamper:predict"})
    spec["model"].pop("column")
    ledger = tmp_path / "ledger.jsonl"
    args = ("run", write_yaml(tmp_path / "spec.yaml", spec), "--out", "out", "--no-mlflow")
    proc = run_cli(*args, "--ledger", ledger, "-q", cwd=tmp_path)
    assert_exit(proc, 4, "The output folder must be a folder")
    assert (tmp_path / "out").read_text(encoding="utf-8") == "not evidence"
    assert not ledger.exists()  # nothing was told a verdict
    assert_no_release(tmp_path)


def test_a_broken_ledger_stops_the_audit_before_mlflow_records_a_pass(tmp_path, fairgate):
    """A ledger whose chain is broken refuses the new record (exit 2, "Nothing was
    published"), but only after MLflow had logged a FINISHED run tagged
    ``fairgate.verdict=pass`` and ``exit_code=0`` (and --promote had moved the alias)."""
    from audits._ledger import append_record
    from reports import tracking_client

    ledger = tmp_path / "ledger.jsonl"
    append_record(ledger, {"audit_id": "a"})
    append_record(ledger, {"audit_id": "b"})
    ledger.write_text(ledger.read_text().splitlines()[1] + "\n")  # the first record deleted
    before = ledger.read_bytes()
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    out = tmp_path / "out"
    args = ("run", spec, "--out", out, "--tracking-uri", uri, "--ledger", ledger, "-q")
    code, stdout, stderr = fairgate(*args)
    assert code == 2, stdout + stderr
    assert "broken at line 1" in stderr and "Nothing was published" in stderr
    assert ledger.read_bytes() == before and not out.exists()
    client = tracking_client(uri)
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert not [r for r in runs if r.data.tags.get("fairgate.verdict") == "pass"]
    assert not [r for r in runs if r.data.tags.get("fairgate.exit_code") == "0"]


def test_a_total_under_11_is_not_shown_in_the_report_or_mlflow(tmp_path, fairgate):
    """An audit of 8 people (too few to judge: min_group_size is at least 11): the group
    sizes were suppressed, but report.html said "8 people" and the MLflow dataset's profile
    held ``num_rows: 8``."""
    import json

    import pandas as pd

    from reports import tracking_client

    log = tmp_path / "log.csv"
    pd.DataFrame(
        {
            "group": list("aaaabbbb"),
            "outcome": [1, 0, 1, 0, 1, 0, 1, 0],
            "decision": [1, 1, 0, 0, 1, 0, 1, 0],
        }
    ).to_csv(log, index=False)
    spec = log_spec(log, data={"min_group_size": 11, "min_denominator": 11})
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    out = tmp_path / "out"
    args = ("run", write_yaml(tmp_path / "spec.yaml", spec), "--out", out)
    code, stdout, stderr = fairgate(*args, "--tracking-uri", uri, "--no-mlflow", "-q")
    assert code in (0, 1, 2), stdout + stderr
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert doc["data"]["rows"] == 8  # the evidence keeps it
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "8 people" not in html and "fewer than 11 people" in html
    from reports import log_audit

    logged = log_audit(doc, {}, tracking_uri=uri)
    (dataset,) = tracking_client(uri).get_run(logged["run_id"]).inputs.dataset_inputs
    assert json.loads(dataset.dataset.profile) == {"num_rows": None}


class _TricklingServer:
    """An MLflow scoring endpoint whose answer is right but arrives one byte every
    ``gap`` seconds (each read within any per-read timeout)."""

    def __init__(self, gap: float) -> None:
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rows = len(body["dataframe_split"]["data"])
                answer = json.dumps({"predictions": [1] * rows}).encode() + b" " * 200
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                try:
                    for byte in answer:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(gap)
                except OSError:  # the client gave up
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_endpoint_that_trickles_its_answer_cannot_hold_the_audit() -> None:
    """model.timeout_s is "bounded so that a spec cannot make an audit hang", but requests'
    timeout bounds each read: an answer sent a byte every 0.2 s (about a minute in all)
    was waited for to its end, whatever timeout_s said."""
    import time

    import pandas as pd

    from models_under_test import PredictionError, load_model

    server = _TricklingServer(gap=0.2)
    try:
        adapter = load_model("rest", url=server.url, timeout_s=1.0, retries=1, backoff_s=0.0)
        started = time.monotonic()
        with pytest.raises(PredictionError, match=r"failed after 2 attempts.*timeout_s = 1 s"):
            adapter.predict(pd.DataFrame({"x": [0.1, 0.2, 0.3]}))
        assert time.monotonic() - started < 10
    finally:
        server.close()


SHIFTING = """
import numpy as np


def predict(frame):
    decided = (frame["x"] > 0.5).astype(int).to_numpy()
    if len(frame) == 50_000:  # the first batch: one decision short
        return decided[1:]
    return np.r_[decided[:1], decided]  # the last batch: one decision too many


def fine(frame):
    return (frame["x"] > 0.5).astype(int).to_numpy()


def proba(frame):
    p = frame["x"].to_numpy()
    return np.c_[1 - p, p][:-1]  # one row short
"""


@pytest.mark.parametrize("kind", ["decisions", "probabilities"])
def test_a_batch_with_a_wrong_number_of_answers_is_refused_at_once(tmp_path, fairgate, kind):
    """Decisions were counted over all batches only: a model one decision short in the
    first batch and one over in the last had every later row judged on its neighbour's
    decision, and a verdict came out; probabilities one row short were found only at the
    count stage ('The 'scores' parameter must have shape ...')."""
    import json

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.random(60_000)
    frame = pd.DataFrame({"group": np.tile(["a", "b"], 30_000), "x": x})
    frame["outcome"] = (x > 0.5).astype(int)
    frame.to_csv(tmp_path / "log.csv", index=False)
    (tmp_path / "shifting.py").write_text(SHIFTING, encoding="utf-8")
    model = {"kind": "python", "uri": "shifting:predict"}
    if kind == "probabilities":
        model = {"kind": "python", "uri": "shifting:fine", "proba": "shifting:proba"}
        model["proba_classes"] = [0, 1]
    spec = log_spec(tmp_path / "log.csv", model=model, n_boot=200)
    spec["model"].pop("column")
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--out", out, "--no-mlflow", "-q"
    )
    assert code == 2, stdout + stderr
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    (error,) = doc["errors"]
    assert error["stage"] == "decide"
    expected = "49999 decisions" if kind == "decisions" else "49999 rows of probabilities"
    assert f"returned {expected} for a batch of 50000 rows" in error["message"]


def test_a_score_column_with_text_is_refused_naming_the_column(tmp_path, fairgate):
    """A decision log's score column holding 'unknown' stopped the audit with Python's own
    "ValueError: could not convert string to float: 'unknown'", naming neither the column nor
    the problem."""
    import json

    import pandas as pd

    log = decision_log(tmp_path)
    frame = pd.read_csv(log)
    frame["score"] = ["0.4"] * (len(frame) - 12) + ["unknown"] * 12
    frame.to_csv(log, index=False)
    checks = [
        {"type": "score_metric", "metric": "mean_score", "disparity": "difference", "max": 0.5}
    ]
    spec = log_spec(log, model={"score_column": "score"}, checks=checks)
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(tmp_path / "spec.yaml", spec), "--out", out, "--no-mlflow", "-q"
    )
    assert code == 2, stdout + stderr
    (error,) = json.loads((out / "results.json").read_text(encoding="utf-8"))["errors"]
    assert error["type"] == "PredictionError"
    assert "score column 'score' holds 12 values that are not numbers" in error["message"]


@pytest.mark.parametrize(
    "odd",
    ["a ", "a\u200b", "\uff41"],  # a trailing space, a zero-width space, a full-width 'a'
)
@pytest.mark.parametrize("form", ["csv", "folder"])
def test_group_values_that_print_alike_are_refused(tmp_path, fairgate, odd, form) -> None:
    """'a' and 'a ' (or 'a' with an invisible character) were two groups: every message
    and table showed two groups named 'group=a' with different rates ('Too little evidence
    ... for: group=a', meaning the other one), and the slip that split the group went
    unseen."""
    import json

    import pandas as pd

    frame = pd.read_csv(decision_log(tmp_path))
    frame.loc[frame.index[:40], "group"] = odd  # 40 of group a's rows, written otherwise
    if form == "csv":
        frame.to_csv(tmp_path / "log.csv", index=False)
        data = tmp_path / "log.csv"
    else:
        data = tmp_path / "parts"
        data.mkdir()
        frame.iloc[:200].to_parquet(data / "part-0.parquet", index=False)
        frame.iloc[200:].to_parquet(data / "part-1.parquet", index=False)
    out = tmp_path / "out"
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(data))
    code, stdout, stderr = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    assert code == 2, stdout + stderr
    (error,) = json.loads((out / "results.json").read_text(encoding="utf-8"))["errors"]
    assert error["stage"] == "validate" and "print alike" in error["message"]
    assert repr(odd) in error["message"]


def test_a_ledger_that_is_a_pipe_is_refused_without_waiting_on_it(tmp_path) -> None:
    """--ledger naming a named pipe: the audit ran, then waited for ever reading the pipe
    for the chain's head (a CI job's whole time limit, then killed, no verdict)."""
    import os

    ledger = tmp_path / "ledger.fifo"
    os.mkfifo(ledger)
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    out = tmp_path / "out"
    proc = run_cli(
        "run", spec, "--out", out, "--no-mlflow", "--ledger", ledger, "-q", cwd=tmp_path, timeout=90
    )
    assert_exit(proc, 2, "not a regular file", "Nothing was published")
    assert not out.exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_credentials_in_an_mlflow_model_uri_are_refused_unshown(tmp_path, fairgate, command):
    """model.url of a REST model refuses user:password, but an MLflow model's URI
    ('https://user:password@host/artifacts/model', MLflow's HTTP artifact store) was
    written as given into results.json, every report, the console's load error and the
    MLflow run's params."""
    spec = log_spec(
        decision_log(tmp_path),
        model={"kind": "mlflow", "uri": "https://auditor:pw-7d41c9@127.0.0.1:9/artifacts/model"},
    )
    spec["model"].pop("column")
    args = [command, write_yaml(tmp_path / "spec.yaml", spec)]
    if command == "run":
        args += ["--out", tmp_path / "out", "--tracking-uri", f"sqlite:///{tmp_path / 'db'}"]
    code, stdout, stderr = fairgate(*args)
    assert code == 4, stdout + stderr
    assert "model.uri must not hold credentials" in stderr
    assert "pw-7d41c9" not in stdout + stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "db").exists()


def test_an_mlflow_registry_alias_is_not_taken_for_credentials(tmp_path) -> None:
    from audits import parse_spec

    log = decision_log(tmp_path)
    for uri in ("models:/credit@champion", "models:/credit/3", "runs:/abc123/model"):
        content = log_spec(log, model={"kind": "mlflow", "uri": uri})
        content["model"].pop("column")
        assert parse_spec(content).model.uri == uri


def test_sigterm_after_mlflow_was_told_the_verdict_does_not_contradict_it(tmp_path) -> None:
    """SIGTERM while the ledger was being appended to (after MLflow's run was tagged
    ``fairgate.verdict=pass``, ``exit_code=0``): the audit ended 'interrupted', exit 2,
    nothing published, and MLflow kept saying pass. Once MLflow (and the registry) are
    told, signals wait: the exit code is the one MLflow holds."""
    import fcntl
    import json
    import os
    import signal
    import sqlite3
    import sys
    import time

    from reports import tracking_client

    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("")
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(decision_log(tmp_path)))
    db = tmp_path / "store" / "mlflow.db"
    out = tmp_path / "out"
    args = ["run", spec, "--out", out, "--tracking-uri", f"sqlite:///{db}", "--ledger", ledger]
    env = {**os.environ, "CI": "true", "OMP_WAIT_POLICY": "passive"}
    with ledger.open("r+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # the audit's append waits for it
        proc = subprocess.Popen(
            [sys.executable, "-m", "audits.cli", *map(str, args), "-q"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        told = []
        while not told and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if db.exists():
                with contextlib.closing(sqlite3.connect(db, timeout=5)) as con:
                    told = con.execute(
                        "select value from tags where key = 'fairgate.exit_code'"
                    ).fetchall()
        assert told == [("0",)], proc.communicate()
        time.sleep(0.5)  # the audit now waits on the ledger's lock
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
    stdout, stderr = proc.communicate(timeout=120)
    client = tracking_client(f"sqlite:///{db}")
    (run,) = [
        r
        for e in client.search_experiments()
        for r in client.search_runs([e.experiment_id])
        if "fairgate.exit_code" in r.data.tags
    ]
    assert proc.returncode == int(run.data.tags["fairgate.exit_code"]) == 0, stdout + stderr
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["exit_code"] == 0
    assert '"verdict": "pass"' in ledger.read_text(encoding="utf-8")
