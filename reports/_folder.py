"""The evidence folder: staged, written without following links, published in one rename.

An audit's files are written into a fresh hidden staging folder beside the output folder and
moved into place by one ``rename`` as the very last step, so a reader never finds a partial
set of evidence, and an audit that is interrupted (or killed) leaves nothing readable as its
result. Earlier evidence in the output folder is moved aside (``<out>.superseded-<id>``)
before the audit starts, so it can never be taken for the new audit's result; a folder that
holds anything but fairgate evidence is never written into.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

__all__ = [
    "EvidenceFolderError",
    "check_out_folder",
    "discard",
    "new_staging_folder",
    "publish",
    "set_aside",
    "write_file",
]

#: Files whose presence marks a folder as fairgate evidence.
_EVIDENCE_MARKERS = ("results.json", "junit.xml", "summary.md", "report.html")
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class EvidenceFolderError(ValueError):
    """The output folder cannot hold this audit's evidence (a usage error)."""


def _is_evidence(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _EVIDENCE_MARKERS)


def check_out_folder(out: Path) -> None:
    """Refuse an output folder that is a link, a file, or a folder of something else.

    Raises
    ------
    EvidenceFolderError
        When ``out`` is a symbolic link, not a folder, a mount point, or a non-empty folder
        that holds no fairgate evidence.
    """
    if out.is_symlink():
        raise EvidenceFolderError(
            f"The output folder must not be a symbolic link. Got {str(out)!r}, a link to "
            f"{os.readlink(out)!r}."
        )
    if out.exists() and not out.is_dir():
        raise EvidenceFolderError(f"The output folder must be a folder. Got the file {str(out)!r}.")
    if out.is_dir() and os.path.ismount(out):
        # The staged evidence is renamed onto ``out``: that fails on a mount point, after
        # MLflow and the ledger were told the verdict, and nothing would be published.
        raise EvidenceFolderError(
            f"The output folder must not be a mount point (the evidence is moved into place "
            f"by one rename, which cannot replace it). Got {str(out)!r}: name a folder "
            "inside it instead."
        )
    if out.is_dir() and any(out.iterdir()) and not _is_evidence(out):
        raise EvidenceFolderError(
            f"The output folder must be new, empty, or a folder of earlier fairgate evidence. "
            f"{str(out)!r} holds other files: fairgate does not write into it."
        )


def _earlier_id(folder: Path) -> str:
    try:
        document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        audit_id = str(document["run"]["audit_id"] if "run" in document else document["audit_id"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        audit_id = ""
    safe = "".join(c for c in audit_id if c.isalnum() or c in "-_.")[:120]
    return safe or os.urandom(6).hex()


def set_aside(out: Path) -> Path | None:
    """Move earlier evidence at ``out`` to ``<out>.superseded-<its audit id>``.

    Returns where it went, or ``None`` when there was nothing to move.
    """
    if not out.is_dir() or out.is_symlink() or not any(out.iterdir()):
        return None
    check_out_folder(out)
    target = out.with_name(f"{out.name}.superseded-{_earlier_id(out)}")
    while target.exists():
        target = out.with_name(f"{target.name}-{os.urandom(3).hex()}")
    os.rename(out, target)
    return target


def new_staging_folder(out: Path, audit_id: str) -> Path:
    """A new, empty, hidden folder beside ``out`` (same file system, so the move is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    safe = "".join(c for c in str(audit_id) if c.isalnum() or c in "-_.")[-60:]
    staging = out.parent / f".{out.name}.staging-{safe}-{os.urandom(4).hex()}"
    staging.mkdir(mode=0o700)
    return staging


def write_file(folder: Path, name: str, data: bytes, *, mode: int = 0o644) -> Path:
    """Write a new file ``name`` in ``folder``: never through a link, never over a file.

    ``mode`` sets its permissions (``0o600`` for files holding personal data).
    """
    if Path(name).name != name or name in ("", ".", ".."):
        raise EvidenceFolderError(f"An evidence file name must be a plain name. Got {name!r}.")
    path = folder / name
    fd = os.open(path, _OPEN_FLAGS, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def publish(staging: Path, out: Path) -> Path:
    """Move the staged evidence into place at ``out``, as one rename.

    If evidence appeared at ``out`` meanwhile (another audit with the same ``--out``), it is
    set aside first: the evidence published last is the one found at ``out``.
    """
    staging.chmod(0o755)
    for _ in range(10):
        try:
            os.rename(staging, out)
            return out
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
            check_out_folder(out)
            set_aside(out)
    raise EvidenceFolderError(f"{str(out)!r} kept changing: the evidence stays in {staging}.")


def discard(staging: Path | None) -> None:
    """Remove a staging folder (an audit that ends before publishing leaves nothing)."""
    if staging is not None and staging.is_dir() and not staging.is_symlink():
        shutil.rmtree(staging, ignore_errors=True)
