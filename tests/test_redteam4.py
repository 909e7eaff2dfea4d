"""Red team 4: attacks on the streamed pipeline (validation ahead, second score pass, cells,
ids) and the engine's quantiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import run_audit
from audits._stream_values import UniqueIds

SPEC = """spec_version: 1
name: rt4-{name}
model: {{kind: predictions, column: decision}}
data:
  path: {path}
  label: outcome
  positive_label: 1
  sensitive: [grp]
{extra}checks:
  - {{metric: selection_rate, disparity: ratio, min: 0.5}}
"""


def _nan_groups(rows: int) -> pa.Table:
    """A float group column holding NaN (not Arrow nulls), as pyarrow writes numpy's NaN."""
    rng = np.random.default_rng(4)
    return pa.table(
        {
            "grp": pa.array(rng.choice([1.0, 2.0, np.nan], rows), from_pandas=False),
            "outcome": (rng.random(rows) < 0.4).astype(int),
            "decision": (rng.random(rows) < 0.5).astype(int),
        }
    )


def _spec(tmp_path: Path, name: str, path: Path, extra: str = "") -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, path=path, extra=extra))
    return spec


def test_a_streamed_nan_group_is_a_missing_value_as_in_memory(tmp_path):
    # NaN in a float group column: in memory pandas reads it as missing (a not-null failure);
    # the stream counted it as a group of its own ('grp=nan', one per batch) and no missing
    # value, and the every-row count replaced the sample's failure: the audit passed.
    table = _nan_groups(40_000)
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(table, folder / "0.parquet")
    pq.write_table(table, tmp_path / "small.parquet")
    streamed = run_audit(_spec(tmp_path, "stream", folder)).document
    memory = run_audit(_spec(tmp_path, "memory", tmp_path / "small.parquet")).document
    assert streamed["data"]["streaming"]["rows"] == 40_000
    assert memory["verdict"] == streamed["verdict"] == "error"
    assert [e["stage"] for e in streamed["errors"]] == ["validate"]
    assert "not_be_null(grp)" in streamed["errors"][0]["message"]
    unknown = "  missing_sensitive: unknown\n"
    streamed = run_audit(_spec(tmp_path, "stream-u", folder, unknown)).document
    memory = run_audit(_spec(tmp_path, "memory-u", tmp_path / "small.parquet", unknown)).document
    assert "grp=unknown" in streamed["groups"] and "grp=nan" not in streamed["groups"]
    assert streamed["groups"] == memory["groups"]
    assert streamed["verdict"] == memory["verdict"]


def test_ids_spanning_too_much_in_the_first_batch_are_checked_on_the_sample(tmp_path):
    # The span bound held only when a later batch widened it: a first batch whose ids spanned
    # 2^62 allocated one byte per id (MemoryError: the audit ended at read, exit 2).
    ids = UniqueIds()
    ids.add(np.array([0, 1 << 62, 5], dtype=np.int64))
    assert not ids.checked and ids.seen is None and "span more than" in ids.reason
    table = _nan_groups(30_000)
    table = table.set_column(0, "grp", pa.array(np.tile(["a", "b"], 15_000)))
    numbers = np.arange(30_000, dtype=np.int64)
    numbers[7] = 1 << 62
    table = table.append_column("id", pa.array(numbers))
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(table, folder / "0.parquet")
    pq.write_table(table, tmp_path / "small.parquet")
    extra = "  id_column: id\n"
    streamed = run_audit(_spec(tmp_path, "stream", folder, extra)).document
    memory = run_audit(_spec(tmp_path, "memory", tmp_path / "small.parquet", extra)).document
    assert streamed["data"]["streaming"]["rows"] == 30_000
    assert streamed["errors"] == [] and streamed["verdict"] == memory["verdict"] == "pass"
    unique = [r for r in streamed["data_validation"]["results"] if r["kind"] == "unique_id"]
    assert "span more than" in unique[0]["rows_checked"] and unique[0]["success"]


