"""``fairgate`` (the console script) and ``python -m audits``: the command line, with the
validation worker of :mod:`audits._gx_worker` started first when the command is ``run``.

Importing the command line takes most of a second; a worker started before that finishes
importing Great Expectations that much sooner. The worker is handed to the command, which
ends it when the command ends (this function ends it too, whatever happened).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``fairgate`` command line on ``argv`` (default: the process's arguments)."""
    args = sys.argv[1:] if argv is None else argv
    worker = None
    if argv is None and args[:1] == ["run"] and "--help" not in args and "-h" not in args:
        from audits._gx_worker import GXWorker

        try:
            worker = GXWorker.start()
        except OSError:  # no interpreter to start: validation runs in this process
            worker = None
    try:
        from audits.cli import main as cli_main

        return cli_main(argv, gx_worker=worker)
    finally:
        if worker is not None:
            worker.close()


if __name__ == "__main__":
    sys.exit(main())
