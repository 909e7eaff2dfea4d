"""Streaming count tables: a decision log as several Parquet files or a hive-partitioned dataset
gives the same audit as the same rows in one file read in memory (CSV)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import _streaming as streaming
from audits import run_audit

ROWS = 48_000  # every intersection group > 5,000 rows: the calibration bootstrap is the same
EXACT = 1e-12
SPEC = """spec_version: 1
name: streaming-{name}
n_boot: 1000
model: {{kind: predictions, column: decision, score_column: score}}
data:
  path: {path}
  label: outcome
  positive_label: 1
  sensitive: [sex, region]
  label_values: [0, 1]
  id_column: id
  ranges: {{score: [0, 1]}}
checks:
  - {{metric: selection_rate, disparity: ratio, min: 0.8}}
  - {{metric: false_negative_rate, disparity: difference, max: 0.1}}
  - {{metric: equalized_odds, disparity: difference, max: 0.1, decide_on: estimate}}
  - {{metric: roc_auc, disparity: difference, max: 0.05}}
  - {{metric: brier_score, disparity: difference, max: 0.02}}
  - {{metric: mean_score, disparity: difference, max: 0.05}}
  - {{metric: calibration_error, disparity: difference, max: 0.05}}
  - {{metric: scoring_rate, disparity: ratio, min: 0.8}}