def test_a_log_rewritten_between_the_two_passes_is_refused(tmp_path):
    # Levels first seen late make a second pass sum the score histograms; a file rewritten
    # in between (same groups and labels, other scores) gave histograms of other data than
    # the count table's, and the audit judged them together.
    from audits import _streaming as streaming
    from audits import load_spec

    rng = np.random.default_rng(5)
    regions = [f"r{i:03d}" for i in range(150)]
    folder = tmp_path / "log"
    folder.mkdir()
    parts = []
    for i, rows in enumerate((25_000, 12_000)):
        part = pa.table(
            {
                "region": rng.choice(regions[:1] if i == 0 else regions, rows),
                "outcome": (rng.random(rows) < 0.4).astype(int),
                "decision": (rng.random(rows) < 0.5).astype(int),
                "score": rng.random(rows),
            }
        )
        pq.write_table(part, folder / f"{i}.parquet")
        parts.append(part)
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(
        f"spec_version: 1\nname: rt4-passes\n"
        "model: {kind: predictions, column: decision, score_column: score}\n"
        f"data: {{path: {folder}, label: outcome, positive_label: 1, sensitive: [region]}}\n"
        "checks:\n  - {metric: roc_auc, disparity: difference, max: 0.2}\n"
    )
    spec = load_spec(spec_path)
    assert streaming.stream_log(spec, show=False).passes == 2  # the layout needs two

    def rewrite(_sample):  # the first file, already read, replaced by other scores
        other = parts[0].set_column(3, "score", pa.array(1.0 - parts[0]["score"].to_numpy()))
        pq.write_table(other, tmp_path / "new.parquet")
        (tmp_path / "new.parquet").replace(folder / "0.parquet")

    with pytest.raises(ValueError, match="changed while it was read"):
        streaming.stream_log(spec, show=False, on_sample=rewrite)


def test_narrow_dictionary_indices_with_missing_values_stream(tmp_path):
    # A group column stored with int8 dictionary indices (as pyarrow writes them) whose
    # dictionary holds 128 values: the missing values' entry, index 128, did not fit int8 and
    # the streamed audit stopped at read ("cannot be read", exit 2).
    rows = 30_000
    rng = np.random.default_rng(6)
    picks = rng.choice(np.array([0, 127, -1], dtype=np.int8), rows)
    groups = pa.DictionaryArray.from_arrays(
        pa.array(picks, mask=picks < 0), pa.array([f"v{i:03d}" for i in range(128)])
    )
    table = _nan_groups(rows).set_column(0, "grp", groups)
    assert table["grp"].type.index_type == pa.int8()
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(table, folder / "0.parquet")
    document = run_audit(_spec(tmp_path, "s", folder, "  missing_sensitive: unknown\n")).document
    assert document["errors"] == []
    sizes = {k: v["n"] for k, v in document["groups"].items()}
    assert sizes == {
        "grp=unknown": int((picks < 0).sum()),
        "grp=v000": int((picks == 0).sum()),
        "grp=v127": int((picks == 127).sum()),
    }


def test_a_folder_whose_first_file_is_empty_streams(tmp_path):
    # pandas writes an empty text column as Arrow's null type; pyarrow took the folder's
    # schema from that first file and could not cast the next files' values to it: the
    # audit of a valid log stopped at read (exit 2).
    import pandas as pd

    folder = tmp_path / "log"
    folder.mkdir()
    empty = {"grp": pd.Series([], dtype=object), "outcome": [], "decision": []}
    pd.DataFrame(empty).astype({"outcome": int, "decision": int}).to_parquet(
        folder / "0.parquet", index=False
    )
    table = _nan_groups(30_000).set_column(0, "grp", pa.array(np.tile(["a", "b"], 15_000)))
    pq.write_table(table, folder / "1.parquet")
    assert pq.read_schema(folder / "0.parquet").field("grp").type == pa.null()
    document = run_audit(_spec(tmp_path, "s", folder)).document
    assert document["errors"] == [] and document["data"]["streaming"]["files"] == 2
    assert {k: v["n"] for k, v in document["groups"].items()} == {
        "grp=a": 15_000,
        "grp=b": 15_000,
    }


def test_an_interruption_without_a_message_names_itself():
    # SIGINT raises a bare KeyboardInterrupt: the record read "the audit was interrupted ()"
    # (an exception is always true, so its empty text was kept).
    from audits._interrupt import Interrupted
    from audits._stages import _StageError

    record = _StageError("read", KeyboardInterrupt()).record
    assert record["message"] == "the audit was interrupted (KeyboardInterrupt)"
    record = _StageError("read", Interrupted(15)).record
    assert record["message"] == "the audit was interrupted (received SIGTERM)"


def test_ctrl_c_once_the_outcome_is_settled_does_not_cut_its_publishing():
    """Ctrl-C raised a KeyboardInterrupt anywhere, even while the decided outcome was being
    published or what MLflow was told retracted; it now ends the audit as SIGTERM does, and
    is ignored once the outcome is settled."""
    import os
    import signal

    from audits._interrupt import Interrupted, signals_as_interrupts

    before = signal.getsignal(signal.SIGINT)  # Python's, or one a Spark session installed
    with pytest.raises(Interrupted, match="SIGINT"), signals_as_interrupts():
        os.kill(os.getpid(), signal.SIGINT)  # its handler runs before the next line
    with signals_as_interrupts() as guard:
        guard.settle()
        os.kill(os.getpid(), signal.SIGINT)  # delivered here, and ignored
        sum(range(1000))
    assert signal.getsignal(signal.SIGINT) is before  # restored
