"""Great Expectations in its own process, started when the command starts.

Importing Great Expectations costs seconds of CPU (see :mod:`audits._gx_import`). In a thread
that import competes for the interpreter lock with everything the audit does meanwhile
(reading, counting, MLflow's own import), so it delays them as much as it overlaps them. The
command line therefore starts a validation worker, a child Python process, as soon as it
knows the audit runs on the local engine (:meth:`GXWorker.start`): the child imports Great
Expectations on the machine's other core while the audit reads its data, then validates the
one frame it is sent with :func:`~audits._gx_suite.run_suite`, the function an audit without a
worker calls in its own process, and exits.

Parent and child talk over pipes, a pickled request and a pickled reply; both ends are this
module (nothing from outside is unpickled). The child's standard
output is the reply channel only (anything Great Expectations prints goes to its standard
error, kept in a temporary file for the error message). A child that dies, is killed or
cannot import Great Expectations gives :class:`ValidationWorkerError` (the audit then stops
at its validate stage, exit code 2), never a pass. A parent that dies leaves the child
reading an empty pipe: it exits.

The child runs ``python -P -m audits._gx_worker`` (``-P``: the working directory, which may be
the audited party's, is not put on the module path) with this package's folder first on
``PYTHONPATH``, so it runs the same code as its parent.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["GXWorker", "ValidationWorkerError"]


class ValidationWorkerError(RuntimeError):
    """The validation worker gave no result."""


def _send(stream: BinaryIO, obj: Any) -> None:
    # Written straight into the pipe (a pickle ends itself): a large frame's arrays are not
    # copied into one bytes object first.
    pickle.dump(obj, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    return pickle.load(stream)  # EOFError when the other end closed without writing


class GXWorker:
    """A child process importing Great Expectations, then validating one frame.

    Use :meth:`start`, then :meth:`run_suite` once; :meth:`close` (or ``with``) ends it
    whatever happened.
    """

    def __init__(self, process: subprocess.Popen, stderr: BinaryIO) -> None:
        self._process = process
        self._stderr = stderr
        self._used = False

    @classmethod
    def start(cls, *, without_spark: bool = True) -> GXWorker:
        """Start the child; it imports Great Expectations at once (PySpark hidden unless
        ``without_spark`` is false)."""
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        env["FAIRGATE_GX_WORKER_HIDE"] = "pyspark" if without_spark else ""
        stderr = tempfile.TemporaryFile()  # noqa: SIM115  # the worker's, closed by close()
        try:
            process = subprocess.Popen(
                [sys.executable, "-P", "-m", "audits._gx_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                close_fds=True,
            )
        except BaseException:
            stderr.close()
            raise
        return cls(process, stderr)

    def run_suite(self, frame: Any, items: list[Any], *, name: str) -> list[dict[str, Any]]:
        """:func:`~audits._gx_suite.run_suite` of ``frame`` in the child (a pandas frame;
        progress bars never show)."""
        if self._used:
            raise ValidationWorkerError("The validation worker validates one frame only.")
        self._used = True
        process = self._process
        try:
            _send(process.stdin, (frame, items, name))
            process.stdin.close()
            reply = _receive(process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as err:
            raise ValidationWorkerError(self._ended_text()) from err
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        raise _error(kind, message)

    def _ended_text(self) -> str:
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._stderr.seek(0)
        lines = [ln for ln in self._stderr.read().decode("utf-8", "replace").splitlines() if ln]
        last = lines[-1][:300] if lines else "nothing on its standard error"
        how = "did not end" if code is None else f"ended with exit code {code}"
        return (
            f"The Great Expectations validation process {how} without a result "
            f"(its last words: {last})."
        )

    def close(self) -> None:
        """End the child (killed if still running) and drop its files."""
        process = self._process
        if process.poll() is None:
            process.kill()
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        self._stderr.close()

    def __enter__(self) -> GXWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error(kind: str, message: str) -> Exception:
    """The child's exception as the parent raises it (its own type when it is a built-in or
    an unknown expectation, as the in-process validation would have raised)."""
    from ._gx_suite import UnknownExpectationError

    if kind == "UnknownExpectationError":
        return UnknownExpectationError(message)
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not BaseException:
        try:
            return cls(message)
        except Exception:  # a built-in whose constructor wants more
            pass
    return ValidationWorkerError(f"Great Expectations failed: {kind}: {message}")


def _main() -> int:
    """The child: import GE, read one request, reply, exit."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to standard error, not into the reply channel
    replies = os.fdopen(reply_fd, "wb")
    requests = sys.stdin.buffer
    from audits._gx_import import great_expectations, start_import

    # A worker validates pandas frames only: GE's SQL (and, for a local audit, Spark) data
    # sources are never used here, so their libraries are hidden from its import.
    hide = os.environ.get("FAIRGATE_GX_WORKER_HIDE") == "pyspark"
    start_import(without_spark=hide, without=("sqlalchemy",))
    # The import itself, before the request arrives; a failure is reported when the request
    # comes (run_suite raises it again).
    with contextlib.suppress(BaseException):
        great_expectations()
    try:
        frame, items, name = _receive(requests)
    except EOFError:  # the parent went away (or needed no validation)
        return 0
    from audits._gx_suite import run_suite

    try:
        reply: tuple[Any, ...] = ("ok", run_suite(frame, items, name=name, show=False))
    except Exception as err:
        reply = ("error", type(err).__name__, str(err) or type(err).__name__)
    _send(replies, reply)
    replies.close()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
