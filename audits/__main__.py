"""``fairgate`` (the console script) and ``python -m audits``: the command line, watched.

Model code runs inside the audit's process, so it can end that process in ways no Python
code there can catch: ``os._exit(0)`` would end an audit with exit code 0, a release, with
no verdict and no evidence. The command therefore runs in a child process and this one only
watches it (:func:`main`). The child writes the exit code it decided into a file of a private
folder the watcher made (a path, not an inherited pipe: model code that closes file
descriptors or forks can neither lose nor hold it), then ends at once with that code
(:func:`_run_command`: nothing after the decision, such as a library crashing at interpreter
shutdown, can change it). The watcher passes an exit code on only when the child ended with
the very code it wrote. Any other end (``os._exit``, a crash, a signal that killed the
child) is exit code 2, could not decide.

The child's temporary files (a downloaded model, its validation worker's) go to a folder
inside the watcher's (``TMPDIR``), which the watcher removes whichever way the child ended:
an audit ended by ``os._exit`` or SIGKILL leaves no model copy behind. A watcher killed
itself (SIGKILL) cannot remove it: its child, stopped by the kernel's signal, removes it as
it ends.

SIGINT, SIGTERM and SIGHUP sent to the watcher are passed to the child, whose audit ends
through its verdict; if the watcher itself dies (SIGKILL, out of memory), the kernel sends the
child SIGTERM (Linux ``PR_SET_PDEATHSIG``), so no audit outlives the process its caller
waits for. The child runs this interpreter with the parent's flags (see :mod:`audits._child`).
When the command is ``run``, the child first starts the validation worker of
:mod:`audits._gx_worker`: importing the command line takes most of a second, and a worker
started before that finishes importing Great Expectations that much sooner.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]

#: The environment variable naming the watcher and the report file (``<pid>:<path>``).
_REPORT = "FAIRGATE_REPORT"
_UNDECIDED = 2  # audits.ExitCode.UNDECIDED, without importing the command line here
_FORWARDED = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def main(argv: list[str] | None = None) -> int:
    """Run the ``fairgate`` command line on ``argv`` (default: the process's arguments) in a
    watched child process; return the exit code it decided, or 2 if it ended otherwise."""
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        report = _report_file(os.environ.pop(_REPORT, None))
        if report is not None:  # the child: run the command, report its code, end with it
            return _run_command(args, report)
        return _watch(args)
    except KeyboardInterrupt:  # before the command could handle it: never 0 or 1
        print("error: fairgate was interrupted; nothing was decided", file=sys.stderr)
        return _UNDECIDED


def _report_file(value: str | None) -> Path | None:
    """The report file of a child started by :func:`_watch` (``<watcher pid>:<path>``): only
    in a process whose parent is that watcher, in a folder of this user's that no one else
    may enter. Anything else is ignored (the process then watches its own command)."""
    pid, _, path = (value or "").partition(":")
    if not (pid.isdigit() and int(pid) == os.getppid() and path):
        return None
    try:
        folder = os.stat(Path(path).parent)
    except OSError:
        return None
    private = stat.S_ISDIR(folder.st_mode) and stat.S_IMODE(folder.st_mode) == 0o700
    return Path(path) if private and folder.st_uid == os.getuid() else None


def _prctl() -> object | None:
    """libc's ``prctl`` (Linux), loaded in the watcher before it forks, or ``None``."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


def _die_with_parent(prctl: object | None, watcher: int) -> None:
    """In the child, before it runs anything: SIGTERM when the watcher dies."""
    if prctl is not None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() != watcher:  # it died before the request took hold
        os._exit(_UNDECIDED)


def _watch(args: list[str]) -> int:
    from audits._child import python_command

    child: subprocess.Popen | None = None
    pending: list[int] = []

    def forward(signum: int, frame: object) -> None:
        if child is None:
            pending.append(signum)
            return
        with contextlib.suppress(OSError):  # it has just ended
            child.send_signal(signum)

    try:
        folder = Path(tempfile.mkdtemp(prefix="fairgate-watch-"))  # mode 0700
    except OSError as err:  # a full disk, no writable temporary folder: nothing decided
        print(f"error: fairgate could not make its temporary folder: {err}", file=sys.stderr)
        return _UNDECIDED
    report = folder / "exit-code"
    scratch = folder / "tmp"  # the audit's temporary files: removed with the folder
    previous = {s: signal.signal(s, forward) for s in _FORWARDED}
    prctl = _prctl()
    try:
        watcher = os.getpid()
        try:
            scratch.mkdir(mode=0o700)
            child = subprocess.Popen(
                [*python_command("audits.__main__", "main"), *args],
                env={**os.environ, _REPORT: f"{watcher}:{report}", "TMPDIR": str(scratch)},
                preexec_fn=lambda: _die_with_parent(prctl, watcher),  # the watcher has no threads
            )
        except OSError as err:
            print(f"error: fairgate could not start its audit process: {err}", file=sys.stderr)
            return _UNDECIDED
        for signum in pending:
            forward(signum, None)
        code = child.wait()
        try:
            reported = report.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            reported = ""
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        shutil.rmtree(folder, ignore_errors=True)
    if reported == str(code):
        return code
    how = f"was ended by signal {-code}" if code < 0 else f"ended with exit code {code}"
    said = f" after reporting {reported}" if reported else " without reporting a decision"
    print(
        f"error: the fairgate process {how}{said} (model code may have called os._exit, or "
        "the process crashed or was killed); nothing it left is a decided audit. Exit code 2.",
        file=sys.stderr,
    )
    return _UNDECIDED


def _run_command(args: list[str], report: Path) -> int:
    """The command itself (in the child): its exit code written to ``report``, then the
    process ends with that code at once (no interpreter shutdown after the decision)."""
    watcher = os.getppid()
    worker = None
    if args[:1] == ["run"] and "--help" not in args and "-h" not in args:
        from audits._gx_worker import start_worker

        worker = start_worker()
    try:
        from audits._child import collection_paused

        with collection_paused():
            from audits.cli import main as cli_main
        code = cli_main(None, gx_worker=worker)
    finally:
        if worker is not None:
            with contextlib.suppress(Exception):  # e.g. model code closed its pipes
                worker.close()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if os.getppid() == watcher:
        fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, str(code).encode("ascii"))
        os.close(fd)
    else:  # the watcher was killed (SIGKILL) before it could remove its private folder
        shutil.rmtree(report.parent, ignore_errors=True)
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
