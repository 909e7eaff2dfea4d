"""The Spark engine (``data.engine: spark``) gives the local engine's results on the same data.

Spark runs in ``local[2]`` (one session for this module). Every count, value and interval of
the results document must equal the local engine's to 1e-12, with the same verdict. Without
pyspark or Java these tests are skipped on a developer's machine and fail in CI (``CI`` set):
CI installs both (``.ci/setup``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import SpecError
from audits._runner import run_audit
from audits._spec import load_spec, parse_spec

from .conftest import ROOT, SPECS
from .test_redteam4 import SPEC as _RT4_SPEC  # a one-attribute decision log spec

pytestmark = pytest.mark.spark

_RUN_ONLY = ("run", "spec")  # what differs between two runs of the same audit


def _need_spark() -> None:
    missing = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("a Java runtime")
    if missing:
        reason = f"the Spark tests need {' and '.join(missing)} (bash .ci/setup installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """One quiet local[2] session for the module (small shuffles, no UI, loopback only)."""
    _need_spark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse = tmp_path_factory.mktemp("warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("fairgate-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _on_spark(spec, **data: Any):
    content = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    content["data"] = {**content["data"], "engine": "spark", **data}
    return parse_spec(content)


def _same(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two documents differ (floats to 1e-12)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _same(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} != {len(b)} items"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _same(x, y, f"{where}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        return [] if math.isclose(a, b, rel_tol=0, abs_tol=1e-12) else [f"{where}: {a} != {b}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _comparable(doc: dict[str, Any], *, drop_path: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in _RUN_ONLY}
    data = {k: v for k, v in doc["data"].items() if k != "engine"}
    if drop_path:  # a catalog table against the file it was written from
        data.pop("path")
        out["provenance"] = {k: v for k, v in doc["provenance"].items() if "data" not in k}
    out["data"] = data
    # a file edited while the test runs makes one checkout "dirty": not the engine's doing
    out["provenance"] = {k: v for k, v in out["provenance"].items() if k != "git_dirty"}
    return out


def _assert_same(local: dict[str, Any], spark: dict[str, Any], **kwargs: Any) -> None:
    differences = _same(_comparable(local, **kwargs), _comparable(spark, **kwargs))
    assert not differences, differences[:10]
    assert spark["verdict"] == local["verdict"] and spark["exit_code"] == local["exit_code"]


def test_credit_reference_audit_on_spark_equals_the_local_engine(spark, in_repo):
    spec = load_spec(SPECS / "credit_scoring_v1.yaml")
    local = run_audit(SPECS / "credit_scoring_v1.yaml", spec=spec)
    on_spark = load_spec(SPECS / "credit_scoring_v1.yaml", engine="spark")
    result = run_audit(SPECS / "credit_scoring_v1.yaml", spec=on_spark)
    doc = result.document
    assert doc["errors"] == [] and doc["verdict"] == "fail"
    engine = doc["data"]["engine"]
    assert engine["name"] == "spark" and engine["master"] == "local[2]" and engine["rows"] == 600
    # the model's scores make the row-level collection; explanations on every row (600 rows)
    assert engine["collected"]["mode"] == "rows"
    assert (
        engine["explain_sample"]["rows"] == 600
        and "every row" in engine["explain_sample"]["sampling"]
    )
    _assert_same(local.document, doc)
    assert sorted(result.files) == sorted(local.files)


def _decision_log(n: int, seed: int = 3) -> pd.DataFrame:
    """A decision log with logged codes, a score and two sensitive attributes."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    sex = rng.choice(["female", "male"], n)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 + 0.35 * y + rng.normal(0, 0.2, n) - 0.05 * (region == "west"), 0, 1)
    return pd.DataFrame(
        {
            "case_id": np.arange(n),
            "region": region,
            "sex": sex,
            "outcome": y,
            "decision": np.where(score > 0.5, "grant", "deny"),
            "score": score.round(3),
        }
    )


