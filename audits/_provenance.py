"""What was audited, with which code, when and by whom: the evidence that lasts."""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import subprocess
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from models_under_test import file_sha256

from ._data import DataError
from ._data_files import DataFiles, snapshot

__all__ = [
    "code_version",
    "data_digest",
    "data_digest_ahead",
    "provenance",
    "run_block",
    "utc_now",
]


def utc_now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def code_version() -> dict[str, Any]:
    """fairgate's version and, when it runs from a git checkout, the commit and whether the
    working tree had uncommitted changes."""
    try:
        version = metadata.version("fairgate")
    except metadata.PackageNotFoundError:
        version = "unknown"
    here = Path(__file__).resolve().parent
    commit = dirty = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain"],
            check=True,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return {"fairgate_version": version, "git_commit": commit, "git_dirty": dirty}


def _runner() -> str:
    for var in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_REQUESTEDFOR", "USER"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def data_digest(
    data_path: Path | None,
    media_files: Sequence[str | Path] | None = None,
    *,
    files: DataFiles | None = None,
) -> tuple[str | None, str]:
    """The data's sha256 and a sentence saying what it covers.

    A folder's digest covers the files the audit reads (:mod:`audits._data_files`: hidden
    names are neither read nor hashed): ``files``, listed when the read began, or else the
    folder's files now. With ``media_files`` (the files a manifest names), the digest is a
    Merkle-style sha256 over the manifest's own sha256 and, sorted by path, each file's path
    relative to the manifest's folder and its sha256: replacing, adding or removing any file
    changes it.
    """
    if data_path and data_path.is_dir():  # a folder of Parquet files or a hive dataset
        listed = files if files is not None else snapshot(data_path)
        digest = hashlib.sha256(b"folder\n")
        for f in listed.files:
            digest.update(f"{f.relative_to(data_path).as_posix()}\t{file_sha256(f)}\n".encode())
        skipped = (
            f"; {listed.skipped:,} hidden name(s) (starting with '.' or '_') are not read and "
            "not covered"
            if listed.skipped
            else ""
        )
        return digest.hexdigest(), (
            f"the folder's {len(listed.files):,} files that were read (sha256 over each file's "
            f"relative path and sha256, sorted by path){skipped}"
        )
    if not data_path or not data_path.is_file():
        return None, "nothing: the data file was not found"
    manifest = file_sha256(data_path)
    if not media_files:
        return manifest, "the data file"
    folder = data_path.parent
    lines = sorted(
        f"{Path(os.path.relpath(Path(f), folder)).as_posix()}\t{file_sha256(f)}\n"
        for f in media_files
    )
    digest = hashlib.sha256(f"manifest\t{manifest}\n".encode())
    for line in lines:
        digest.update(line.encode())
    return digest.hexdigest(), (
        f"the manifest and the {len(lines):,} files it names (sha256 over the manifest's sha256 "
        "and each file's relative path and sha256, sorted by path)"
    )


def data_digest_ahead(
    data_path: Path | None, *, files: DataFiles | None = None
) -> Future[tuple[str | None, str]]:
    """:func:`data_digest` of ``data_path`` (without media files; a folder's ``files`` as
    listed when the read began), computed in a thread from now on. Hashing a large log keeps
    a core busy for a while (a 10-million-row Parquet file of 135 MB: 0.12 s), which the
    audit's later stages leave free; reading and hashing release the interpreter lock. Pass
    the result to :func:`provenance` as ``digest``."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fairgate-digest")
    try:
        return executor.submit(data_digest, data_path, files=files)
    finally:
        executor.shutdown(wait=False)


def provenance(
    *,
    spec_path: Path,
    data_path: Path | None,
    model_hash: str | None,
    seed: int,
    media_files: Sequence[str | Path] | None = None,
    digest: Future[tuple[str | None, str]] | None = None,
) -> dict[str, Any]:
    """Hashes of spec, data and model, code version and seed: what makes the results what
    they are (the same for every run of the same audit; see :func:`run_block` for the rest).

    ``media_files`` are the files a media manifest names: the data digest covers them too.
    ``digest``: :func:`data_digest_ahead` of ``data_path``, started earlier (not used with
    ``media_files``). Data refused as they are (:class:`DataError`: a symbolic link in the
    folder; data changed while they were audited, see :mod:`audits._digest_stage`) have no
    digest, and ``data_sha256_covers`` says why; any other error is raised here.
    """
    try:
        # the digest stage's refusal (media too: the files changed while they were read)
        if digest is not None and (not media_files or digest.exception() is not None):
            data_sha, covers = digest.result()
        else:
            data_sha, covers = data_digest(data_path, media_files)
    except DataError as err:
        data_sha, covers = None, f"nothing: {err}"
    return {
        "spec_sha256": file_sha256(spec_path),
        "data_sha256": data_sha,
        "data_sha256_covers": covers,
        "model_sha256": model_hash,
        **code_version(),
        "seed": seed,
    }


def run_block(*, audit_id: str, started_at: str) -> dict[str, Any]:
    """What differs between two runs of the same audit: its id, when, where and by whom
    (``finished_at`` and ``seconds`` are added when the audit ends)."""
    return {
        "audit_id": audit_id,
        "started_at": started_at,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "run_by": _runner(),
        "ci": bool(os.environ.get("CI")),
    }
