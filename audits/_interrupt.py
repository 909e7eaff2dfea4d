"""Signals end an audit through its verdict: SIGTERM, SIGHUP and SIGINT become an exception.

By default SIGTERM ends a Python process at once, with no verdict, no evidence and an MLflow
run left ``RUNNING``. While :func:`signals_as_interrupts` is active, the first SIGTERM,
SIGHUP or SIGINT (Ctrl-C, otherwise a ``KeyboardInterrupt`` anywhere, a retraction included)
raises :class:`Interrupted` in the main thread instead: the runner records it as the
audit's error (verdict ``error``, exit code 2), an MLflow run being logged ends ``KILLED``, and
a staged evidence folder that was not yet published is discarded. A second signal is ignored
while the first is being handled, and so is any signal once the evidence is about to be
published (:meth:`Guard.settle`): the decision is made, and the exit code must match the
files. SIGKILL cannot be caught, and then nothing staged is ever published.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Guard", "Interrupted", "signals_as_interrupts"]

_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """The process received a termination signal while auditing."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"received {signal.Signals(signum).name}")


class Guard:
    """Turns the first termination signal into :class:`Interrupted`, until settled."""

    def __init__(self) -> None:
        self.fired = False
        self.settled = False

    def settle(self) -> None:
        """From now on signals are ignored: the outcome is decided and being published."""
        self.settled = True

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.fired or self.settled:
            return
        self.fired = True
        raise Interrupted(signum)


@contextmanager
def signals_as_interrupts() -> Iterator[Guard]:
    """Within the block, SIGTERM, SIGHUP and SIGINT raise :class:`Interrupted` (once, until
    settled)."""
    guard = Guard()
    previous = {s: signal.signal(s, guard) for s in _SIGNALS}
    try:
        yield guard
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
