"""Red team 6: inputs today's data-folder, histogram-kernel and disclosure changes were not
written for (each test failed before its fix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import run_audit

SPEC = """spec_version: 1
name: rt6-{name}
model: {{kind: predictions, column: decision}}
data:
  path: {path}
  label: outcome
  positive_label: 1
  sensitive: [grp]
{extra}checks:
  - {{metric: selection_rate, disparity: ratio, min: 0.5}}
"""
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


@pytest.mark.parametrize("extra", ["", IN_MEMORY], ids=["streamed", "in memory"])
def test_a_folder_named_like_a_parquet_file_is_read_in_memory_as_streamed(tmp_path, extra):
    """Spark writes its output as a folder named 'x.parquet': the in-memory read opened it
    as one file ('is a directory', exit 2) while the streamed read audited it."""
    folder = tmp_path / "out.parquet"
    folder.mkdir()
    pq.write_table(_log(3_000), folder / "part-0.parquet")
    pq.write_table(_log(2_000, seed=5), folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")
    doc = _audit(tmp_path, "spark-out", folder, extra)
    assert doc["verdict"] in ("pass", "fail"), doc.get("errors")
    assert "2 files that were read" in doc["provenance"]["data_sha256_covers"]
