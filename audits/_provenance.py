"""What was audited, with which code, when and by whom: the evidence that lasts."""

from __future__ import annotations

import getpass
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from models_under_test import file_sha256

__all__ = ["code_version", "provenance", "utc_now"]


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


def provenance(
    *, spec_path: Path, data_path: Path | None, model_hash: str | None, seed: int, started_at: str
) -> dict[str, Any]:
    """Hashes of spec, data and model, code version, seed, time, and who ran the audit."""
    return {
        "spec_sha256": file_sha256(spec_path),
        "data_sha256": file_sha256(data_path) if data_path and data_path.is_file() else None,
        "model_sha256": model_hash,
        **code_version(),
        "seed": seed,
        "started_at": started_at,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "run_by": _runner(),
        "ci": bool(os.environ.get("CI")),
    }
