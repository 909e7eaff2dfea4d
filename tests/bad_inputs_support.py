"""Shared helpers of the hostile-input corpus (``tests/test_bad_inputs_*.py``).

Cases that are about the process (exit codes, signals, concurrency, files left behind) run
fairgate as a real process with :func:`run_cli`; the others may call the CLI in-process with
the ``fairgate`` fixture. Every case asserts the exit code, that the message names the problem,
and, through :func:`assert_no_release`, that nothing written claims a release.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]

#: Words that would tell a reader the model may be released.
RELEASE_MARKERS = ('"exit_code": 0', '"verdict": "pass"', "RELEASE", "may be released")


def decision_log(
    folder: Path,
    *,
    groups: Mapping[str, tuple[int, float, float]] | None = None,
    labels: tuple[Any, Any] = (1, 0),
    name: str = "log.csv",
    seed: int = 0,
) -> Path:
    """Write a decision log: per group ``(n, base rate, selection rate)``, labels coded as given.

    The columns are ``group``, ``outcome`` (the label) and ``decision``; ``labels`` is
    ``(favourable, adverse)``. The default is two groups of 200 with equal rates.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = groups or {"a": (200, 0.5, 0.5), "b": (200, 0.5, 0.5)}
    frames = []
    for group, (n, base, sel) in groups.items():
        y = rng.random(n) < base
        d = rng.random(n) < sel
        frames.append(
            pd.DataFrame(
                {
                    "group": group,
                    "outcome": np.where(y, labels[0], labels[1]),
                    "decision": np.where(d, labels[0], labels[1]),
                }
            )
        )
    path = folder / name
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return path


def log_spec(path: Path, **overrides: Any) -> dict[str, Any]:
    """A minimal valid spec auditing the decision log at ``path``; ``overrides`` replace keys
    (``data=`` and ``model=`` are merged into the defaults)."""
    spec: dict[str, Any] = {
        "name": "bad-input-case",
        "model": {"kind": "predictions", "column": "decision"},
        "data": {"path": str(path), "label": "outcome", "sensitive": ["group"]},
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.8}],
    }
    for key, value in overrides.items():
        if key in ("data", "model") and isinstance(value, dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def write_yaml(path: Path, spec: Mapping[str, Any] | str) -> Path:
    """Write a spec (a mapping, or raw YAML text for cases about the YAML itself)."""
    text = spec if isinstance(spec, str) else yaml.safe_dump(dict(spec), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(
    *args: Any,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``fairgate ARGS`` as a real process (``python -m audits.cli``)."""
    full_env = {**os.environ, "CI": "true", "OMP_WAIT_POLICY": "passive", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "audits.cli", *map(str, args)],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_exit(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """The process exited with ``code`` and its output names every one of ``words``."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}:\n{output}"
    for word in words:
        assert word.lower() in output.lower(), f"{word!r} not in the message:\n{output}"


def files_under(*paths: Path) -> Iterable[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())


def assert_no_release(*paths: Path) -> None:
    """No file under ``paths`` claims a release (a verdict ``pass`` or exit code 0)."""
    for path in files_under(*paths):
        text = path.read_bytes().decode("utf-8", errors="replace")
        for marker in RELEASE_MARKERS:
            assert marker not in text, f"{path} says {marker!r}"


def assert_no_secret(secret: str, *paths: Path, outputs: Iterable[str] = ()) -> None:
    """The secret appears in no file under ``paths`` and in none of ``outputs``."""
    needle = secret.strip().encode()
    assert needle, "an empty secret proves nothing"
    for path in files_under(*paths):
        assert needle not in path.read_bytes(), f"the secret leaked into {path}"
    for text in outputs:
        assert secret.strip() not in text, "the secret leaked into the process output"
