"""Which files a data folder holds, the one rule every reader and the data digest follow.

A folder of Parquet files (or a hive-partitioned dataset) is read by pyarrow (in memory and
streamed), by Spark, and by the monitor, and hashed for the evidence. They must read, and the
digest must cover, the same files. The rule (:func:`folder_files`):

* a file or folder whose name starts with ``.`` or ``_`` (anywhere below the folder) is
  neither read nor hashed, as pyarrow and Spark skip them (``_SUCCESS``, ``.crc`` files);
* a symbolic link inside the folder is refused: it may name a file the folder already holds
  (its rows counted twice) or data outside the folder;
* two names of one file (hard links) are refused for the same reason;
* a name that pyarrow and Spark treat differently (a ``_key=value`` folder, which Spark reads
  and pyarrow skips; a ``._COPYING_`` file still being copied) is refused, as is anything
  that is not a regular file or folder.

:func:`snapshot` records each file read with its size, times and inode when the read starts;
:func:`changes` says, once the audit's digest is computed, whether any of them changed (or
the folder now holds other files): the digest is then not of the data audited.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._data import DataError

__all__ = [
    "DataFiles",
    "changes",
    "folder_dataset",
    "folder_files",
    "named_once",
    "snapshot",
    "snapshot_files",
]

_HIDDEN = (".", "_")


@dataclass(frozen=True)
class DataFiles:
    """The files of ``data.path`` that the audit reads, as they were when the read began.

    ``folder``: ``data.path`` when it is a folder (``None``: one file). ``files``: the files
    read, sorted by path. ``stats``: each file's (size, mtime, ctime, inode, device).
    ``skipped``: names in the folder that are neither read nor hashed (hidden files).
    """

    folder: Path | None
    files: tuple[Path, ...]
    stats: tuple[tuple[int, ...], ...]
    skipped: int = 0


def _key(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def _refuse(folder: Path, path: Path, why: str) -> DataError:
    return DataError(
        f"The data {str(folder)!r} holds {str(path)!r}, {why}. Every file of the data must "
        "be a regular file inside its folder, named once."
    )


def _kind(
    folder: Path, path: Path, seen: dict[tuple[int, int], Path], *, hidden: bool = True
) -> str:
    """What the readers make of ``path`` inside ``folder``: ``"skip"`` (a hidden name, unless
    ``hidden`` is false), ``"dir"`` or ``"file"`` (recorded in ``seen``); refusals raise
    :class:`DataError`."""
    name = path.name
    if hidden and name.startswith("_") and "=" in name:
        raise _refuse(folder, path, "which pyarrow skips (a hidden name) and Spark reads")
    if hidden and name.startswith(_HIDDEN):
        return "skip"
    if name.endswith("._COPYING_"):
        raise _refuse(folder, path, "a file still being copied")
    try:
        info = path.lstat()
    except OSError as err:
        raise DataError(f"The data file {str(path)!r} cannot be read: {err}") from err
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(
            folder,
            path,
            f"a symbolic link to {os.readlink(path)!r}: it may name a file the folder already "
            "holds (its rows counted twice) or data outside it",
        )
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(folder, path, "which is not a regular file")
    first = seen.setdefault((info.st_dev, info.st_ino), path)
    if first != path:
        raise _refuse(
            folder,
            path,
            f"a second name (a hard link) of {str(first)!r}: its rows would be counted twice",
        )
    return "file"


def folder_files(folder: Path, *, recursive: bool = True) -> tuple[list[Path], int]:
    """The files of ``folder`` that every reader reads (see the module docstring), sorted by
    path and spelled as ``folder`` is, and how many names were skipped as hidden.
    ``recursive=False``: its own files only (a monitored log's folder), not its folders'.

    Raises
    ------
    DataError
        For a symbolic link, a second name of a file, a name the readers treat differently,
        or anything that is neither a regular file nor a folder.
    """
    files: list[Path] = []
    seen: dict[tuple[int, int], Path] = {}
    skipped = 0
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            names = sorted(os.listdir(current))
        except OSError as err:
            raise DataError(f"The data folder {str(current)!r} cannot be listed: {err}") from err
        for name in names:
            path = current / name
            kind = _kind(folder, path, seen)
            skipped += kind == "skip"
            if kind == "dir" and recursive:
                pending.append(path)
            elif kind == "file":
                files.append(path)
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix()), skipped


def named_once(files: list[Path], where: str) -> None:
    """Refuse a symbolic link, a second name of one file, or what is not a regular file
    among ``files`` (a glob's matches, whose hidden names are matched on purpose), as
    :func:`folder_files` does; folders are left to the caller.

    Raises
    ------
    DataError
        Naming the file.
    """
    seen: dict[tuple[int, int], Path] = {}
    for file in files:
        _kind(Path(where), file, seen, hidden=False)


def snapshot(path: Path) -> DataFiles:
    """The files that the audit of ``path`` (a file or a folder) reads, with their stats as
    they are now (call it before reading). A missing ``path`` gives no files: the reader
    then says it is missing."""
    if path.is_dir():
        files, skipped = folder_files(path)
        folder: Path | None = path
    else:
        files, skipped, folder = ([path] if path.is_file() else []), 0, None
    return DataFiles(folder, tuple(files), _stats(files), skipped)


def snapshot_files(paths: Any) -> DataFiles:
    """The stats of the files ``paths`` name (each once, e.g. the media files a manifest
    names), as they are now: :func:`changes` then says whether any of them changed."""
    files = sorted({Path(p) for p in paths})
    return DataFiles(None, tuple(files), _stats(files))


def _stats(files: list[Path]) -> tuple:
    """Each file's stats as :func:`changes` compares them."""
    stats = []
    for file in files:
        try:
            stats.append(_key(file.stat()))
        except OSError as err:
            raise DataError(f"The data file {str(file)!r} cannot be read: {err}") from err
    return tuple(stats)


def changes(before: DataFiles) -> str | None:
    """How the data differ from ``before`` (files changed, added or removed since it was
    taken), or ``None``: the same files, of the same size, times and inode."""
    if before.folder is not None:
        try:
            now = folder_files(before.folder)[0]
        except DataError as err:
            return str(err)
        if now != list(before.files):
            added = sorted(set(map(str, now)) - set(map(str, before.files)))
            removed = sorted(set(map(str, before.files)) - set(map(str, now)))
            return f"files added {added[:3]} or removed {removed[:3]}"
    for file, key in zip(before.files, before.stats, strict=True):
        try:
            now = _key(file.stat())
        except OSError:
            return f"the file {str(file)!r} was removed"
        if now != key:
            return f"the file {str(file)!r} {_how(key, now)}"
    return None


def _how(before: tuple[int, ...], now: tuple[int, ...]) -> str:
    """What a change of a file's (size, mtime, ctime, inode, device) says happened."""
    if before[3:] != now[3:]:
        return "was replaced (another file now has its name)"
    if before[0] != now[0]:
        return f"was modified (its size went from {before[0]:,} to {now[0]:,} bytes)"
    if before[1] != now[1]:
        return (
            "was modified or touched (its modification time changed; a touch without a "
            "change of content cannot be told apart from a rewrite)"
        )
    return (
        "had its status changed (its permissions, owner or links: its ctime changed, as a "
        "rewrite that keeps the modification time changes it)"
    )


def folder_dataset(folder: Path, files: tuple[Path, ...] | list[Path]) -> Any:
    """The pyarrow dataset of ``files`` (:func:`folder_files` of ``folder``): exactly those
    files, hive partition keys read from their paths below ``folder``."""
    import pyarrow.dataset as ds

    return ds.dataset(
        [str(f) for f in files],
        format="parquet",
        partitioning="hive",
        partition_base_dir=str(folder),
    )
