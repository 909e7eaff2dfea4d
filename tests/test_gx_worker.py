"""The validation worker: Great Expectations in a child process gives the results it gives in
the audit's own process, and a worker that fails never lets an audit pass."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from audits import parse_spec, run_audit
from audits._gx_suite import UnknownExpectationError
from audits._gx_worker import GXWorker, ValidationWorkerError, start_worker
from audits._validation import validate_data

from .conftest import CREDIT, ROOT, credit_validation_spec

SPEC = ROOT / "audits" / "specs" / "credit_scoring_v1.yaml"


def _spec(path: Path, **data) -> dict:
    path.write_bytes((CREDIT / "data" / "audit.csv").read_bytes())
    return credit_validation_spec(path, **data)


@pytest.fixture
def worker():
    started = GXWorker.start()
    yield started
    started.close()


def test_worker_gives_the_in_process_results(tmp_path, worker):
    """Passing, failing, warning and named expectations: the same record either way."""
    frame = pd.read_csv(CREDIT / "data" / "audit.csv")
    frame.loc[:6, "age"] = 150  # seven rows outside the declared range
    frame.loc[:2, "sex"] = None  # three missing sensitive values
    frame["row_id"] = range(len(frame))
    frame.loc[5, "row_id"] = 0  # one repeated id
    spec = parse_spec(
        _spec(
            tmp_path / "d.csv",
            ranges={"age": [18, 100], "credit_amount": [0, None]},
            id_column="row_id",
            min_group_share=0.02,
            warn_only=["ranges"],
            expectations=[
                {
                    "expectation": "expect_column_mean_to_be_between",
                    "kwargs": {"column": "duration_months", "min_value": 1, "max_value": 12},
                    "severity": "warning",
                },
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "kwargs": {"column": "age_band", "regex": "^[0-9<+-]+$"},
                },
            ],
        )
    )
    here = validate_data(spec, frame)
    there = validate_data(spec, frame, worker=worker)
    assert there == here
    by = {(r["kind"], r.get("column")): r for r in here["results"]}
    age = by["ranges", "age"]
    assert age["unexpected_count"] == 7 and not age["success"] and age["severity"] == "warning"
    assert by["sensitive_missing", "sex"]["unexpected_count"] == 3
    assert by["unique_id", "row_id"]["success"] is False
    named = {r["expectation"]: r for r in here["results"] if r["kind"] == "named"}
    assert set(named) == {"expect_column_mean_to_be_between", "expect_column_values_to_match_regex"}
    mean = named["expect_column_mean_to_be_between"]
    assert not mean["success"] and mean["observed_value"] > 12 and mean["severity"] == "warning"
    assert not here["success"]


def test_distribution_expectations_load_what_the_worker_deferred(tmp_path, worker):
    """The worker imports GE with scipy.stats and altair deferred (about 1 s of its import);
    an expectation that computes with them (KL divergence: ``scipy.stats.entropy``) still
    gives the in-process record, observed value included."""
    frame = pd.read_csv(CREDIT / "data" / "audit.csv")
    shares = frame["sex"].value_counts(normalize=True)
    spec = parse_spec(
        _spec(
            tmp_path / "d.csv",
            expectations=[
                {
                    "expectation": "expect_column_kl_divergence_to_be_less_than",
                    "kwargs": {
                        "column": "sex",
                        "partition_object": {
                            "values": list(shares.index),
                            "weights": [0.9, 0.1],  # far from the data: the check fails
                        },
                        "threshold": 0.05,
                    },
                }
            ],
        )
    )
    here = validate_data(spec, frame)
    there = validate_data(spec, frame, worker=worker)
    assert there == here
    (kl,) = [r for r in there["results"] if r["kind"] == "named"]
    assert kl["success"] is False and "exception" not in kl
    p, q = shares.to_numpy(), [0.9, 0.1]
    expected = float(sum(a * math.log(a / b) for a, b in zip(p, q, strict=True)))
    assert kl["observed_value"] == pytest.approx(expected, rel=1e-9)


def test_unknown_expectation_is_refused_alike(tmp_path, worker):
    frame = pd.read_csv(CREDIT / "data" / "audit.csv")
    spec = parse_spec(
        _spec(
            tmp_path / "d.csv",
            expectations=[{"expectation": "expect_column_to_be_lovely", "kwargs": {}}],
        )
    )
    with pytest.raises(UnknownExpectationError) as here:
        validate_data(spec, frame)
    with pytest.raises(UnknownExpectationError) as there:
        validate_data(spec, frame, worker=worker)
    assert str(there.value) == str(here.value)
    assert "expect_column_to_be_lovely" in str(here.value)


def test_a_killed_worker_stops_the_audit_at_validation(in_repo):
    worker = GXWorker.start()
    try:
        worker._process.kill()
        worker._process.wait(timeout=30)
        result = run_audit(SPEC, gx_worker=worker)
    finally:
        worker.close()
    doc = result.document
    assert doc["verdict"] == "error" and doc["exit_code"] == 2
    (error,) = doc["errors"]
    assert error["stage"] == "validate" and error["type"] == "ValidationWorkerError"
    assert "validation process ended with exit code -9 without a result" in error["message"]
    measured = [c for c in doc["checks"] if c["type"] not in ("prohibited_use", "requirement")]
    assert measured and all(c["status"] == "error" for c in measured)


def test_a_stopped_worker_is_given_up_at_its_deadline(tmp_path):
    """A worker that never answers (here stopped with SIGSTOP) does not hang the audit."""
    frame = pd.read_csv(CREDIT / "data" / "audit.csv")
    spec = parse_spec(_spec(tmp_path / "d.csv"))
    worker = GXWorker.start(deadline=5)
    try:
        worker._process.send_signal(signal.SIGSTOP)
        with pytest.raises(ValidationWorkerError, match="did not answer within 5 s"):
            validate_data(spec, frame, worker=worker)
    finally:
        worker.close()
    assert worker._process.returncode == -signal.SIGKILL


def test_a_worker_validates_once(tmp_path, worker):
    frame = pd.read_csv(CREDIT / "data" / "audit.csv")
    spec = parse_spec(_spec(tmp_path / "d.csv"))
    validate_data(spec, frame, worker=worker)
    with pytest.raises(ValidationWorkerError, match="one frame only"):
        validate_data(spec, frame, worker=worker)


def test_a_worker_whose_parent_leaves_exits():
    """The parent went away without a request (its end of the pipe closed): the child ends
    on its own instead of waiting for ever."""
    worker = GXWorker.start()
    try:
        worker._requests.close()
        assert worker._process.wait(timeout=120) == 0
    finally:
        worker.close()


def test_the_command_line_s_worker_start_falls_back_to_validating_in_process(tmp_path, monkeypatch):
    """The one start of the command line (watched child and ``run``): a running worker,
    or ``None`` (validation in this process) when no interpreter can be started."""
    started = start_worker()
    assert isinstance(started, GXWorker)
    try:
        assert started._process.poll() is None
    finally:
        started.close()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    assert start_worker() is None
    frame = pd.read_csv(CREDIT / "data" / "audit.csv")
    spec = parse_spec(_spec(tmp_path / "d.csv"))
    assert validate_data(spec, frame, worker=None)["success"]


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT):
    return subprocess.run(
        [sys.executable, "-m", "audits", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_the_command_line_validates_in_a_worker_with_the_same_results(tmp_path, in_repo):
    """``python -m audits run`` (what the ``fairgate`` script runs) validates in a worker:
    the evidence says what an audit validated in its own process says."""
    out = tmp_path / "out"
    proc = _cli("run", str(SPEC), "--out", str(out), "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    here = run_audit(SPEC).document
    assert proc.returncode == here["exit_code"] == 1, proc.stderr[-2000:]
    assert doc["data_validation"] == here["data_validation"]
    assert [c["status"] for c in doc["checks"]] == [c["status"] for c in here["checks"]]


def test_great_expectations_that_cannot_load_fails_closed(tmp_path):
    """A Great Expectations that cannot be imported in the worker (here shadowed by a broken
    package first on the path): exit 2, the validate stage's error, no pass."""
    broken = tmp_path / "shadow" / "great_expectations"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("great_expectations is broken")\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(broken.parent), str(ROOT)]))
    out = tmp_path / "out"
    proc = _cli("run", str(SPEC), "--out", str(out), "--no-mlflow", "-q", env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["verdict"] == "error"
    (error,) = doc["errors"]
    assert error["stage"] == "validate" and "great_expectations is broken" in error["message"]
    assert "verdict: error (exit 2)" in proc.stdout


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "audits" / "specs").glob("*.yaml")))
def test_every_reference_spec_validates_alike(name, in_repo, worker):
    """Each reference audit's data: the worker's record equals the in-process one."""
    from audits import load_spec
    from audits._runner import _read

    spec = load_spec(ROOT / "audits" / "specs" / f"{name}.yaml")
    frame = _read(spec)
    here = validate_data(spec, frame)
    assert validate_data(spec, frame, worker=worker) == here
    assert here["results"] and here["success"]


def test_collection_is_paused_only_while_a_child_imports():
    """Garbage collection is off inside (an import's passes are wasted), back on after, even
    when the import fails; a process that had it off keeps it off."""
    import gc

    from audits._child import collection_paused

    assert gc.isenabled()
    with pytest.raises(ImportError), collection_paused():
        assert not gc.isenabled()
        import fairgate_no_such_module  # noqa: F401
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
