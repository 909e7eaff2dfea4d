"""Hostile inputs about the process: how it ends, what it leaves behind, where it writes.

Model code runs in fairgate's process, so whatever it does (``sys.exit(0)``, raising
``KeyboardInterrupt``) must end through the verdict; a signal must too. Evidence is staged
and published last, never into a folder of other files nor through a planted link, and
``fairgate render`` never turns a tampered document into a release. Each case runs fairgate
as a real process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .bad_inputs_support import (
    ROOT,
    assert_exit,
    assert_no_release,
    log_spec,
    run_cli,
    write_yaml,
)

MODELS = """
import os, pathlib, sys, time

def _started():
    marker = os.environ.get("FG_MARKER")
    if marker:
        pathlib.Path(marker).write_text("started")

def fair(frame):
    return (frame["x"] > 0.5).astype(int).to_numpy()

def exits_0(frame):
    sys.exit(0)

def raises_system_exit(frame):
    raise SystemExit("model gave up")

def raises_keyboard_interrupt(frame):
    raise KeyboardInterrupt

def sleeps(frame):
    _started()
    time.sleep(120)
    return fair(frame)

def proba_exits(frame):
    sys.exit(0)

def exits_hard_0(frame):
    os._exit(0)

def exits_hard_1(frame):
    os._exit(1)

def crashes_at_shutdown(frame):
    # a C extension whose finaliser crashes when the interpreter shuts down
    import atexit, ctypes
    atexit.register(lambda: ctypes.string_at(0))
    return fair(frame)

def closes_descriptors(frame):
    os.closerange(3, 256)
    return fair(frame)

def forks_a_helper(frame):
    # a library starting a long-lived helper with a bare fork (no exec)
    if os.fork() == 0:
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)  # a daemon leaves its caller's streams
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            time.sleep(60)
        finally:
            os._exit(0)
    return fair(frame)
"""


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a fair table (two groups, equal rates) and a module of models."""
    folder = tmp_path_factory.mktemp("process")
    rng = np.random.default_rng(0)
    x = rng.random(600)
    pd.DataFrame(
        {
            "group": np.repeat(["a", "b"], 300),
            "x": x,
            "outcome": (x > 0.5).astype(int),
        }
    ).to_csv(folder / "table.csv", index=False)
    (folder / "fg_models.py").write_text(MODELS, encoding="utf-8")
    return folder


def _spec(case: Path, function: str, name: str = "spec.yaml", **model) -> Path:
    spec = log_spec(
        case / "table.csv",
        model={"kind": "python", "uri": f"fg_models:{function}", **model},
    )
    spec["model"].pop("column", None)
    return write_yaml(case / name, spec)


def _env(case: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(case), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **extra}


def _document(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("function", "says"),
    [
        ("exits_0", "SystemExit"),
        ("raises_system_exit", "model gave up"),
        ("raises_keyboard_interrupt", "interrupted"),
    ],
)
def test_model_code_that_exits_ends_with_an_error_verdict_and_evidence(
    case, tmp_path, function, says
):
    out = tmp_path / "out"
    proc = run_cli("run", _spec(case, function), "--out", out, "--no-mlflow", env=_env(case))
    assert_exit(proc, 2, says)
    doc = _document(out)
    assert (doc["verdict"], doc["exit_code"]) == ("error", 2)
    assert doc["errors"][0]["stage"] == "decide"
    assert {"results.json", "junit.xml", "summary.md", "report.html"} <= {
        p.name for p in out.iterdir()
    }
    assert_no_release(out)


def test_model_code_that_exits_in_a_check_fails_that_check_only(case, tmp_path):
    out = tmp_path / "out"
    spec = log_spec(
        case / "table.csv",
        model={"kind": "python", "uri": "fg_models:fair", "proba": "fg_models:proba_exits"},
    )
    spec["model"].pop("column")
    proc = run_cli(
        "run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow", env=_env(case)
    )
    assert_exit(proc, 2)
    assert_no_release(out)


