"""The data's digest beside the audit's stages: the files listed (with their stats) as the
read begins, hashed in a thread once they are read, and confirmed unchanged at the end.

A file rewritten after the read began would be hashed with its new content, and the evidence
would name data that were not audited: the ``digest`` stage, after every other, waits for the
hash and compares each file's size, times and inode, and the folder's files, with those the
read began with (:func:`audits._data_files.changes`). A difference stops the audit (verdict
``error``, exit code 2) and the document records no data digest, saying why.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from ._data import DataError
from ._data_files import changes, snapshot
from ._provenance import data_digest_ahead
from ._stages import _Audit, _stage

__all__ = ["confirm_data", "list_data", "start_digest"]


@_stage("read")
def list_data(audit: _Audit) -> None:
    """The files the audit reads, as they are before it reads them (``audit.data_files``);
    a symbolic link or another name the readers would count twice is refused here."""
    if audit.spec.data.path:
        audit.data_files = snapshot(Path(audit.spec.data.path))


def start_digest(audit: _Audit) -> None:
    """Once the data are read, hash them beside the later stages (a media manifest's digest
    covers the files it names, known after load: it is hashed with the evidence)."""
    if audit.spec.data.path and audit.spec.data.media is None:
        audit.data_digest = data_digest_ahead(Path(audit.spec.data.path), files=audit.data_files)


@_stage("digest")
def confirm_data(audit: _Audit) -> None:
    """Wait for the digest and refuse data that changed since the read began (module
    docstring); the digest's own error is raised here too, and the document then records no
    digest (:func:`audits._provenance.provenance`)."""
    try:
        if audit.data_digest is not None:
            audit.data_digest.result()
        changed = None
        for files in (audit.data_files, audit.media_files):  # the media: the files named
            if files is not None and changed is None:
                changed = changes(files)
        if changed:
            raise DataError(
                f"The data changed while it was audited ({changed}): the results and the "
                "data's digest could be of different data. Audit data that are not being "
                "written."
            )
    except Exception as err:
        failed: Future[tuple[str | None, str]] = Future()
        failed.set_exception(
            err if isinstance(err, DataError) else DataError(f"The data cannot be hashed: {err}")
        )
        audit.data_digest = failed
        raise