def _log_spec(path: Path, *, score: bool) -> dict[str, Any]:
    checks: list[dict[str, Any]] = [
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
        {"metric": "false_negative_rate", "disparity": "difference", "max": 0.1},
    ]
    if score:
        checks.append({"metric": "roc_auc", "disparity": "difference", "max": 0.1})
        checks.append({"metric": "calibration_error", "disparity": "difference", "max": 0.1})
    return {
        "name": "benefits-log",
        "model": {
            "kind": "predictions",
            "column": "decision",
            **({"score_column": "score"} if score else {}),
            "decision_values": {"grant": 1, "deny": 0},
        },
        "data": {
            "path": str(path),
            "label": "outcome",
            "sensitive": ["region", "sex"],
            "label_values": [0, 1],
            "id_column": "case_id",
            "ranges": {"score": [0, 1]},
            "min_group_share": 0.05,
        },
        "checks": checks,
        "n_boot": 200,
    }


def test_generated_decision_log_with_scores_equals_the_local_engine(spark, tmp_path):
    path = tmp_path / "log.csv"
    _decision_log(4000).to_csv(path, index=False)
    spec = parse_spec(_log_spec(path, score=True))
    local = run_audit(path, spec=spec).document
    doc = run_audit(path, spec=_on_spark(spec)).document
    assert doc["errors"] == [] and doc["model"]["scores"] is True
    assert doc["data"]["engine"]["collected"]["mode"] == "rows"
    assert {c["metric"] for c in doc["checks"]} >= {"roc_auc", "calibration_error"}
    _assert_same(local, doc)


def test_count_table_from_one_aggregation_and_a_catalog_table(spark, tmp_path):
    frame = _decision_log(20_000, seed=5)
    path = tmp_path / "log.parquet"
    frame.to_parquet(path, index=False)
    spark.read.parquet(str(path)).write.saveAsTable("decisions")
    spec = parse_spec(_log_spec(path, score=False))
    local = run_audit(path, spec=spec).document
    doc = run_audit(path, spec=_on_spark(spec, path=None, table="decisions")).document
    assert doc["errors"] == []
    engine = doc["data"]["engine"]
    assert engine["source"] == "table decisions" and engine["rows"] == 20_000
    # decision codes are mapped row by row as the local engine maps them (the in-memory
    # path): 4 regions × 2 sexes × 2 labels × 2 decisions, at most 32 cells reach the driver
    assert engine["collected"]["mode"] == "expanded count table"
    assert engine["collected"]["reason"].startswith("model.decision_values")
    assert engine["collected"]["cells"] <= 32
    assert doc["data"]["path"] == "table:decisions"
    _assert_same(local, doc, drop_path=True)
    regions = [g["n"] for k, g in doc["groups"].items() if k.startswith("region=") and "|" not in k]
    assert len(regions) == 4 and sum(regions) == 20_000


