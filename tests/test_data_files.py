"""What a data folder's readers read and what its digest covers (audits/_data_files.py): one
rule for the in-memory, streamed and monitored reads and the digest; NaN in a dictionary of
floats; data changed while they are audited."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import run_audit
from audits._data_files import changes, snapshot
from audits._monitor_log import MonitorDataError, read_log
from audits._reading import float_groups_decoded
from audits._stream_values import Levels, level_order, nan_as_missing

from .test_redteam4 import SPEC  # a one-attribute decision log spec, {extra} in data

#: A cluster column makes the audit read the folder in memory (it is not streamed).
IN_MEMORY = "  cluster_column: id\n"


def _log(rows: int, seed: int = 4) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(rows),
            "grp": rng.choice(["a", "b"], rows),
            "outcome": (rng.random(rows) < 0.4).astype(int),
            "decision": (rng.random(rows) < 0.5).astype(int),
        }
    )


def _audit(tmp_path: Path, name: str, path: Path, extra: str = "") -> dict:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, path=path, extra=extra))
    return run_audit(spec).document


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A log folder of one Parquet file of 3,000 rows."""
    log = tmp_path / "log"
    log.mkdir()
    pq.write_table(_log(3_000), log / "a.parquet")
    return log


@pytest.mark.parametrize("engine", ["stream", "memory"])
def test_a_symlink_in_a_folder_is_refused_not_counted_twice(tmp_path, folder, engine):
    # b.parquet -> a.parquet: pyarrow read both, 6,000 rows of which 3,000 twice (exit 0).
    (folder / "b.parquet").symlink_to(folder / "a.parquet")
    doc = _audit(tmp_path, engine, folder, IN_MEMORY if engine == "memory" else "")
    assert doc["verdict"] == "error" and doc["exit_code"] == 2
    assert doc["errors"][0]["stage"] == "read"
    message = doc["errors"][0]["message"]
    assert "b.parquet" in message and "symbolic link" in message and "twice" in message
    prov = doc["provenance"]
    assert prov["data_sha256"] is None and "symbolic link" in prov["data_sha256_covers"]


def test_a_symlinked_subfolder_and_a_hard_link_are_refused(tmp_path, folder):
    outside = tmp_path / "outside"
    outside.mkdir()
    pq.write_table(_log(100, seed=5), outside / "c.parquet")
    (folder / "region=x").symlink_to(outside, target_is_directory=True)
    doc = _audit(tmp_path, "subfolder", folder)
    assert doc["exit_code"] == 2 and "symbolic link" in doc["errors"][0]["message"]
    (folder / "region=x").unlink()
    os.link(folder / "a.parquet", folder / "copy.parquet")
    doc = _audit(tmp_path, "hardlink", folder)
    assert doc["exit_code"] == 2
    assert "a second name (a hard link)" in doc["errors"][0]["message"]


