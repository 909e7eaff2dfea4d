"""Great Expectations in its own process, started when the command starts.

Importing Great Expectations costs seconds of CPU (see :mod:`audits._gx_import`). In a thread
that import competes for the interpreter lock with everything the audit does meanwhile
(reading, counting, MLflow's own import), so it delays them as much as it overlaps them. The
command line therefore starts a validation worker, a child Python process, as soon as it
knows the audit runs on the local engine (:meth:`GXWorker.start`): the child imports Great
Expectations on the machine's other core while the audit reads its data, then validates the
one frame it is sent with :func:`~audits._gx_suite.run_suite`, the function an audit without a
worker calls in its own process, and exits.

Parent and child talk over two pipes of their own (not the child's standard streams, where
anything printed at start-up would land): a pickled request (the frame, only the columns the
suite reads when every expectation is a column expectation) and a pickled reply; both ends are
this module, nothing from outside is unpickled. The reply must hold one result per
expectation of the suite, each for the expectation and column asked. A child that dies, is
killed, answers nothing within :data:`DEADLINE_SECONDS`, answers something else or cannot
import Great Expectations gives an error (the audit then stops at its validate stage, exit
code 2), never a pass. A parent that dies leaves the child reading a closed pipe: it exits.
The child's standard output and error go to a temporary file, whose last line the error
message quotes. The command is :func:`audits._child.python_command`'s.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import pickle
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, BinaryIO

from ._child import collection_paused, python_command

__all__ = ["DEADLINE_SECONDS", "GXWorker", "ValidationWorkerError", "start_worker"]

#: How long the worker may take to import Great Expectations and validate one frame.
DEADLINE_SECONDS = 1800
_FDS = "FAIRGATE_GX_WORKER_FDS"
_HIDE = "FAIRGATE_GX_WORKER_HIDE"
#: GE's optional dependencies for data sources a worker never uses (it gets a pandas frame).
_HIDDEN = ("sqlalchemy", "google.api_core", "google.auth", "google.cloud", "google.oauth2")
#: What GE imports at its own import for its distribution expectations only (KL divergence,
#: Kolmogorov-Smirnov: ``scipy.stats``; their charts: ``altair``), about 1 s of the worker's
#: 2.7 s import, measured; they load when a spec names such an expectation.
_DEFERRED = ("scipy.stats", "altair")
_COLUMN_KEYS = ("column", "column_A", "column_B", "column_list")


class ValidationWorkerError(RuntimeError):
    """The validation worker gave no usable result."""


def _send(stream: BinaryIO, obj: Any) -> None:
    # Written straight into the pipe (a pickle ends itself): a large frame's arrays are not
    # copied into one bytes object first.
    pickle.dump(obj, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    return pickle.load(stream)  # EOFError when the other end closed without writing


def _columns(items: list[Any], columns: list[Any]) -> list[Any] | None:
    """The frame's columns the suite reads, or ``None`` (all of them) when an expectation
    may read others (a table, multi-column or conditional expectation)."""
    wanted: set[Any] = set()
    for item in items:
        if not item.expectation.startswith("expect_column_") or "row_condition" in item.kwargs:
            return None
        for key in _COLUMN_KEYS:
            value = item.kwargs.get(key)
            wanted.update(value if isinstance(value, list) else [value])
    return [c for c in columns if c in wanted]


class GXWorker:
    """A child process importing Great Expectations, then validating one frame.

    Use :meth:`start`, then :meth:`run_suite` once (after :meth:`submit` of the same frame, to
    have it validated while the audit reads on); :meth:`close` (or ``with``) ends it whatever
    happened.
    """

    def __init__(
        self,
        process: subprocess.Popen,
        requests: BinaryIO,
        replies: BinaryIO,
        output: BinaryIO,
        deadline: float,
    ) -> None:
        self._deadline = deadline
        self._process = process
        self._requests = requests
        self._replies = replies
        self._output = output
        self._used = False
        self._late = False
        #: What :meth:`submit` sent (frame, items, name), and its exchange with the child.
        self._sent: tuple[Any, list[Any], str] | None = None
        self._exchange: threading.Thread | None = None
        self._reply: list[Any] = []  # the reply, or the error that ended the exchange

    @classmethod
    def start(cls, *, without_spark: bool = True, deadline: float = DEADLINE_SECONDS) -> GXWorker:
        """Start the child; it imports Great Expectations at once (PySpark hidden unless
        ``without_spark`` is false). ``deadline``: seconds :meth:`run_suite` waits for the
        answer before it stops the child."""
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        env = dict(os.environ)
        env[_FDS] = f"{request_r},{reply_w}"
        env[_HIDE] = "pyspark" if without_spark else ""
        output = tempfile.TemporaryFile()  # noqa: SIM115  # the worker's, closed by close()
        try:
            process = subprocess.Popen(
                python_command("audits._gx_worker", "_main"),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=env,
                pass_fds=(request_r, reply_w),
            )
        except BaseException:
            for fd in (request_r, request_w, reply_r, reply_w):
                os.close(fd)
            output.close()
            raise
        os.close(request_r)
        os.close(reply_w)
        requests, replies = os.fdopen(request_w, "wb"), os.fdopen(reply_r, "rb")
        return cls(process, requests, replies, output, deadline)

    @property
    def used(self) -> bool:
        """Whether a frame was sent (the worker validates one frame only)."""
        return self._used

    def submit(self, frame: Any, items: list[Any], *, name: str) -> None:
        """Send ``frame`` now, to be validated while this process goes on; :meth:`run_suite`
        with the same frame and items then waits for the results (or raises what ended the
        exchange). The frame is pickled here (later changes to it are not seen) and written,
        and the reply read, by a thread of its own: the child reads its request only once it
        has imported Great Expectations. Nothing here raises for the child's sake."""
        if self._used:
            raise ValidationWorkerError("The validation worker validates one frame only.")
        payload = pickle.dumps(_request(frame, items, name), protocol=pickle.HIGHEST_PROTOCOL)
        watchdog = self._watchdog()
        exchange = threading.Thread(
            target=lambda: self._reply.append(self._talk(lambda s: s.write(payload), watchdog)),
            name="fairgate-gx-exchange",
            daemon=True,
        )
        try:
            exchange.start()
        except BaseException:
            watchdog.cancel()
            raise
        self._used, self._sent, self._exchange = True, (frame, items, name), exchange

    def run_suite(self, frame: Any, items: list[Any], *, name: str) -> list[dict[str, Any]]:
        """:func:`~audits._gx_suite.run_suite` of ``frame`` in the child (a pandas frame;
        progress bars never show): the results of what :meth:`submit` sent, or of ``frame``
        sent now."""
        if self._exchange is not None:
            sent = self._sent or (None, None, None)
            if not (sent[0] is frame and sent[1] == items and sent[2] == name):
                raise ValidationWorkerError("The validation worker validates one frame only.")
            self._exchange.join()
            reply = self._reply[0] if self._reply else EOFError()
        elif self._used:
            raise ValidationWorkerError("The validation worker validates one frame only.")
        else:
            self._used = True
            request = _request(frame, items, name)  # pickled straight into the pipe
            reply = self._talk(lambda s: _send(s, request), self._watchdog())
        if isinstance(reply, BaseException):
            raise ValidationWorkerError(self._ended_text(reply)) from reply
        return _answer(reply, items)

    def _talk(self, write: Callable[[BinaryIO], None], watchdog: threading.Timer) -> Any:
        """Write the request with ``write``, read the reply: the reply, or the error that
        ended the exchange."""
        try:
            write(self._requests)
            self._requests.close()
            return _receive(self._replies)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
            return err
        finally:
            watchdog.cancel()

    def _watchdog(self) -> threading.Timer:
        """A started timer that stops the child :attr:`_deadline` seconds from now."""
        watchdog = threading.Timer(self._deadline, self._too_late)
        watchdog.daemon = True
        watchdog.start()
        return watchdog

    def _too_late(self) -> None:
        self._late = True
        with contextlib.suppress(OSError):
            self._process.kill()

    def _ended_text(self, err: BaseException) -> str:
        if self._late:
            return (
                f"The Great Expectations validation process did not answer within "
                f"{self._deadline:g} s and was stopped."
            )
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._output.seek(0)
        lines = [ln for ln in self._output.read().decode("utf-8", "replace").splitlines() if ln]
        last = lines[-1][:300] if lines else "nothing on its output"
        how = "did not end" if code is None else f"ended with exit code {code}"
        return (
            f"The Great Expectations validation process {how} without a result "
            f"({type(err).__name__}; its last words: {last})."
        )

    def close(self) -> None:
        """End the child (killed if still running) and drop its files."""
        process = self._process
        if process.poll() is None:
            process.kill()
        for stream in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        self._output.close()

    def __enter__(self) -> GXWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_worker() -> GXWorker | None:
    """A validation worker started now (:meth:`GXWorker.start`), or ``None`` when no child
    interpreter can be started: Great Expectations then validates in this process.

    The one start-with-fallback of the command line (the watched child of
    :mod:`audits.__main__` and :func:`audits.cli.run`); importing this module imports no
    heavy library.
    """
    try:
        return GXWorker.start()
    except OSError:  # no interpreter to start: validation runs in this process
        return None