def test_multi_file_log_counted_by_aggregations_equals_the_streamed_local_engine(spark, tmp_path):
    frame = _decision_log(1_000_000, seed=11)  # the 1M-row log
    frame["decision"] = (frame["decision"] == "grant").astype(int)  # logged as label values
    rng = np.random.default_rng(11)  # unrounded scores: histogram bins that mix scores
    frame["score"] = np.clip(frame["score"] + rng.uniform(-5e-4, 5e-4, len(frame)), 0, 1)
    folder = tmp_path / "log"
    folder.mkdir()
    for i, start in enumerate(range(0, len(frame), 250_000)):
        part = frame.iloc[start : start + 250_000]
        part.to_parquet(folder / f"part-{i}.parquet", index=False)
    content = _log_spec(folder, score=True)
    del content["model"]["decision_values"]
    spec = parse_spec(content)
    local = run_audit(folder, spec=spec).document
    streaming = local["data"].pop("streaming")
    assert streaming["rows"] == 1_000_000 and streaming["files"] == 4  # the local path streamed
    doc = run_audit(folder, spec=_on_spark(spec)).document
    assert doc["errors"] == [] and doc["model"]["scores"] is True
    assert doc["data"].pop("streaming") is None
    collected = doc["data"]["engine"]["collected"]
    # one groupBy for the cells, one for the score histograms: no row reaches the driver
    assert collected["mode"] == "count table" and collected["cells"] <= 32
    hist = collected["score_histograms"]
    assert hist["score_bins"] == streaming["score_bins"] and hist["groups"] < len(frame)
    assert not _same(streaming["score_error_bounds"], collected["score_error_bounds"])
    assert streaming["score_error_bounds"]  # some bins mix scores: the bounds are stated
    assert {c["metric"] for c in doc["checks"]} >= {"roc_auc", "calibration_error"}
    # the local path runs Great Expectations on a sample and recounts over every row (each
    # entry says how many rows it checked); Spark validates every row: the same outcomes
    validation, on_spark = local.pop("data_validation"), doc.pop("data_validation")
    assert validation["streamed"] and validation["great_expectations_rows"] < len(frame)
    outcomes = [(r["kind"], r["success"]) for r in on_spark["results"]]
    assert outcomes == [(r["kind"], r["success"]) for r in validation["results"]]
    assert validation["success"] is on_spark["success"] is True
    _assert_same(local, doc)


def test_validation_on_spark_gives_the_same_entries_and_stops_alike(spark, tmp_path):
    frame = _decision_log(1000, seed=7)
    frame.loc[[3, 9], "region"] = None  # missing sensitive values
    frame.loc[5, "outcome"] = 2  # a label outside label_values
    frame.loc[11, "score"] = 1.5  # out of range
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    spec = parse_spec(_log_spec(path, score=True))
    local = run_audit(path, spec=spec).document
    doc = run_audit(path, spec=_on_spark(spec)).document
    assert doc["verdict"] == local["verdict"] == "error"
    assert [e["stage"] for e in doc["errors"]] == [e["stage"] for e in local["errors"]]
    assert doc["errors"][0]["message"] == local["errors"][0]["message"]
    differences = _same(local["data_validation"], doc["data_validation"])
    assert not differences, differences
    failed = {r["kind"] for r in doc["data_validation"]["results"] if not r["success"]}
    assert failed == {"label_values", "sensitive_missing", "ranges", "group_share"}


def test_group_values_that_print_alike_are_refused_on_spark_as_locally(spark, tmp_path):
    """'north' and 'north ' were two groups no reader could tell apart (see
    tests/test_redteam3.py): Spark refuses them with the local engine's message."""
    frame = _decision_log(1000, seed=7)
    frame.loc[frame.index[frame["region"] == "north"][::2], "region"] = "north "
    path = tmp_path / "alike.csv"
    frame.to_csv(path, index=False)
    spec = parse_spec(_log_spec(path, score=False))
    local = run_audit(path, spec=spec).document
    doc = run_audit(path, spec=_on_spark(spec)).document
    assert doc["verdict"] == local["verdict"] == "error"
    assert doc["errors"][0]["message"] == local["errors"][0]["message"]
    assert (
        "print alike" in doc["errors"][0]["message"] and "'north '" in doc["errors"][0]["message"]
    )


def test_mlflow_model_scored_by_spark_udf_equals_the_local_engine(spark, tmp_path, in_repo):
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    frame = _decision_log(3000, seed=11)
    features = frame[["score"]].assign(south=(frame["region"] == "south").astype(float))
    model = LogisticRegression().fit(features, frame["outcome"])
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(model, str(folder), serialization_format="skops")
    data = features.assign(region=frame["region"], sex=frame["sex"], outcome=frame["outcome"])
    path = tmp_path / "applicants.parquet"
    data.to_parquet(path, index=False)
    content = _log_spec(path, score=True)
    content["model"] = {"kind": "mlflow", "uri": str(folder)}
    content["data"].update(id_column=None, exclude=["region", "sex"])
    spec = parse_spec(content)
    local = run_audit(path, spec=spec).document
    doc = run_audit(path, spec=_on_spark(spec)).document
    assert doc["errors"] == [] and doc["model"]["scores"] is True
    _assert_same(local, doc)


