"""Logging an audit to MLflow: the verdict is tagged last, and a failure or an interrupt while
logging never leaves a run claiming a verdict. Against real sqlite tracking stores."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .bad_inputs_support import ROOT, decision_log, log_spec, write_yaml


class Interrupted(KeyboardInterrupt):
    """What the CLI's SIGTERM handler raises in the main thread."""


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A passing audit of a decision log: its results document and its rendered files."""
    from audits import run_audit
    from reports import write_all

    folder = tmp_path_factory.mktemp("audit")
    spec = write_yaml(folder / "spec.yaml", log_spec(decision_log(folder)))
    document = run_audit(spec).document
    assert document["verdict"] == "pass"
    return document, write_all(document, folder / "out")


@pytest.fixture
def store(tmp_path):
    """A sqlite tracking URI in a new folder, and a client on it."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    return uri, lambda: MlflowClient(tracking_uri=uri)


def _only_run(client, document):
    exp = client.get_experiment_by_name(f"fairgate/{document['spec']['name']}")
    (run,) = client.search_runs(
        [exp.experiment_id], f"tags.`fairgate.audit_id` = '{document['run']['audit_id']}'"
    )
    return run


def test_the_verdict_is_tagged_after_every_artifact_and_last(audited, store):
    from reports import ARTIFACTS, audit_run

    document, files = audited
    uri, client = store
    with audit_run(document, files, tracking_uri=uri) as run:
        before = client().get_run(run.run_id)
        logged = {a.path for a in client().list_artifacts(run.run_id)}
        run.finish(exit_code=document["exit_code"])
    assert set(ARTIFACTS) <= logged  # every artifact is there ...
    assert "fairgate.verdict" not in before.data.tags  # ... before any verdict
    assert "fairgate.exit_code" not in before.data.tags
    assert "pass" not in before.info.run_name and before.info.status == "RUNNING"
    after = client().get_run(run.run_id)
    assert after.info.status == "FINISHED"
    assert after.data.tags["fairgate.verdict"] == "pass"
    assert after.data.tags["fairgate.exit_code"] == "0"
    assert " · pass · " in after.info.run_name


def test_an_exit_code_other_than_the_documents_is_tagged_as_an_error(audited, store):
    from reports import audit_run

    document, files = audited
    uri, client = store
    with audit_run(document, files, tracking_uri=uri) as run:
        run.finish(exit_code=2, note="not promoted: the files changed")
    tags = client().get_run(run.run_id).data.tags
    assert tags["fairgate.verdict"] == "error" and tags["fairgate.exit_code"] == "2"
    assert tags["fairgate.note"] == "not promoted: the files changed"


class _FailingFiles(dict):
    """Rendered files whose second one cannot be read: raises ``error`` midway."""

    def __init__(self, files, error):
        super().__init__(files)
        self.error = error

    def values(self):
        for i, value in enumerate(super().values()):
            if i == 1:
                raise self.error
            yield value


@pytest.mark.parametrize(
    ("error", "status"),
    [(OSError("disk full"), "FAILED"), (Interrupted(), "KILLED"), (SystemExit(0), "KILLED")],
    ids=["exception", "interrupt", "sys.exit(0)"],
)
def test_a_failure_while_logging_artifacts_ends_the_run_without_a_pass(
    audited, store, error, status
):
    from reports import log_audit

    document, files = audited
    uri, client = store
    with pytest.raises(type(error)):
        log_audit(document, _FailingFiles(files, error), tracking_uri=uri)
    run = _only_run(client(), document)
    assert run.info.status == status
    assert run.data.tags["fairgate.verdict"] == "error"
    assert "fairgate.exit_code" not in run.data.tags
    assert type(error).__name__ in run.data.tags["fairgate.note"]
    assert len(client().list_artifacts(run.info.run_id)) == 1  # it stopped midway


def test_an_interrupt_after_the_verdict_withdraws_it(audited, store):
    """E.g. SIGTERM while the registry is updated, after the run was finished."""
    from reports import audit_run

    document, files = audited
    uri, client = store
    with pytest.raises(Interrupted), audit_run(document, files, tracking_uri=uri) as run:
        run.finish(exit_code=0)
        raise Interrupted
    got = client().get_run(run.run_id)
    assert got.info.status == "KILLED" and got.data.tags["fairgate.verdict"] == "error"
    assert "fairgate.exit_code" not in got.data.tags


def test_a_body_that_never_finishes_the_run_fails_it(audited, store):
    from reports import audit_run

    document, files = audited
    uri, client = store
    with pytest.raises(RuntimeError, match="without a verdict"):  # noqa: SIM117
        with audit_run(document, files, tracking_uri=uri) as run:
            pass
    got = client().get_run(run.run_id)
    assert got.info.status == "FAILED" and got.data.tags["fairgate.verdict"] == "error"