def _request(frame: Any, items: list[Any], name: str) -> tuple[Any, list[Any], str]:
    """What the child is sent: the frame (only the columns the suite reads, when known)."""
    columns = _columns(items, list(frame.columns))
    return (frame if columns is None else frame[columns], items, name)


def _answer(reply: Any, items: list[Any]) -> list[dict[str, Any]]:
    """The results of the child's reply, or the error it reports."""
    if not (isinstance(reply, tuple) and reply and reply[0] in ("ok", "error")):
        raise ValidationWorkerError("The validation process answered something else.")
    if reply[0] == "error":
        _, kind, message = reply
        raise _error(kind, message)
    return _checked(reply[1], items)


def _checked(results: Any, items: list[Any]) -> list[dict[str, Any]]:
    """The reply's results, if they are one per expectation asked (name and column)."""
    asked = Counter((i.expectation, i.kwargs.get("column")) for i in items)
    try:
        got = Counter((r["expectation"], r.get("column")) for r in results)
    except (TypeError, KeyError, AttributeError):
        got = None
    if got != asked:
        raise ValidationWorkerError(
            "The validation process answered with results that are not those of the suite "
            f"({len(asked)} expectations asked)."
        )
    return results


def _error(kind: str, message: str) -> Exception:
    """The child's exception as the parent raises it: of the same type when it is a built-in
    or an unknown expectation, else of a :class:`ValidationWorkerError` subclass of the same
    name, so that the audit's error record reads as the in-process one would."""
    from ._gx_suite import UnknownExpectationError

    if kind == "UnknownExpectationError":
        return UnknownExpectationError(message)
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        with contextlib.suppress(Exception):  # a built-in whose constructor wants more
            return cls(message)
    name = kind if kind.isidentifier() else "ValidationWorkerError"
    return type(name, (ValidationWorkerError,), {})(message)