@pytest.mark.parametrize("engine", ["stream", "memory"])
def test_hidden_files_are_neither_read_nor_hashed(tmp_path, folder, engine):
    # pyarrow skips names starting with '.' or '_'; the digest covered them as if audited.
    pq.write_table(_log(500, seed=9), folder / ".x.parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    doc = _audit(tmp_path, engine, folder, IN_MEMORY if engine == "memory" else "")
    assert doc["exit_code"] in (0, 1) and doc["data"]["rows"] == 3_000
    assert (doc["data"]["streaming"] is None) is (engine == "memory")
    line = f"a.parquet\t{hashlib.sha256((folder / 'a.parquet').read_bytes()).hexdigest()}\n"
    only_read = hashlib.sha256(b"folder\n" + line.encode()).hexdigest()
    assert doc["provenance"]["data_sha256"] == only_read
    covers = doc["provenance"]["data_sha256_covers"]
    assert "the folder's 1 files that were read" in covers and "2 hidden name(s)" in covers


def test_a_monitored_folder_skips_hidden_files_and_refuses_links(tmp_path, folder):
    pq.write_table(_log(500, seed=9), folder / ".x.parquet")
    frame, files = read_log(str(folder))
    assert len(frame) == 3_000 and [f.name for f in files] == ["a.parquet"]
    (folder / "b.parquet").symlink_to(folder / "a.parquet")
    with pytest.raises(MonitorDataError, match="symbolic link"):
        read_log(str(folder))
    with pytest.raises(MonitorDataError, match="symbolic link"):
        read_log(str(folder / "*.parquet"))


def _dictionary_nan(rows: int, seed: int = 7) -> pa.Table:
    """A sensitive column stored as a dictionary of doubles, one of them NaN."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 3, rows).astype(np.int32)
    grp = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array([1.0, 2.0, np.nan]))
    return pa.table(
        {
            "grp": grp,
            "outcome": (rng.random(rows) < 0.4).astype(int),
            "decision": (rng.random(rows) < 0.5).astype(int),
        }
    )


def test_nan_in_a_dictionary_of_floats_is_a_missing_value():
    # Arrow counts the dictionary's NaN as a value: the rows pointing at it were no missing
    # values but a group (one per batch), and pandas cannot make NaN a category.
    table = _dictionary_nan(1_000)
    column = table.column("grp").chunk(0)
    nans = int(np.count_nonzero(np.asarray(column.indices) == 2))
    assert nans > 0 and column.null_count == 0
    missing = nan_as_missing(column)
    assert missing.null_count == nans
    table_codes, indices = Levels(None).mapping(missing)
    assert int(np.count_nonzero(table_codes[np.asarray(indices.fill_null(-1))] < 0)) == nans
    filled = Levels("unknown")
    table_codes, indices = filled.mapping(missing)
    assert filled.values == [1.0, 2.0, "unknown"]
    frame = float_groups_decoded(table).to_pandas()  # the in-memory reader's conversion
    assert int(frame["grp"].isna().sum()) == nans


@pytest.mark.parametrize("extra", ["", "  missing_sensitive: unknown\n"])
def test_a_dictionary_of_floats_file_streams_as_it_reads_in_memory(tmp_path, extra):
    # Parquet keeps no dictionary type for doubles (pyarrow reads the column back as
    # doubles): both engines must then agree on the NaN rows, as missing values.
    table = _dictionary_nan(3_000)
    pq.write_table(table, tmp_path / "log.parquet")
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(table, folder / "0.parquet")
    memory = _audit(tmp_path, "memory", tmp_path / "log.parquet", extra)
    streamed = _audit(tmp_path, "stream", folder, extra)
    assert streamed["data"]["streaming"]["rows"] == 3_000
    assert streamed["exit_code"] == memory["exit_code"]
    assert streamed["groups"] == memory["groups"]
    if extra:
        assert "grp=unknown" in memory["groups"] and memory["exit_code"] in (0, 1)
    else:
        assert memory["exit_code"] == 2 and "not_be_null(grp)" in memory["errors"][0]["message"]
    assert all("grp=nan" not in g for g in memory["groups"])


def test_mixed_levels_are_ordered_as_pandas_orders_them():
    # sorted by their text, 10.0 came before 9.0 (the stream and Spark, not in memory)
    values = [10.0, "unknown", 9.0, 9.5]
    assert [values[i] for i in level_order(values)] == [9.0, 9.5, 10.0, "unknown"]


def test_number_groups_with_unknown_stream_as_in_memory(tmp_path):
    # float groups from 10.0 on (text order is not number order) and an integer column with
    # missing values (pandas reads it as floats: 'band=1.0', the stream had 'band=1')
    rng = np.random.default_rng(11)
    rows = 3_000
    band = rng.choice([1, 2], rows).astype(object)
    band[rng.random(rows) < 0.2] = None
    table = pa.table(
        {
            "grp": pa.array(rng.choice([9.0, 10.0, np.nan], rows), from_pandas=False),
            "band": pa.array(list(band), pa.int64()),
            "outcome": (rng.random(rows) < 0.4).astype(int),
            "decision": (rng.random(rows) < 0.5).astype(int),
        }
    )
    pq.write_table(table, tmp_path / "log.parquet")
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(table, folder / "0.parquet")
    spec = SPEC.replace("sensitive: [grp]", "sensitive: [grp, band]")
    docs = {}
    for name, path in (("memory", tmp_path / "log.parquet"), ("stream", folder)):
        (tmp_path / f"{name}.yaml").write_text(
            spec.format(name=name, path=path, extra="  missing_sensitive: unknown\n")
        )
        docs[name] = run_audit(tmp_path / f"{name}.yaml").document
    memory, streamed = docs["memory"], docs["stream"]
    assert streamed["data"]["streaming"]["rows"] == 3_000
    single = [k for k in memory["groups"] if "|" not in k]
    assert single == ["grp=9.0", "grp=10.0", "grp=unknown", "band=1.0", "band=2.0", "band=unknown"]
    assert list(streamed["groups"]) == list(memory["groups"])
    assert streamed["groups"] == memory["groups"]
    assert [c["ci"] for c in streamed["checks"]] == [c["ci"] for c in memory["checks"]]


REWRITER = '''
from pathlib import Path


def predict(frame):
    """Decide, and rewrite the data file the audit has read (a log still being written)."""
    path = Path(__file__).parent / "log.csv"
    path.write_text(path.read_text().replace(",a,", ",b,", 1))
    return (frame["x"] > 0.5).astype(int).to_numpy()
'''


def test_data_changed_while_audited_is_refused_without_a_digest(tmp_path):
    # The digest is hashed in a thread after the read: a file rewritten meanwhile was hashed
    # with its new content, and the evidence named data that were not audited.
    rng = np.random.default_rng(3)
    rows = 400
    lines = ["id,grp,x,outcome"] + [
        f"{i},{'a' if i % 2 else 'b'},{rng.random():.4f},{int(rng.random() < 0.5)}"
        for i in range(rows)
    ]
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "fd25_rewriter.py").write_text(REWRITER)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""spec_version: 1
name: changed
model: {{kind: python, uri: "fd25_rewriter:predict"}}
data:
  path: {tmp_path / "log.csv"}
  label: outcome
  positive_label: 1
  sensitive: [grp]
  exclude: [id]
checks:
  - {{metric: selection_rate, disparity: ratio, min: 0.5}}
"""
    )
    doc = run_audit(spec).document
    assert doc["verdict"] == "error" and doc["exit_code"] == 2
    assert [e["stage"] for e in doc["errors"]] == ["digest"]
    assert "changed while it was audited" in doc["errors"][0]["message"]
    assert doc["provenance"]["data_sha256"] is None
    assert "changed while it was audited" in doc["provenance"]["data_sha256_covers"]


def test_a_rewrite_of_the_same_size_is_seen(tmp_path, folder):
    before = snapshot(folder)
    assert changes(before) is None
    data = (folder / "a.parquet").read_bytes()
    (folder / "a.parquet").write_bytes(data)  # same bytes, written again: a new mtime
    os.utime(folder / "a.parquet", ns=(1, 1))
    assert "a.parquet" in (changes(before) or "")
    before = snapshot(folder)
    pq.write_table(_log(10), folder / "b.parquet")
    assert "b.parquet" in (changes(before) or "")
