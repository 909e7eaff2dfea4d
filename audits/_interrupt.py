"""Signals end an audit through its verdict: SIGTERM and SIGHUP become an exception.

By default SIGTERM ends a Python process at once, with no verdict, no evidence and an MLflow
run left ``RUNNING``. While :func:`signals_as_interrupts` is active, the first SIGTERM or
SIGHUP raises :class:`Interrupted` in the main thread instead: the runner records it as the
audit's error (verdict ``error``, exit code 2), an MLflow run being logged ends ``KILLED``, and
a staged evidence folder that was not yet published is discarded. A second signal is ignored
while the first is being handled; SIGKILL cannot be caught, and then nothing staged is ever
published.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "signals_as_interrupts"]

_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


class Interrupted(KeyboardInterrupt):  # noqa: N818 - named for what happened, like its base
    """The process received a termination signal while auditing."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"received {signal.Signals(signum).name}")


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` (once)."""
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if fired:  # already ending through the verdict
            return
        fired = True
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