def test_single_machine_kinds_and_tables_are_refused_by_the_spec(tmp_path):
    path = tmp_path / "log.csv"
    _decision_log(50).to_csv(path, index=False)
    content = _log_spec(path, score=False)
    rest = {**content, "model": {"kind": "rest", "url": "http://127.0.0.1:9/invocations"}}
    with pytest.raises(SpecError, match="stays single-machine"):
        parse_spec({**rest, "data": {**content["data"], "engine": "spark"}})
    with pytest.raises(SpecError, match=r"data.table .* needs data.engine: spark"):
        parse_spec({**content, "data": {**content["data"], "path": None, "table": "db.t"}})
    with pytest.raises(SpecError, match="exactly one of path and table"):
        parse_spec({**content, "data": {**content["data"], "table": "db.t", "engine": "spark"}})


@pytest.mark.parametrize("flag", [True, False])
def test_spark_without_pyspark_exits_4_before_anything_runs(tmp_path, write_spec, flag):
    """A Python where pyspark cannot be imported: --engine spark (or the spec's engine) is
    bad usage, exit 4, and nothing is audited or written."""
    blocker = tmp_path / "blocker" / "pyspark"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('pyspark is not installed here')\n")
    path = tmp_path / "log.csv"
    _decision_log(200).to_csv(path, index=False)
    content = _log_spec(path, score=False)
    if not flag:
        content["data"]["engine"] = "spark"
    spec = write_spec(content)
    out = tmp_path / "out"
    args = ["run", str(spec), "--no-mlflow", "--out", str(out), "--quiet"]
    args += ["--engine", "spark"] if flag else []
    env = {**os.environ, "PYTHONPATH": f"{blocker.parent}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from audits.cli import main; sys.exit(main())", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 4, done.stderr[-2000:]
    assert "needs pyspark" in done.stderr and "fairgate[spark]" in done.stderr
    assert not out.exists()


def test_explanation_sample_is_seeded_stratified_and_states_itself(spark, tmp_path, monkeypatch):
    from audits import _spark_counts
    from audits._spark_reading import ROW_ID
    from audits._spark_scoring import DECISION

    frame = _decision_log(3000, seed=13)
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    content = _log_spec(path, score=False)
    content["explain"] = {"rows": 100, "background": 20}
    content["data"]["min_group_size"] = 40
    spec = parse_spec(content)
    decided = spark.createDataFrame(frame.assign(**{ROW_ID: np.arange(3000), DECISION: 1}))
    monkeypatch.setattr(_spark_counts, "SAMPLE_ROWS", 300)
    draws = [_spark_counts.explain_sample(spec, decided, 3000, seed=s) for s in (0, 0, 1)]
    (sample, decisions, described), again, other = draws
    assert described["rows"] == len(sample) == len(decisions) and described["of"] == 3000
    assert described["seed"] == 0 and "stratified by region × sex" in described["sampling"]
    assert 150 < len(sample) < 600  # about 300 rows, small groups lifted towards 40
    assert sample.equals(again[0]) and not sample.equals(other[0])  # seeded
    assert list(sample.columns) == list(frame.columns) and sample["case_id"].is_monotonic_increasing
    per_group = sample.groupby(["region", "sex"]).size()
    assert len(per_group) == 8 and per_group.min() >= 20  # every group, none left thin


def test_groups_spelled_true_and_upper_true_stay_distinct_on_spark(spark, tmp_path):
    """Spark's schema inference read ``TRUE`` and ``true`` as one boolean, as pandas did: the
    groups stay as written, the same as the local engine's."""
    rng = np.random.default_rng(4)
    n = 600
    frame = pd.DataFrame(
        {
            "group": [["TRUE", "true", "false"][i % 3] for i in range(n)],
            "outcome": rng.integers(0, 2, n),
            "decision": rng.integers(0, 2, n),
        }
    )
    frame.to_csv(tmp_path / "log.csv", index=False)
    content = {
        "name": "spellings",
        "model": {"kind": "predictions", "column": "decision"},
        "data": {"path": str(tmp_path / "log.csv"), "label": "outcome", "sensitive": ["group"]},
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.5}],
    }
    import yaml

    (tmp_path / "local.yaml").write_text(yaml.safe_dump(content))
    content["data"]["engine"] = "spark"
    (tmp_path / "spark.yaml").write_text(yaml.safe_dump(content))
    local = run_audit(tmp_path / "local.yaml").document
    on_spark = run_audit(tmp_path / "spark.yaml").document
    assert set(on_spark["groups"]) == {"group=TRUE", "group=true", "group=false"}
    assert on_spark["groups"] == local["groups"]


