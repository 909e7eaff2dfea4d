"""Modules imported in a thread, while the command does something else.

The command line imports SciPy's statistics (about 1 s of CPU) and MLflow (about 1.5 s) this
way while the audit reads its data and waits for its validation worker; the code that needs
them imports them as usual and, through Python's import lock, finds them imported (or waits
for the thread to finish). A failed import in the thread is ignored: the later import raises
it again where it is handled.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable

__all__ = ["background_import"]


def _quiet_import(names: tuple[str, ...]) -> None:
    for name in names:
        with contextlib.suppress(BaseException):  # raised again by the import that needs it
            importlib.import_module(name)


def background_import(*names: str) -> Callable[[], None]:
    """Start importing modules ``names``, in order, in a daemon thread; return a function that
    waits for the imports to end (call it before the process exits: interpreter shutdown
    must not stop an import midway)."""
    thread = threading.Thread(
        target=_quiet_import, args=(names,), name="fairgate-imports", daemon=True
    )
    thread.start()
    return thread.join
