"""The runner's pipeline machinery: the stage wrapper that turns anything a stage raises into
the audit's error (:func:`_stage`), and the state the stages fill (:class:`_Audit`).

Every engine's pipeline (in memory in :mod:`audits._runner`, streamed in
:mod:`audits._stream_pipeline`, on Spark in :mod:`audits._spark`) runs its stages through
:func:`_stage`, so every way a stage can end goes through the verdict.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from metrics import GroupMetrics
from models_under_test import ModelAdapter

from ._checks import CheckResult
from ._data_files import DataFiles
from ._model_signature import VerifiedModel
from ._spec import AuditSpec
from ._waiver_spec import Waiver

__all__ = ["_Audit", "_StageError", "_stage", "_text"]

_T = TypeVar("_T")


class _StageError(Exception):
    """A stage could not finish: the audit stops there, with the ``error`` verdict."""

    def __init__(self, stage: str, err: BaseException):
        self.stage, self.err = stage, err
        super().__init__(f"{stage}: {type(err).__name__}: {err}")

    @property
    def record(self) -> dict[str, str]:
        return {"stage": self.stage, "type": type(self.err).__name__, "message": _text(self.err)}


def _text(err: BaseException) -> str:
    if isinstance(err, SystemExit):
        return f"the model's code asked the process to exit (SystemExit {err.code!r})"
    if isinstance(err, KeyboardInterrupt):
        return f"the audit was interrupted ({str(err) or 'KeyboardInterrupt'})"
    return str(err) or type(err).__name__


def _stage(name: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Run a pipeline stage so that anything it raises stops the audit at ``name``.

    Model code runs inside the stages, in this process: whatever it raises, ``SystemExit``
    and ``KeyboardInterrupt`` included, becomes the audit's error, never an exit without a
    verdict.
    """

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> _T:
            try:
                return fn(*args, **kwargs)
            except _StageError:
                raise
            except BaseException as err:  # every end goes through the verdict
                raise _StageError(name, err) from err

        return run

    return wrap


@dataclass
class _Audit:
    """What the stages have produced so far (the document is built from whatever exists)."""

    spec: AuditSpec
    spec_path: Path
    seed: int
    show: bool
    audit_id: str
    started: str
    clock: float = field(default_factory=time.perf_counter)
    frame: pd.DataFrame | None = None
    validation: dict[str, Any] | None = None
    features: Any = None
    adapter: ModelAdapter | None = None
    #: The verified model signature (``None``: the spec names none, or it did not verify).
    signed: VerifiedModel | None = None
    gm: GroupMetrics | None = None
    results: list[CheckResult] = field(default_factory=list)
    #: For each result, the index of the spec's check it is a result of (waivers use it).
    owners: list[int | None] = field(default_factory=list)
    waivers: list[tuple[Waiver, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    private: dict[str, bytes] = field(default_factory=dict)
    rows: int | None = None  # rows counted without holding them (streaming)
    streaming: dict[str, Any] | None = None
    stream_seconds: float | None = None  # the streamed read (in the run block: it varies)
    #: With ``data.engine: spark``: what ran where (see :mod:`audits._spark`).
    engine: dict[str, Any] | None = None
    #: The data's digest, hashed beside the stages after read (:func:`data_digest_ahead`).
    data_digest: Future[tuple[str | None, str]] | None = None
    #: The files read, with their stats when the read began (:mod:`audits._data_files`).
    data_files: DataFiles | None = None
    #: The media files a manifest names, with their stats before the model read them.
    media_files: DataFiles | None = None
    #: The validation worker (:mod:`audits._gx_worker`); ``None``: GE runs in this process.
    gx_worker: Any = None
    #: A private folder for what the audit downloads (an MLflow model's files), removed with
    #: all it holds when the audit ends (:func:`audits.run_audit`).
    scratch: Path | None = None
