"""The audit pipeline on a streamed decision log (see :mod:`audits._streaming`): the same
stages as in memory (read → validate → load → decide → count → check), on count tables and
score histograms summed batch by batch, so memory is bounded by the batch, not the log.

The validation worker gets the sample while the log is still read; the count's metrics are
computed while it finishes, before validation is collected, and are used (or their error
raised) only once validation has passed: the stages and their errors are those of the order
above.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from metrics import GroupMetrics, metrics_from_counts

from ._check_stage import _check
from ._data import DataError, _not_empty
from ._evidence import Evidence
from ._folder_columns import refuse_missing_file_columns
from ._spec import AuditSpec
from ._stages import _Audit, _stage
from ._stream_checks import check_stream_decisions, refuse_stream, validate_stream
from ._streaming import NotStreamableError, Streamed, stream_log
from ._validation import submit_validation

__all__ = ["stream_read", "streamed_pipeline"]


@_stage("read")
def stream_read(audit: _Audit) -> Streamed | None:
    """One pass over a decision log (see :mod:`audits._streaming`); ``None`` when the audit
    needs its rows in memory after all."""
    spec, worker, files = audit.spec, audit.gx_worker, audit.data_files
    refuse_missing_file_columns(spec, files=files)  # pyarrow would read a file's lack as nulls
    try:  # Great Expectations starts on the sample while the rest is read
        streamed = stream_log(
            spec,
            show=audit.show,
            on_sample=lambda frame: submit_validation(spec, frame, worker),
            files=files,
        )
    except NotStreamableError:
        if worker is not None and worker.used:  # it holds the sample: the rows validate here
            worker.close()
            audit.gx_worker = None
        return None
    except (OSError, ValueError, TypeError) as err:  # pyarrow's reading errors
        path = audit.spec.data.path
        raise DataError(f"The data {str(path)!r} cannot be read: {err}") from err
    _not_empty(streamed.sample, Path(audit.spec.data.path))
    return streamed


@_stage("validate")
def _stream_validate(audit: _Audit, streamed: Streamed) -> None:
    audit.validation = validate_stream(
        audit.spec, streamed, show=audit.show, worker=audit.gx_worker
    )
    refuse_stream(audit.spec, streamed, audit.validation)


@_stage("decide")
def _stream_decide(spec: AuditSpec, streamed: Streamed) -> None:
    check_stream_decisions(spec, streamed)


@_stage("count")
def _count_ahead(spec: AuditSpec, streamed: Streamed, *, seed: int) -> GroupMetrics | Exception:
    """The counts' metrics, computed before validation is collected (the validation worker
    may still be at work on the sample): the metrics, or the error the count stage raises
    once validation has passed. An interruption stops the audit here at once."""
    try:
        return metrics_from_counts(
            streamed.table,
            score_histograms=streamed.histograms,
            n_boot=spec.n_boot,
            seed=seed,
            confidence=spec.confidence,
            min_group_size=spec.data.min_group_size,
            min_denominator=spec.data.min_denominator,
            engine=streamed.score_engine or "numpy",  # numba only when its kernel is loaded
        )
    except Exception as err:  # raised in its own stage, after validate
        return err


@_stage("count")
def _stream_count(ahead: GroupMetrics | Exception) -> GroupMetrics:
    if isinstance(ahead, Exception):
        raise ahead
    return ahead


def streamed_pipeline(audit: _Audit, streamed: Streamed, *, tracking_uri: str | None) -> None:
    """The pipeline on streamed counts: the same stages, without holding the rows."""
    from ._runner import _load  # the in-memory pipeline's own load stage

    spec = audit.spec
    audit.frame, audit.rows = streamed.sample, streamed.rows
    audit.stream_seconds = round(streamed.seconds, 3)
    hist = streamed.histograms
    audit.streaming = {
        "rows": streamed.rows,
        "files": streamed.files,
        "batches": streamed.batches,
        "score_bins": None if hist is None else hist.bins,
        "score_engine": streamed.score_engine,
        "passes": streamed.passes,
    }
    ahead = _count_ahead(spec, streamed, seed=audit.seed)  # while the worker validates
    _stream_validate(audit, streamed)
    audit.adapter = _load(
        spec, audit.spec_path, tracking_uri=tracking_uri, show=audit.show, scratch=audit.scratch
    )
    _stream_decide(spec, streamed)
    audit.gm = _stream_count(ahead)
    if audit.gm.scores is not None:  # the binned metrics' stated error, largest over groups
        bound = audit.gm.scores[audit.gm.scores.error > 0].groupby("metric").error.max()
        audit.streaming["score_error_bounds"] = {k: float(v) for k, v in bound.items()}
    evidence = Evidence(
        spec=spec,
        frame=streamed.sample,
        features=streamed.sample,
        decisions=np.array([]),
        adapter=audit.adapter,
        gm=audit.gm,
        seed=audit.seed,
        show=audit.show,
    )
    _check(audit, evidence)