_SCRIPT = """
import json, signal, sys, time
from pathlib import Path
from reports import audit_run

class Interrupted(KeyboardInterrupt):
    pass

def on_term(signum, frame):
    raise Interrupted()

signal.signal(signal.SIGTERM, on_term)
document = json.loads(Path(sys.argv[1]).read_text())
files = {p.name: p for p in Path(sys.argv[1]).parent.iterdir()}
with audit_run(document, files, tracking_uri=sys.argv[2]) as run:
    print(run.run_id, flush=True)
    time.sleep(120)
    run.finish(exit_code=0)
"""


def test_sigterm_during_an_audit_run_ends_it_killed(audited, store, tmp_path):
    """A real process, a real SIGTERM: the handler's exception ends the run KILLED."""
    _, files = audited
    uri, client = store
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(files["results.json"]), uri],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        run_id = proc.stdout.readline().strip()  # the artifacts are logged
        assert run_id, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    run = client().get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["fairgate.verdict"] == "error"
    assert "Interrupted" in run.data.tags["fairgate.note"]


def test_one_dataset_logged_by_two_audits_is_registered_once(audited, store):
    from reports import log_audit

    document, files = audited
    uri, client = store
    runs = [log_audit(document, files, tracking_uri=uri)["run_id"] for _ in range(2)]
    inputs = [client().get_run(r).inputs.dataset_inputs for r in runs]
    assert [len(i) for i in inputs] == [1, 1]
    assert inputs[0][0].dataset.digest == inputs[1][0].dataset.digest


def test_no_store_folder_is_made_until_something_is_logged(tmp_path):
    from reports import default_tracking_uri

    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve() / '.fairgate' / 'mlflow.db'}"
    assert not (tmp_path / ".fairgate").exists()


# --- retries -----------------------------------------------------------------------------


@pytest.fixture
def locked_db(tmp_path):
    """A sqlite database held under an exclusive lock by another connection."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    yield path, holder
    holder.close()


def _insert(path: Path, calls: list[float]):
    def call():
        calls.append(time.monotonic())
        with sqlite3.connect(path, timeout=0) as conn:  # no busy wait: fails at once
            conn.execute("INSERT INTO t VALUES (1)")
        return "inserted"

    return call


def test_a_locked_database_is_retried_until_it_is_free(locked_db):
    from reports import RetryPolicy
    from reports._mlflow_store import retrying

    path, holder = locked_db
    threading.Timer(0.4, holder.execute, args=("COMMIT",)).start()
    calls: list[float] = []
    policy = RetryPolicy(attempts=30, base_s=0.02, cap_s=0.1)
    assert retrying(_insert(path, calls), rng=random.Random(0), policy=policy) == "inserted"
    assert len(calls) > 1 and calls[-1] - calls[0] >= 0.3


def test_retries_are_bounded(locked_db):
    from reports import RetryPolicy
    from reports._mlflow_store import retrying

    path, _ = locked_db
    calls: list[float] = []
    policy = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.02)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        retrying(_insert(path, calls), rng=random.Random(0), policy=policy)
    assert len(calls) == 4


def test_a_lasting_failure_is_not_retried(tmp_path):
    from reports._mlflow_store import retrying

    calls: list[float] = []
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retrying(_insert(tmp_path / "empty.db", calls), rng=random.Random(0))
    assert len(calls) == 1


def test_the_backoff_grows_is_capped_and_its_jitter_is_seeded():
    from reports import RetryPolicy

    policy = RetryPolicy(attempts=8, base_s=0.1, cap_s=0.8)
    waits = [policy.wait(k, random.Random(7)) for k in range(1, 8)]
    assert waits == [policy.wait(k, random.Random(7)) for k in range(1, 8)]
    for k, wait in enumerate(waits, start=1):
        assert 0.5 * min(0.8, 0.1 * 2 ** (k - 1)) <= wait < 1.5 * min(0.8, 0.1 * 2 ** (k - 1))
    assert random.Random(7).random() != random.Random(8).random()
    with pytest.raises(ValueError, match="'attempts'"):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            "https://alice:pa55word@mlflow.example.org/x?token=t0k3n",
            "https://***@mlflow.example.org/x?token=***",
        ),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////tmp/s/mlflow.db", "sqlite:////tmp/s/mlflow.db"),
        ("databricks://profile", "databricks://profile"),
    ],
)
def test_a_store_is_named_without_its_credentials(uri, shown):
    from reports import describe_store, scrub

    assert describe_store(uri) == shown
    said = scrub(f"failed at {uri}: 401 with pa55word and t0k3n", uri)
    secrets = ("pa55word", "t0k3n", "alice:")
    assert not [s for s in secrets if s in said and s in uri]
    assert said.startswith("failed at ") and said.endswith(" 401 with *** and ***") == ("@" in uri)
