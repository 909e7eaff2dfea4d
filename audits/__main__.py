"""``fairgate`` (the console script) and ``python -m audits``: the command line, watched.

Model code runs inside the audit's process, so it can end that process in ways no Python
code there can catch: ``os._exit(0)`` would end an audit with exit code 0, a release, with
no verdict and no evidence. The command therefore runs in a child process and this one only
watches it (:func:`main`): the child reports the exit code it decided through a pipe just
before it exits (:func:`_run_command`), and the watcher passes an exit code on only when the
child ended with the very code it reported. Any other end (``os._exit``, a crash, a signal
that killed the child) is exit code 2, could not decide. SIGINT, SIGTERM and SIGHUP sent to
the watcher are passed to the child, whose audit ends through its verdict.

The child runs this interpreter with the parent's flags (see :mod:`audits._child`). When the
command is ``run``, the child first starts the validation worker of
:mod:`audits._gx_worker`: importing the command line takes most of a second, and a worker
started before that finishes importing Great Expectations that much sooner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

__all__ = ["main"]

#: The environment variable naming the pipe the child reports its exit code on.
_REPORT_FD = "FAIRGATE_EXIT_FD"
_UNDECIDED = 2  # audits.ExitCode.UNDECIDED, without importing the command line here
_FORWARDED = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def main(argv: list[str] | None = None) -> int:
    """Run the ``fairgate`` command line on ``argv`` (default: the process's arguments) in a
    watched child process; return the exit code it decided, or 2 if it ended otherwise."""
    args = sys.argv[1:] if argv is None else list(argv)
    report = os.environ.pop(_REPORT_FD, None)
    if report is not None:  # the child: run the command, report its code, exit with it
        return _run_command(args, int(report))
    return _watch(args)


def _watch(args: list[str]) -> int:
    from audits._child import python_command

    read_end, write_end = os.pipe()
    env = {**os.environ, _REPORT_FD: str(write_end)}
    try:
        child = subprocess.Popen(
            [*python_command("audits.__main__", "main"), *args], env=env, pass_fds=(write_end,)
        )
    except OSError as err:
        os.close(read_end)
        os.close(write_end)
        print(f"error: fairgate could not start its audit process: {err}", file=sys.stderr)
        return _UNDECIDED
    os.close(write_end)

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):  # it has just ended
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in _FORWARDED}
    try:
        code = child.wait()
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read(64).decode("ascii", "replace").strip()
    if reported == str(code):
        return code
    how = f"was ended by signal {-code}" if code < 0 else f"ended with exit code {code}"
    print(
        f"error: the fairgate process {how} without reporting a decision (model code may have "
        "called os._exit, or the process crashed or was killed); nothing it left is a "
        "decided audit. Exit code 2.",
        file=sys.stderr,
    )
    return _UNDECIDED


def _run_command(args: list[str], report_fd: int) -> int:
    """The command itself (in the child), its exit code written to ``report_fd`` last."""
    os.set_inheritable(report_fd, False)  # not for the model's own child processes
    worker = None
    if args[:1] == ["run"] and "--help" not in args and "-h" not in args:
        from audits._gx_worker import GXWorker

        try:
            worker = GXWorker.start()
        except OSError:  # no interpreter to start: validation runs in this process
            worker = None
    try:
        from audits.cli import main as cli_main

        code = cli_main(None, gx_worker=worker)
    finally:
        if worker is not None:
            worker.close()
    with os.fdopen(report_fd, "wb") as pipe:
        pipe.write(str(code).encode("ascii"))
    return code


if __name__ == "__main__":
    sys.exit(main())