def test_a_fair_model_releases(case, tmp_path):
    """The control case: the same table and module, a model that behaves."""
    out = tmp_path / "out"
    proc = run_cli("run", _spec(case, "fair"), "--out", out, "--no-mlflow", env=_env(case))
    assert_exit(proc, 0, "verdict: pass")
    assert _document(out)["exit_code"] == 0


def _start(
    case: Path, spec: Path, out: Path, marker: Path, *, module: str = "audits.cli", **extra: str
) -> subprocess.Popen[str]:
    """``fairgate run`` started (``module``: ``audits`` is the watched console script)."""
    env = {**os.environ, "CI": "true", **_env(case, FG_MARKER=str(marker), **extra)}
    return subprocess.Popen(
        [sys.executable, "-m", module, "run", str(spec), "--out", str(out), "--no-mlflow"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(marker: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the model never started"
        time.sleep(0.1)


def test_sigterm_ends_the_audit_through_the_verdict_and_supersedes_a_release(case, tmp_path):
    out = tmp_path / "out"
    first = run_cli("run", _spec(case, "fair"), "--out", out, "--no-mlflow", env=_env(case))
    assert_exit(first, 0)
    marker = tmp_path / "started"
    proc = _start(case, _spec(case, "sleeps", "sleeps.yaml"), out, marker)
    _wait_for(marker, proc)
    assert not (out / "results.json").exists(), "the earlier RELEASE is still readable as current"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stdout + stderr
    doc = _document(out)
    assert (doc["verdict"], doc["errors"][0]["type"]) == ("error", "Interrupted")
    assert "SIGTERM" in doc["errors"][0]["message"]
    assert_no_release(out)
    earlier = list(tmp_path.glob("out.superseded-*"))
    assert len(earlier) == 1 and _document(earlier[0])["exit_code"] == 0
    assert not list(tmp_path.glob(".out.staging-*"))


def test_sigkill_leaves_no_release_readable_at_out(case, tmp_path):
    out = tmp_path / "out"
    assert_exit(run_cli("run", _spec(case, "fair"), "--out", out, "--no-mlflow", env=_env(case)), 0)
    marker = tmp_path / "started"
    proc = _start(case, _spec(case, "sleeps", "sleeps.yaml"), out, marker)
    _wait_for(marker, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert not out.exists()
    assert_no_release(*tmp_path.glob(".out.staging-*"))


def test_out_folder_that_is_a_link_is_refused(case, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "out").symlink_to(victim)
    proc = run_cli(
        "run", _spec(case, "fair"), "--out", tmp_path / "out", "--no-mlflow", env=_env(case)
    )
    assert_exit(proc, 4, "symbolic link")
    assert not any(victim.iterdir())


def test_planted_links_in_earlier_evidence_are_never_followed(case, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("summary.md", "results.json", "report.html"):
        (out / name).symlink_to(victim)
    proc = run_cli("run", _spec(case, "fair"), "--out", out, "--no-mlflow", env=_env(case))
    assert_exit(proc, 0)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (out / "summary.md").is_symlink() and _document(out)["exit_code"] == 0


def test_a_folder_of_other_files_is_never_written_into(case, tmp_path):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work", encoding="utf-8")
    proc = run_cli("run", _spec(case, "fair"), "--out", out, "--no-mlflow", env=_env(case))
    assert_exit(proc, 4, "holds other files")
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_failed_logging_leaves_evidence_that_says_error(case, tmp_path):
    out = tmp_path / "out"
    store = f"sqlite:///{tmp_path / 'no-such-folder' / 'deeper' / 'mlflow.db'}"
    (tmp_path / "no-such-folder").write_text("a file where the store's folder should be")
    proc = run_cli(
        "run", _spec(case, "fair"), "--out", out, "--tracking-uri", store, env=_env(case)
    )
    assert_exit(proc, 2, "could not be logged")
    doc = _document(out)
    assert (doc["verdict"], doc["exit_code"], doc["errors"][-1]["stage"]) == ("error", 2, "log")
    assert_no_release(out)


def test_concurrent_audits_get_their_own_ids_and_folders(case, tmp_path):
    spec = _spec(case, "fair")
    with ThreadPoolExecutor(10) as pool:
        procs = list(
            pool.map(
                lambda _: run_cli("run", spec, "--no-mlflow", cwd=tmp_path, env=_env(case)),
                range(10),
            )
        )
    assert [p.returncode for p in procs] == [0] * 10, [p.stderr for p in procs]
    folders = list((tmp_path / "out" / "bad-input-case").iterdir())
    ids = {_document(f)["run"]["audit_id"] for f in folders}
    assert len(folders) == 10 and len(ids) == 10


@pytest.fixture(scope="module")
def past_audit(case, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("past") / "out"
    assert_exit(run_cli("run", _spec(case, "fair"), "--out", out, "--no-mlflow", env=_env(case)), 0)
    return out


def _tampered(doc: dict, kind: str) -> str:
    if kind == "verdict":
        doc["checks"][0]["status"] = "fail"  # the checks say fail, the verdict still pass
    elif kind == "unknown status":
        doc["checks"][0]["status"] = "passed-by-hand"
    elif kind == "no checks":
        doc["checks"] = []
    elif kind == "errors hidden":
        doc["errors"] = [{"stage": "decide", "type": "X", "message": "x"}]
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("verdict", "imply 'fail'"),
        ("unknown status", "passed-by-hand"),
        ("no checks", "imply 'error'"),
        ("errors hidden", "imply 'error'"),
        ("truncated", "results document"),
    ],
)
def test_render_refuses_a_document_whose_verdict_its_checks_do_not_imply(
    past_audit, tmp_path, kind, says
):
    text = (past_audit / "results.json").read_text(encoding="utf-8")
    bad = tmp_path / "results.json"
    bad.write_text(
        text[: len(text) // 2] if kind == "truncated" else _tampered(json.loads(text), kind),
        encoding="utf-8",
    )
    proc = run_cli("render", bad, "--out", tmp_path / "again")
    assert_exit(proc, 4, says)
    assert not (tmp_path / "again").exists()


def test_render_of_a_consistent_document_exits_0_whatever_its_verdict(past_audit, tmp_path):
    doc = json.loads((past_audit / "results.json").read_text(encoding="utf-8"))
    doc["checks"][0]["status"] = "fail"
    doc["verdict"], doc["exit_code"] = "fail", 1
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_cli("render", path, "--out", tmp_path / "again")
    assert_exit(proc, 0, "verdict fail")
    assert "RELEASE" not in (tmp_path / "again" / "summary.md").read_text(encoding="utf-8")


# --- the console script watches its command: no exit code without a decided audit --------


def _fairgate_script(*args, env: dict[str, str], cwd: Path = ROOT):
    """``fairgate ARGS`` as the console script runs it (``python -m audits``)."""
    return subprocess.run(
        [sys.executable, "-m", "audits", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "CI": "true", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _watched_run(
    case: Path, function: str, out: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """``fairgate run`` (watched) of the model ``function`` on the case's table."""
    spec = _spec(case, function, f"{function}.yaml")
    return _fairgate_script("run", spec, "--out", out, "--no-mlflow", env=_env(case, **env))


@pytest.mark.parametrize("function", ["exits_hard_0", "exits_hard_1"])
def test_model_code_calling_os_exit_is_never_a_decision(case, tmp_path, function):
    """``os._exit`` ends the process before any Python runs, so the audit process cannot
    record it; the watching process sees an exit without a reported decision: exit 2 (not
    0, a release, nor 1), and nothing at --out claims a result."""
    out, scratch = tmp_path / "out", tmp_path / "tmp"
    scratch.mkdir()
    proc = _watched_run(case, function, out, TMPDIR=str(scratch))
    assert_exit(proc, 2, "without reporting a decision", "os._exit")
    assert not (out / "results.json").exists()
    assert_no_release(out, *tmp_path.glob(".out.staging-*"))
    # The audit's scratch folder (where a downloaded model would be) went with its watcher.
    assert list(scratch.iterdir()) == []


def test_the_watched_command_releases_a_fair_model(case, tmp_path):
    out = tmp_path / "out"
    proc = _watched_run(case, "fair", out)
    assert_exit(proc, 0, "verdict: pass")
    assert _document(out)["exit_code"] == 0


def test_sigterm_to_the_watcher_reaches_the_audit(case, tmp_path):
    """A signal sent to the console script's process (a CI job cancelled) is passed to the
    audit, which ends through its verdict: exit 2 and evidence saying so."""
    out = tmp_path / "out"
    marker = tmp_path / "started"
    proc = _start(case, _spec(case, "sleeps", "sleeps.yaml"), out, marker, module="audits")
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stdout + stderr
    doc = _document(out)
    assert (doc["verdict"], doc["errors"][0]["type"]) == ("error", "Interrupted")
    assert_no_release(out)


@pytest.mark.parametrize("function", ["crashes_at_shutdown", "closes_descriptors"])
def test_what_model_code_does_after_the_decision_changes_nothing(case, tmp_path, function):
    """The decision is final once written: a crash at interpreter shutdown, or descriptors
    closed by model code, neither turn a release into an error nor the files into a lie."""
    out = tmp_path / "out"
    proc = _watched_run(case, function, out)
    assert_exit(proc, 0, "verdict: pass")
    assert _document(out)["exit_code"] == 0


def test_a_forked_helper_does_not_hold_the_command(case, tmp_path):
    """A helper process forked by model code (sleeping a minute) outlives the audit; the
    command still ends when the audit does."""
    out = tmp_path / "out"
    started = time.monotonic()
    proc = _watched_run(case, "forks_a_helper", out)
    assert_exit(proc, 0, "verdict: pass")
    assert time.monotonic() - started < 45


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_a_killed_watcher_takes_the_audit_with_it(case, tmp_path):
    """SIGKILL to the console script's process (a CI runner's timeout kills the process it
    started): the audit it watched is stopped too, publishes no release, and removes the
    private folder the watcher could not remove (with the audit's temporary files)."""
    out = tmp_path / "out"
    marker = tmp_path / "started"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    spec = _spec(case, "sleeps", "sleeps.yaml")
    proc = _start(case, spec, out, marker, module="audits", TMPDIR=str(temporary))
    _wait_for(marker, proc)
    audit = _children(proc.pid)
    assert audit, "the audit process was not found"
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 120
    while any(Path(f"/proc/{pid}").exists() for pid in audit):
        assert time.monotonic() < deadline, "the audit outlived its watcher"
        time.sleep(0.2)
    if (out / "results.json").exists():
        assert _document(out)["verdict"] == "error"
    assert_no_release(out, *tmp_path.glob(".out.staging-*"))
    assert list(temporary.iterdir()) == []


def test_no_temporary_folder_is_undecided_not_unfair(case, tmp_path):
    """Red team 2: when the watcher can make no temporary folder (a full disk, here no file
    may grow: every candidate folder fails Python's write test), the command ended in a
    traceback with exit 1, which says the audit decided the model unfair. It is exit 2."""
    import resource

    def no_file_may_grow() -> None:  # in the command's process, before it starts Python
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "audits", "run", _spec(case, "fair"), "--out", out, "--no-mlflow"],
        cwd=ROOT,
        env={**os.environ, "CI": "true", **_env(case, TMPDIR=str(tmp_path))},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=no_file_may_grow,
    )
    assert_exit(proc, 2, "could not make its temporary folder")
    assert "Traceback" not in proc.stderr
    assert not out.exists()