"""


def _log(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": rng.permutation(ROWS),
            "sex": rng.choice(["female", "male"], ROWS),
            "region": rng.choice(["east", "north", "south"], ROWS),
        }
    )
    frame["outcome"] = (rng.random(ROWS) < 0.4).astype(int)
    shift = 0.06 * (frame.region == "east")
    frame["score"] = np.clip(rng.normal(0.4 + 0.2 * frame.outcome - shift, 0.2), 0, 1)
    frame["decision"] = (frame.score > 0.5).astype(int)
    return frame


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("streaming")
    frame = _log()
    frame.to_csv(folder / "one.csv", index=False)
    frame.to_parquet(folder / "one.parquet", index=False)
    parts = folder / "files"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(ROWS), 5)):  # uneven files
        frame.iloc[chunk].to_parquet(parts / f"part-{i}.parquet", index=False)
    hive = folder / "hive"
    pq.write_to_dataset(pa.Table.from_pandas(frame), hive, partition_cols=["region"])
    return {"one": folder / "one.csv", "file": folder / "one.parquet", "files": parts, "hive": hive}


def _audit(path: Path, name: str, tmp: Path):
    spec = tmp / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, path=path))
    return run_audit(spec)


def _close(a, b, tol) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=0, abs_tol=tol)


@pytest.fixture(scope="module")
def audits(logs, tmp_path_factory):
    """One audit per layout; the one file is streamed too (its 48,000 rows are under the
    threshold above which a single file streams, lowered here to 0)."""
    tmp = tmp_path_factory.mktemp("specs")
    out = {name: _audit(path, name, tmp) for name, path in logs.items() if name != "file"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streaming, "STREAM_ROWS", 0)
        out["file"] = _audit(logs["file"], "file", tmp)
    with pytest.MonkeyPatch.context() as patch:  # the compiled kernel, as for 20M+ rows
        patch.setattr(streaming, "KERNEL_ROWS", 0)
        out["kernel"] = _audit(logs["files"], "kernel", tmp)
    return out


def test_small_file_read_in_memory_folder_streamed(logs, tmp_path):
    from audits import load_spec

    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(name="s", path=logs["file"]))
    assert not streaming.streamable(load_spec(spec))  # 48,000 rows: exact, in memory
    assert streaming.streamable(load_spec(spec), above=ROWS - 1)
    spec.write_text(SPEC.format(name="s", path=logs["files"]))
    assert streaming.streamable(load_spec(spec))


@pytest.mark.parametrize("layout", ["file", "files", "hive", "kernel"])
def test_streamed_audit_equals_in_memory(audits, layout):
    memory, streamed = audits["one"], audits[layout]
    assert memory.document["data"].get("streaming") is None  # CSV: read in memory
    info = streamed.document["data"]["streaming"]
    assert info["rows"] == ROWS and info["score_bins"] == 2**16
    assert info["files"] == {"file": 1, "files": 5, "hive": 3, "kernel": 5}[layout]
    assert info["score_engine"] == ("numba" if layout == "kernel" else "numpy")
    assert streamed.document["data"]["rows"] == ROWS
    assert 0 < info["score_error_bounds"]["roc_auc"] <= 1e-4  # the binned AUC's stated error
    assert streamed.document["run"]["seconds"]["stream"] > 0  # varies: in the run block
    assert "stream" not in memory.document["run"]["seconds"]
    # Every count of every group, and every group rate with its interval.
    assert streamed.document["groups"] == memory.document["groups"]
    a, b = memory.metrics.by_group, streamed.metrics.by_group
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=EXACT)
    assert streamed.document["verdict"] == memory.document["verdict"]
    for ca, cb in zip(memory.document["checks"], streamed.document["checks"], strict=True):
        assert (ca["name"], ca["status"]) == (cb["name"], cb["status"])
        score = ca["type"] == "score_metric"
        approximate = score and ca["metric"] in ("roc_auc", "scoring_rate")
        tol = 2e-4 if approximate else EXACT
        assert _close(ca["value"], cb["value"], tol), (ca["name"], ca["value"], cb["value"])
        for x, y in zip(ca["ci"], cb["ci"], strict=True):
            assert _close(x, y, 5e-4 if approximate else EXACT), (ca["name"], ca["ci"], cb["ci"])
        for group, ga in ca["by_group"].items():
            gb = cb["by_group"][group]
            exact_keys = {"n", "numerator", "denominator", "positives", "negatives", "status"}
            assert {k: ga[k] for k in exact_keys & set(ga)} == {
                k: gb[k] for k in exact_keys & set(gb)
            }
            assert _close(ga["value"], gb["value"], tol)


def test_streamed_score_table_within_stated_error(audits):
    """Exact score metrics to 1e-12; the binned ones within their stated error bound."""
    key = ["view", "group", "metric"]
    a = audits["one"].metrics.scores.set_index(key).sort_index()
    b = audits["hive"].metrics.scores.set_index(key).sort_index()
    assert list(a.index) == list(b.index)
    exact = ~b.index.get_level_values("metric").isin(["roc_auc", "scoring_rate"])
    for column in ("value", "ci_low", "ci_high", "se", "bias"):
        assert np.allclose(a[column][exact], b[column][exact], rtol=0, atol=EXACT), column
    assert (b.error[exact] == 0).all()
    binned = b[~exact]
    gap = (a.value[~exact] - binned.value).abs()
    assert (gap <= binned.error + EXACT).all()
    auc = binned.xs("roc_auc", level="metric")
    assert (auc.error <= 1e-4).all() and (auc.error > 0).all()
    # The stated error widens the interval: it still holds the exact value's interval centre.
    assert (binned.ci_low <= a.value[~exact]).all() and (binned.ci_high >= a.value[~exact]).all()


def test_streaming_keeps_validation_honest(audits):
    validation = audits["files"].document["data_validation"]
    assert validation["rows"] == ROWS and validation["great_expectations_rows"] <= 100_000
    checked = {r["kind"]: r["rows_checked"] for r in validation["results"]}
    for kind in ("label_values", "decision_values", "sensitive_missing", "ranges", "unique_id"):
        assert checked[kind] == "every row"
    assert checked["columns"].startswith("the first")


def test_streaming_refuses_what_memory_refuses(logs, tmp_path):
    """A duplicated id, a score outside [0, 1] and a missing group value in a later file stop
    the streamed audit (a sample of the first rows would have passed them)."""
    frame = _log(seed=1)
    folder = tmp_path / "bad"
    folder.mkdir()
    frame.iloc[:30_000].to_parquet(folder / "a.parquet", index=False)
    late = frame.iloc[30_000:].copy()
    late.loc[late.index[-1], "id"] = int(frame.id.iloc[0])
    late.to_parquet(folder / "b.parquet", index=False)
    result = _audit(folder, "dup", tmp_path)
    assert result.document["verdict"] == "error"
    assert "expect_column_values_to_be_unique(id)" in result.document["errors"][0]["message"]
    unique = next(
        r for r in result.document["data_validation"]["results"] if r["kind"] == "unique_id"
    )
    # both rows of the repeated id, as Great Expectations counts them in memory
    assert unique["unexpected_count"] == 2 and unique["rows_checked"] == "every row"

    late = frame.iloc[30_000:].copy()
    late["score"] = late.score.astype(float)
    late.loc[late.index[-1], "score"] = 1.5
    late.to_parquet(folder / "b.parquet", index=False)
    result = _audit(folder, "range", tmp_path)
    assert result.document["verdict"] == "error"
    assert "expect_column_values_to_be_between(score)" in result.document["errors"][0]["message"]

    late = frame.iloc[30_000:].copy()
    late["sex"] = late.sex.astype(object)
    late.loc[late.index[-1], "sex"] = None
    late.to_parquet(folder / "b.parquet", index=False)
    result = _audit(folder, "missing", tmp_path)
    assert result.document["verdict"] == "error"
    assert "expect_column_values_to_not_be_null(sex)" in result.document["errors"][0]["message"]


def test_provenance_hashes_the_folder(audits, logs, tmp_path):
    prov = audits["files"].document["provenance"]
    assert "5 files" in json.dumps(prov)
    assert len(prov["data_sha256"]) == 64


def test_levels_first_seen_in_later_files_keep_their_groups(tmp_path):
    """A level missing from the first file, and one only the last file has: the streamed
    groups, counts and verdict equal the in-memory ones of the same rows."""
    frame = _log(seed=2).iloc[:30_000].reset_index(drop=True)
    frame.loc[20_000:, "region"] = np.where(frame.index[20_000:] % 2, "west", "east")
    frame.loc[:9_999, "region"] = frame.region[:10_000].replace("east", "north")
    folder = tmp_path / "levels"
    folder.mkdir()
    for i in range(3):
        frame.iloc[i * 10_000 : (i + 1) * 10_000].to_parquet(folder / f"{i}.parquet", index=False)
    frame.to_csv(tmp_path / "levels.csv", index=False)
    streamed = _audit(folder, "levels-stream", tmp_path)
    memory = _audit(tmp_path / "levels.csv", "levels-memory", tmp_path)
    assert streamed.document["data"]["streaming"]["files"] == 3
    assert streamed.document["groups"] == memory.document["groups"]
    assert "region=west" in streamed.document["groups"]
    assert streamed.document["verdict"] == memory.document["verdict"]
    statuses = [c["status"] for c in streamed.document["checks"]]
    assert statuses == [c["status"] for c in memory.document["checks"]]


def test_empty_and_multiclass_folders(tmp_path):
    """A folder without rows is refused (exit 2); a multiclass log is read in memory."""
    frame = _log(seed=3).iloc[:2_000]
    empty = tmp_path / "empty"
    empty.mkdir()
    frame.iloc[:0].to_parquet(empty / "0.parquet", index=False)
    result = _audit(empty, "empty", tmp_path)
    assert result.document["verdict"] == "error"
    assert "no rows" in result.document["errors"][0]["message"]
    multi = tmp_path / "multi"
    multi.mkdir()
    frame = frame.assign(outcome=frame.outcome + (frame.score > 0.8), decision=frame.decision)
    frame.to_parquet(multi / "0.parquet", index=False)
    spec = tmp_path / "multi.yaml"
    text = SPEC.format(name="multi", path=multi).replace("label_values: [0, 1]", "")
    spec.write_text(
        text.split("checks:")[0]
        + "checks:\n  - {metric: accuracy, disparity: difference, max: 0.5}\n"
    )
    result = run_audit(spec)
    assert result.document["data"].get("streaming") is None  # read in memory
    assert result.document["verdict"] in ("pass", "fail", "inconclusive", "insufficient_evidence")


def test_streamed_results_reproducible(audits, logs, tmp_path):
    """The same streamed audit twice: the same document up to its run block."""
    again = _audit(logs["hive"], "hive", tmp_path)
    first = {k: v for k, v in audits["hive"].document.items() if k not in ("run", "spec")}
    second = {k: v for k, v in again.document.items() if k not in ("run", "spec")}
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_without_numba_the_stream_sums_with_numpy(audits, logs, tmp_path, monkeypatch):
    """Where numba cannot run (not installed, nowhere to cache its machine code) a log above
    the kernel's threshold is summed by numpy: the same audit, and the record says so."""
    import metrics

    monkeypatch.setitem(sys.modules, "numba", None)  # import numba: ImportError
    monkeypatch.delitem(sys.modules, "metrics._histogram_kernel", raising=False)
    monkeypatch.delattr(metrics, "_histogram_kernel", raising=False)
    monkeypatch.setattr(streaming, "KERNEL_ROWS", 0)
    assert not metrics.compiled_kernel()
    result = _audit(logs["files"], "no-numba", tmp_path)
    assert result.document["data"]["streaming"]["score_engine"] == "numpy"
    assert result.document["groups"] == audits["kernel"].document["groups"]
    pd.testing.assert_frame_equal(result.metrics.scores, audits["kernel"].metrics.scores)
