"""The command that starts a fairgate child process (the watched command of
:mod:`audits.__main__`, the validation worker of :mod:`audits._gx_worker`).

The child runs this interpreter with the parent's own interpreter flags (``-I``, ``-E``,
``-s``, ``-W``, ``-X``, ...: a parent that ignores ``PYTHONPATH`` or user site-packages has a
child that does too), with ``-P`` (the working directory, which may be the audited party's,
is never put on the module path) and ``-c``: the code appends this package's folder to the
module path when it is not there already (a checkout run without installing), so the child
runs the parent's code, then calls one function.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["python_command"]


def python_command(module: str, function: str) -> list[str]:
    """The argument list running ``module.function()`` in a child interpreter and exiting
    with what it returns."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        "import sys\n"
        f"if {root!r} not in sys.path:\n"
        f"    sys.path.append({root!r})\n"
        f"from {module} import {function}\n"
        f"sys.exit({function}())\n"
    )
    flags = subprocess._args_from_interpreter_flags()  # what multiprocessing passes on too
    return [sys.executable, *flags, "-P", "-c", code]