def test_a_folder_file_lacking_a_column_is_named_on_spark(spark, tmp_path, monkeypatch):
    """Spark reads a folder with its first file's schema: a later file without the sensitive
    column read as missing values. It is refused naming the column and the file."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(6)
    n = 2_000
    frame = pd.DataFrame(
        {
            "group": rng.choice(["a", "b"], n),
            "outcome": rng.integers(0, 2, n),
            "decision": rng.integers(0, 2, n),
        }
    )
    (tmp_path / "logs").mkdir()
    frame.iloc[:1_000].to_parquet(tmp_path / "logs" / "a.parquet", index=False)
    frame.iloc[1_000:].drop(columns=["group"]).to_parquet(tmp_path / "logs" / "b.parquet")
    content = {
        "name": "folder",
        "model": {"kind": "predictions", "column": "decision"},
        "data": {"path": "logs", "label": "outcome", "sensitive": ["group"], "engine": "spark"},
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.8}],
    }
    doc = run_audit(tmp_path / "s.yaml", spec=parse_spec(content)).document
    assert doc["verdict"] == "error" and doc["exit_code"] == 2
    message = doc["errors"][0]["message"]
    assert "'group' named by data.sensitive[0] is missing from the file 'logs/b.parquet'" in message


def test_a_spark_nan_group_is_a_missing_value_as_in_memory(spark, tmp_path):
    """Red team 4: NaN in a float group column is a missing value on Spark too (in the
    module's own local[2] session)."""
    # Spark reads a Parquet NaN as a value, not null: the not-null expectation passed and the
    # NaN rows were judged as a group 'grp=nan' (with a wrong count) where the local engine
    # stops at validate.
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
        spec.write_text(_RT4_SPEC.format(name=name, path=tmp_path / "log.parquet", extra=extra))
        documents[name] = run_audit(spec).document
    assert documents["local"]["verdict"] == documents["spark"]["verdict"] == "error"
    assert "not_be_null(grp)" in documents["spark"]["errors"][0]["message"]
    # With missing_sensitive: unknown the local engine judges them as 'grp=unknown'; Spark
    # refuses a float column's missing values (its fillna fills text columns only): never
    # a 'grp=nan' group.
    assert "grp=unknown" in documents["local-u"]["groups"]
    assert all("grp=nan" not in d["groups"] for d in documents.values())
    assert documents["spark-u"]["groups"] == documents["local-u"]["groups"]
    assert documents["spark-u"]["exit_code"] == documents["local-u"]["exit_code"]


def _unknown_groups_log(rows: int, seed: int) -> pa.Table:
    """Groups of a float column (NaN from 10.0 on: text order is not number order) and of an
    integer column (nulls: pandas reads it as floats), a label, a decision and a score."""
    rng = np.random.default_rng(seed)
    band = rng.choice([1, 2, 3], rows).astype(object)
    band[rng.random(rows) < 0.2] = None
    outcome = (rng.random(rows) < 0.4).astype(int)
    score = np.clip(0.3 + 0.3 * outcome + rng.normal(0, 0.2, rows), 0, 1)
    return pa.table(
        {
            "grp": pa.array(rng.choice([9.0, 10.0, np.nan], rows), from_pandas=False),
            "band": pa.array(list(band), pa.int64()),
            "outcome": outcome,
            "decision": (score > 0.5).astype(int),
            "score": score,
        }
    )


def _unknown_spec(path: Path, *, score: bool) -> dict[str, Any]:
    model: dict[str, Any] = {"kind": "predictions", "column": "decision"}
    checks: list[dict[str, Any]] = [{"metric": "selection_rate", "disparity": "ratio", "min": 0.5}]
    if score:
        model["score_column"] = "score"
        checks.append({"metric": "roc_auc", "disparity": "difference", "max": 0.2})
    return {
        "name": "unknown-groups",
        "model": model,
        "data": {
            "path": str(path),
            "label": "outcome",
            "sensitive": ["grp", "band"],
            "missing_sensitive": "unknown",
            "min_group_share": 0.05,  # the stream states the shares at 0 too
        },
        "checks": checks,
        "n_boot": 200,
    }


def test_missing_number_groups_are_unknown_on_spark_as_locally(spark, tmp_path):
    """With ``missing_sensitive: unknown``, Spark refused a float column's missing values
    (exit 2: its fillna fills text columns only) where the local engine judges them as the
    group 'unknown'; the same groups, order, counts and intervals now."""
    pq.write_table(_unknown_groups_log(3_000, seed=12), tmp_path / "log.parquet")
    spec = parse_spec(_unknown_spec(tmp_path / "log.parquet", score=False))
    local = run_audit(tmp_path / "s.yaml", spec=spec).document
    on_spark = run_audit(tmp_path / "s.yaml", spec=_on_spark(spec)).document
    assert local["errors"] == [] and local["exit_code"] in (0, 1)
    groups = [k for k in local["groups"] if "|" not in k]
    assert groups == [
        "grp=9.0",
        "grp=10.0",
        "grp=unknown",
        "band=1.0",
        "band=2.0",
        "band=3.0",
        "band=unknown",
    ]
    assert on_spark["errors"] == []
    assert on_spark["data"]["engine"]["collected"]["mode"] == "count table"
    _assert_same(local, on_spark)


def test_missing_number_groups_with_scores_on_spark_equal_the_stream(spark, tmp_path):
    """The score histograms' aggregation judges the missing values as 'unknown' too."""
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(_unknown_groups_log(4_000, seed=13), folder / "part-0.parquet")
    spec = parse_spec(_unknown_spec(folder, score=True))
    local = run_audit(tmp_path / "s.yaml", spec=spec).document
    assert local["data"].pop("streaming")["rows"] == 4_000
    on_spark = run_audit(tmp_path / "s.yaml", spec=_on_spark(spec)).document
    assert on_spark["errors"] == [] and on_spark["data"].pop("streaming") is None
    assert "score_histograms" in on_spark["data"]["engine"]["collected"]
    assert "grp=unknown|band=unknown" in on_spark["groups"]
    validation = local.pop("data_validation")  # a sample and recounts, against every row
    outcomes = [(r["kind"], r["success"]) for r in on_spark.pop("data_validation")["results"]]
    assert outcomes == [(r["kind"], r["success"]) for r in validation["results"]]
    _assert_same(local, on_spark)


def test_a_symlink_in_a_folder_is_refused_on_spark(spark, tmp_path):
    """Spark reads a linked file as a file of its own: its rows were counted twice."""
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(_unknown_groups_log(1_000, seed=14), folder / "a.parquet")
    (folder / "b.parquet").symlink_to(folder / "a.parquet")
    content = _unknown_spec(folder, score=False)
    doc = run_audit(tmp_path / "s.yaml", spec=_on_spark(parse_spec(content))).document
    assert doc["exit_code"] == 2 and doc["errors"][0]["stage"] == "read"
    assert "symbolic link" in doc["errors"][0]["message"]
    assert doc["provenance"]["data_sha256"] is None
