"""Work done in a thread while the command does something else: imports, and opening a local
tracking store.

The command line imports SciPy's special functions (about 0.2 s of CPU; the engine's
quantiles come from them, not from ``scipy.stats``, which costs 0.75 s) and MLflow (about
1.5 s) this way while the audit reads its data and waits for its validation worker, and opens a
local sqlite tracking store (MLflow checks its schema: about half a second); the code that needs
them imports them as usual and, through Python's import lock, finds them imported (or waits
for the thread to finish), and MLflow reuses the store it opened. A failure in the thread is
ignored: the later call raises it again where it is handled.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

__all__ = ["in_background"]


def _quietly(steps: tuple[Callable[[], object], ...]) -> None:
    for step in steps:
        with contextlib.suppress(BaseException):  # raised again by the call that needs it
            step()


def in_background(*steps: Callable[[], object]) -> Callable[[], None]:
    """Start calling ``steps``, in order, in a daemon thread; return a function that waits
    for them to end (call it before the process exits: interpreter shutdown must not stop an
    import midway)."""
    thread = threading.Thread(target=_quietly, args=(steps,), name="fairgate-ahead", daemon=True)
    thread.start()
    return thread.join
