"""Red team 4, Spark engine: NaN in a float group column is a missing value there too."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import run_audit

pytestmark = pytest.mark.spark

SPEC = """spec_version: 1
name: rt4-spark-{name}
model: {{kind: predictions, column: decision}}
data:
  path: {path}
  label: outcome
  positive_label: 1
  sensitive: [grp]
{extra}checks:
  - {{metric: selection_rate, disparity: ratio, min: 0.5}}
"""


def test_a_spark_nan_group_is_a_missing_value_as_in_memory(tmp_path):
    # Spark reads a Parquet NaN as a value, not null: the not-null expectation passed and the
    # NaN rows were judged as a group 'grp=nan' (with a wrong count) where the local engine
    # stops at validate.
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the Spark tests need a Java runtime")
    rng = np.random.default_rng(7)
    rows = 3_000
    table = pa.table(
        {
            "grp": pa.array(rng.choice([1.0, 2.0, np.nan], rows), from_pandas=False),
            "outcome": (rng.random(rows) < 0.4).astype(int),
            "decision": (rng.random(rows) < 0.5).astype(int),
        }
    )
    pq.write_table(table, tmp_path / "log.parquet")
    documents = {}
    for name, extra in (
        ("local", ""),
        ("spark", "  engine: spark\n"),
        ("local-u", "  missing_sensitive: unknown\n"),
        ("spark-u", "  missing_sensitive: unknown\n  engine: spark\n"),
    ):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(SPEC.format(name=name, path=tmp_path / "log.parquet", extra=extra))
        documents[name] = run_audit(spec).document
    assert documents["local"]["verdict"] == documents["spark"]["verdict"] == "error"
    assert "not_be_null(grp)" in documents["spark"]["errors"][0]["message"]
    # With missing_sensitive: unknown the local engine judges them as 'grp=unknown'; Spark
    # refuses a float column's missing values (its fillna fills text columns only): never
    # a 'grp=nan' group.
    assert "grp=unknown" in documents["local-u"]["groups"]
    assert all("grp=nan" not in d["groups"] for d in documents.values())
    assert documents["spark-u"]["verdict"] in ("error", documents["local-u"]["verdict"])