def _main() -> int:
    """The child: import GE, read one request, reply, exit."""
    request_fd, reply_fd = (int(fd) for fd in os.environ.pop(_FDS).split(","))
    hide = os.environ.pop(_HIDE, "") == "pyspark"
    from audits._gx_import import great_expectations, load_deferred, start_import

    # A worker validates pandas frames only: GE's SQL, cloud (and, for a local audit, Spark)
    # data sources are never used here, so their libraries are hidden from its import; the
    # libraries of GE's distribution expectations load when one is used (see _DEFERRED).
    with collection_paused():
        start_import(without_spark=hide, without=_HIDDEN, defer=_DEFERRED)
        # The import itself, before the request arrives; a failure is reported when the
        # request comes (run_suite raises it again).
        with contextlib.suppress(BaseException):
            great_expectations()
    with os.fdopen(request_fd, "rb") as requests:
        try:
            frame, items, name = _receive(requests)
        except EOFError:  # the parent went away (or needed no validation)
            return 0
    from audits._gx_suite import run_suite

    if any(item.kind == "named" for item in items):  # may use them, perhaps from threads
        load_deferred()
    try:
        reply: tuple[Any, ...] = ("ok", run_suite(frame, items, name=name, show=False))
    except Exception as err:
        reply = ("error", type(err).__name__, str(err) or type(err).__name__)
    with os.fdopen(reply_fd, "wb") as replies:
        _send(replies, reply)
    return 0
