"""Issue 12: the audit's fixed costs and its reading path at scale."""

from __future__ import annotations

import subprocess
import sys

GX_IMPORT = """
import sys, threading
from audits._gx_import import great_expectations, start_import
start_import()
assert any(t.name == "fairgate-gx-import" for t in threading.enumerate())
gx = great_expectations()
assert gx.expectations.ExpectColumnValuesToBeBetween
from great_expectations.execution_engine import pandas_execution_engine
assert pandas_execution_engine.HASH_THRESHOLD == 0  # no fingerprint of the whole frame
print(sorted(m for m in ("rfc3987_syntax", "jsonschema", "lark") if m in sys.modules))
"""


def test_great_expectations_loads_in_the_background_without_the_iri_grammar():
    out = subprocess.run(
        [sys.executable, "-c", GX_IMPORT], capture_output=True, text=True, check=True
    ).stdout
    # jsonschema is there (GE uses it); the IRI grammar it would compile is not.
    assert out.strip() == "['jsonschema']"


def _log(n: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2, n), 0, 1).round(3)  # ties on purpose
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "sex": rng.choice(["male", "female"], n),
            "region": rng.choice(["north", "south", "east"], n),
            "outcome": y,
            "decision": (score > 0.5).astype(int),
            "score": score,
            "unused": rng.random(n),
        }
    )


def _log_spec(path):
    return {
        "name": "scale-log",
        "model": {"kind": "predictions", "column": "decision", "score_column": "score"},
        "data": {
            "path": str(path),
            "label": "outcome",
            "sensitive": ["sex", "region"],
            "label_values": [0, 1],
            "id_column": "id",
            "ranges": {"score": [0, 1]},
        },
        "checks": [
            {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
            {"metric": "false_negative_rate", "disparity": "difference", "max": 0.1},
            {"metric": "roc_auc", "disparity": "difference", "max": 0.05},
            {"metric": "calibration_error", "disparity": "difference", "max": 0.05},
        ],
        "n_boot": 200,
    }


def test_parquet_log_read_by_columns_equals_the_full_read(tmp_path, write_spec, fairgate):
    """The Parquet log is read by column (groups as dictionaries); the CSV of the same log
    is read whole by pandas: same groups, same values and intervals, same verdict."""
    import json

    from audits import load_spec
    from audits._reading import needed_columns, read_parquet_columns

    frame = _log(3000)
    frame.to_parquet(tmp_path / "log.parquet", index=False)
    frame.to_csv(tmp_path / "log.csv", index=False)
    docs = []
    for name in ("log.parquet", "log.csv"):
        spec_path = write_spec(_log_spec(tmp_path / name))
        out = tmp_path / f"out-{name}"
        fairgate("run", spec_path, "--out", out, "--no-mlflow", "-q")
        docs.append(json.loads((out / "results.json").read_text()))
    parquet, csv = docs
    assert parquet["verdict"] == csv["verdict"] and parquet["groups"] == csv["groups"]
    assert parquet["checks"] == csv["checks"]
    assert parquet["data_validation"] == csv["data_validation"]
    spec = load_spec(write_spec(_log_spec(tmp_path / "log.parquet")))
    read = read_parquet_columns(tmp_path / "log.parquet", spec)
    assert "unused" not in read.columns and set(read.columns) == set(needed_columns(spec))
    assert list(read["region"].cat.categories) == ["east", "north", "south"]


def _rankdata_delong(y, s):
    """DeLong's AUC and variance with three scipy rank computations (the former code)."""
    import numpy as np
    from scipy.stats import rankdata

    pos, neg = s[y], s[~y]
    n1, n0 = len(pos), len(neg)
    both = rankdata(np.concatenate([pos, neg]))
    v10 = (both[:n1] - rankdata(pos)) / n0
    v01 = 1.0 - (both[n1:] - rankdata(neg)) / n1
    return float(v10.mean()), float(np.var(v10, ddof=1) / n1 + np.var(v01, ddof=1) / n0)


def test_delong_from_one_sort_equals_the_three_rankings_exactly():
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from metrics import auc_delong

    rng = np.random.default_rng(7)
    for n, scores in [
        (4000, lambda n: rng.random(n)),  # no ties
        (4000, lambda n: rng.integers(0, 3, n) / 2),  # three values only
        (4000, lambda n: np.round(rng.beta(0.3, 0.3, n), 2)),  # ties at both ends
        (6, lambda n: np.array([0.5, 0.5, 0.5, 0.1, 0.9, 0.5])),
    ]:
        s = scores(n)
        y = rng.random(n) < 0.3
        y[:2] = [True, False]
        assert auc_delong(y, s) == _rankdata_delong(y, s)
        assert abs(auc_delong(y, s)[0] - roc_auc_score(y, s)) < 1e-12


def test_score_metrics_from_dictionary_groups_equal_the_object_groups():
    """Dictionary-encoded groups (categories out of order, an empty intersection) give the
    very same table as string groups."""
    import numpy as np
    import pandas as pd
    from pandas.testing import assert_frame_equal

    from audits._reading import _sorted_categories
    from metrics._scores import score_metrics

    rng = np.random.default_rng(3)
    n = 5000
    frame = pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["p", "q"], n)})
    frame = frame[~((frame.a == "z") & (frame.b == "q"))].reset_index(drop=True)
    y = rng.random(len(frame)) < 0.4
    s = np.round(rng.random(len(frame)), 2)
    coded = frame.apply(
        lambda c: _sorted_categories(
            c.astype(pd.CategoricalDtype(sorted(set(c) | {"unused"}, reverse=True)))
        )
    )
    assert list(coded["a"].cat.categories) == ["x", "y", "z"]
    views = [("a",), ("b",), ("a", "b")]
    expected = score_metrics(y, s, frame, views=views, n_boot=50, seed=2)
    assert len(expected[expected.view == "a|b"].group.unique()) == 5
    assert_frame_equal(score_metrics(y, s, coded, views=views, n_boot=50, seed=2), expected)


def test_bench_end_to_end_runs_and_prints_its_ratio(tmp_path, capsys):
    """The benchmark script at a tiny size, so it cannot rot (timings are not asserted)."""
    import importlib.util

    from .conftest import ROOT

    path = ROOT / "tests" / "benchmarks" / "bench_end_to_end.py"
    spec = importlib.util.spec_from_file_location("fairgate_bench_end_to_end", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--sizes", "3000", "--no-credit", "--folder", str(tmp_path)])
    out = capsys.readouterr().out
    assert "end-to-end/floor at 3,000 rows:" in out
    assert rows[0]["rows"] == 3000 and rows[0]["exit"] in (0, 1) and rows[0]["floor"] > 0


def test_an_audit_that_stops_before_validating_still_exits_2(tmp_path, write_spec):
    """The background import of Great Expectations never changes how a failed run ends."""
    import os

    bad = tmp_path / "log.parquet"
    bad.write_bytes(b"not a parquet file")
    spec = write_spec(_log_spec(bad))
    env = {**os.environ, "CI": "true"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "audits.cli",
            "run",
            str(spec),
            "--no-mlflow",
            "-q",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr
    assert "Fatal Python error" not in run.stderr
    assert "cannot be read" in run.stdout + run.stderr
