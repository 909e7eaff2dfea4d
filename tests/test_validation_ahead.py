"""Validation started ahead: a streamed audit hands its sample to the validation worker as soon
as the sample is complete, so Great Expectations validates it while the rest of the log is
read. The results are those of validating it afterwards; a worker that cannot answer still
stops the audit (never a pass); a log that turns out not to stream is validated in memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audits import _streaming as streaming
from audits import load_spec, run_audit
from audits._gx_worker import GXWorker, ValidationWorkerError
from audits._validation import suite_items

SPEC = """spec_version: 1
name: ahead-{name}
model: {{kind: predictions, column: decision, score_column: score}}
data:
  path: {path}
  label: outcome
  positive_label: 1
  sensitive: [sex, region]
  id_column: id
  ranges: {{score: [0, 1]}}
checks:
  - {{metric: selection_rate, disparity: ratio, min: 0.8}}
  - {{metric: roc_auc, disparity: difference, max: 0.05}}
"""


def _log(rows: int, seed: int, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(start, start + rows),
            "sex": rng.choice(["female", "male"], rows),
            "region": rng.choice(["east", "north", "south"], rows),
            "outcome": (rng.random(rows) < 0.4).astype(int),
        }
    )
    frame["score"] = np.clip(rng.normal(0.4 + 0.2 * frame.outcome, 0.2), 0, 1)
    frame["decision"] = (frame.score > 0.5).astype(int)
    return frame


def _folder(tmp_path: Path, name: str, parts: list[pd.DataFrame]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for i, part in enumerate(parts):
        part.to_parquet(folder / f"part-{i}.parquet", index=False)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, path=folder))
    return spec


def _document(result) -> dict:
    document = dict(result.document)
    document.pop("run")
    return document


@pytest.fixture
def worker():
    started = GXWorker.start()
    yield started
    started.close()


def test_the_sample_is_handed_over_while_reading(tmp_path):
    """Called once, with the very sample the stream keeps, from inside the pass (an error
    raised by the callback stops the pass); a log shorter than the sample never calls it."""
    rows = streaming.SAMPLE_ROWS // 2
    spec = load_spec(_folder(tmp_path, "long", [_log(rows, 1), _log(rows, 2, rows), _log(99, 3)]))
    seen: list[pd.DataFrame] = []
    streamed = streaming.stream_log(spec, show=False, on_sample=seen.append)
    assert len(seen) == 1 and seen[0] is streamed.sample
    assert len(streamed.sample) == streaming.SAMPLE_ROWS

    class StopError(Exception):
        pass

    def stop(frame: pd.DataFrame) -> None:
        raise StopError

    with pytest.raises(StopError):
        streaming.stream_log(spec, show=False, on_sample=stop)
    short = load_spec(_folder(tmp_path, "short", [_log(500, 4)]))
    seen.clear()
    assert len(streaming.stream_log(short, show=False, on_sample=seen.append).sample) == 500
    assert seen == []


def test_validated_ahead_gives_the_same_audit(tmp_path, worker, monkeypatch):
    """With a worker, the sample is submitted during the stream (the real submit, recorded)
    and the audit's document equals the one validated in this process."""
    rows = streaming.SAMPLE_ROWS
    spec = _folder(tmp_path, "same", [_log(rows, 5), _log(rows, 6, rows)])
    submitted: list[int] = []
    real = GXWorker.submit

    def recorded(self, frame, items, *, name):
        submitted.append(len(frame))
        return real(self, frame, items, name=name)

    monkeypatch.setattr(GXWorker, "submit", recorded)
    ahead = run_audit(spec, gx_worker=worker)
    here = run_audit(spec)
    assert submitted == [streaming.SAMPLE_ROWS]
    assert ahead.document["data"]["streaming"]["rows"] == 2 * rows
    assert _document(ahead) == _document(here)


def test_a_log_that_does_not_stream_after_the_sample_is_validated_in_memory(tmp_path, worker):
    """A third class after the sample was handed over: the audit is read in memory,
    and validated there (the worker held the streamed sample), as without a worker."""
    rows = streaming.SAMPLE_ROWS + 5_000
    later = _log(2_000, 8, rows).assign(outcome=2, decision=2)
    spec = _folder(tmp_path, "multi", [_log(rows, 7), later])
    text = spec.read_text().split("checks:")[0]
    spec.write_text(text + "checks:\n  - {metric: accuracy, disparity: difference, max: 0.5}\n")
    result = run_audit(spec, gx_worker=worker)
    assert result.document["data"].get("streaming") is None  # read in memory
    assert result.document["errors"] == []
    assert result.document["data"]["rows"] == rows + 2_000
    assert result.document["data_validation"]["success"] is True
    assert _document(result) == _document(run_audit(spec))


def _silent_worker() -> GXWorker:
    """A worker whose child never reads its request (as one still importing GE would)."""
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(request_r, reply_w)
    )
    os.close(request_r)
    os.close(reply_w)
    output = open(os.devnull, "rb")  # noqa: SIM115  # closed by the worker's close()
    return GXWorker(process, os.fdopen(request_w, "wb"), os.fdopen(reply_r, "rb"), output, 60)


def test_submit_does_not_wait_for_the_child_and_a_dead_child_fails_closed(tmp_path):
    """A request larger than the pipe holds is written by the worker's own thread: submit
    returns while the child reads nothing. A child that ends without answering is an error
    for the audit (never results)."""
    spec = load_spec(_folder(tmp_path, "silent", [_log(500, 9)]))
    frame = _log(20_000, 10)
    items = suite_items(spec, list(frame.columns))
    worker = _silent_worker()
    try:
        started = time.perf_counter()
        worker.submit(frame, items, name="silent")
        assert time.perf_counter() - started < 10  # the child sleeps 60 s without reading
        with pytest.raises(ValidationWorkerError, match="one frame only"):
            worker.run_suite(frame.copy(), items, name="silent")  # another frame
        worker._process.kill()
        with pytest.raises(ValidationWorkerError, match="without a result"):
            worker.run_suite(frame, items, name="silent")
    finally:
        worker.close()


@pytest.mark.parametrize("valid", [True, False])
def test_counts_computed_ahead_keep_the_stage_order(tmp_path, monkeypatch, valid):
    """The count's metrics are computed before validation is collected, but its error is the
    audit's only once validation has passed: a log that fails validation stops at validate,
    whatever the count would have said."""
    from audits import _stream_pipeline

    rows = streaming.SAMPLE_ROWS
    bad = _log(rows, 12, rows)
    if not valid:
        bad.loc[5, "score"] = 1.5  # outside the declared range: validation stops the audit
    spec = _folder(tmp_path, f"order-{str(valid).lower()}", [_log(rows, 11), bad])

    def broken(*args, **kwargs):
        raise ValueError("the engine could not count")

    monkeypatch.setattr(_stream_pipeline, "metrics_from_counts", broken)
    errors = run_audit(spec).document["errors"]
    assert [e["stage"] for e in errors] == (["count"] if valid else ["validate"])
    if valid:
        assert errors[0]["message"] == "the engine could not count"
