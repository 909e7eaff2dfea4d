"""Benchmark: a decision-log audit on Apache Spark against the single-machine path.

Run ``python tests/benchmarks/bench_spark.py`` (default 10,000,000 rows; ``--rows`` changes
it). From a seed the script writes a Parquet decision log (two sensitive columns, 5 × 4 = 20
intersectional groups, a label, the logged decision and a score) and times the whole audit
(read, validation, the count table and score histograms, every group and score check — the
AUC and calibration error included —, the verdict; no evidence files) of the same spec:

* the local engine (one process; the log is streamed batch by batch, pyarrow reading only the
  audit's columns);
* the Spark engine in ``local[1]`` and ``local[2]`` (a fresh process each, the session
  started and warmed before the clock starts).

Each audit runs in its own process. The last lines are the throughputs, the 1 → 2 core
scaling (a measured projection of the throughput per executor core) and
``spark rows/s at N rows: … (local path: …)``; the counts, the check values and the verdicts
must agree (check values to 1e-12), and what Spark collected to the driver is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def write_log(path: Path, n: int, seed: int = 0) -> None:
    """A seeded decision log of ``n`` rows as Parquet, written in 1M-row chunks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    races, ages = np.array(["A", "B", "C", "D", "E"]), np.array(["<25", "25-39", "40-59", "60+"])
    with pq.ParquetWriter(
        path,
        pa.schema(
            [
                ("race", pa.string()),
                ("age", pa.string()),
                ("y", pa.int64()),
                ("decision", pa.int64()),
                ("score", pa.float64()),
            ]
        ),
    ) as w:
        for start in range(0, n, 1_000_000):
            m = min(1_000_000, n - start)
            race, age = rng.integers(0, 5, m), rng.integers(0, 4, m)
            y = rng.integers(0, 2, m)
            score = np.clip(0.35 + 0.3 * y - 0.02 * race + rng.normal(0, 0.2, m), 0, 1)
            p = rng.random(m) < score
            w.write_table(
                pa.table(
                    {
                        "race": races[race],
                        "age": ages[age],
                        "y": y,
                        "decision": p.astype(np.int64),
                        "score": score,
                    }
                )
            )


def spec_content(data: Path, engine: str) -> dict:
    return {
        "name": "bench-spark",
        "model": {
            "kind": "predictions",
            "column": "decision",
            "score_column": "score",
        },
        "data": {
            "path": str(data),
            "label": "y",
            "sensitive": ["race", "age"],
            "label_values": [0, 1],
            "engine": engine,
        },
        "checks": [
            {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
            {"metric": "false_negative_rate", "disparity": "difference", "max": 0.1},
            {"metric": "roc_auc", "disparity": "difference", "max": 0.1},
            {"metric": "calibration_error", "disparity": "difference", "max": 0.1},
        ],
    }


def child(data: Path, engine: str, master: str | None) -> dict:
    """One audit in this process: seconds, verdict and the document's groups."""
    from audits._runner import run_audit
    from audits._spec import parse_spec

    spec = parse_spec(spec_content(data, engine))
    if engine == "spark":
        from audits._spark_reading import spark_session

        session = spark_session(master)
        session.sparkContext.setLogLevel("ERROR")
        session.range(1000).count()  # the JVM and the Python workers are up
    start = time.perf_counter()
    doc = run_audit(Path(__file__), spec=spec).document
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "verdict": doc["verdict"],
        "groups": doc["groups"],
        "checks": [[c["metric"], x] for c in doc["checks"] for x in [c["value"], *(c["ci"] or [])]],
        "errors": doc["errors"],
        "collected": doc["data"].get("engine", {}).get("collected"),
    }


def _run(data: Path, engine: str, master: str | None) -> dict:
    command = [sys.executable, __file__, "--child", engine, str(data)]
    if master:
        command += ["--master", master]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "passive"}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "DATA"))
    parser.add_argument("--master")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[1]), args.child[0], args.master)))
        return {}
    n = args.rows
    with tempfile.TemporaryDirectory(prefix="fairgate-bench-spark-") as folder:
        data = Path(folder) / "log.parquet"
        write_log(data, n)
        local = _run(data, "local", None)
        one = _run(data, "spark", "local[1]")
        two = _run(data, "spark", "local[2]")
    for name, r in (("local", local), ("spark local[1]", one), ("spark local[2]", two)):
        print(f"{name}: {r['seconds']:.1f} s, {n / r['seconds']:,.0f} rows/s, {r['verdict']}")
    same = local["groups"] == one["groups"] == two["groups"]
    same = same and local["verdict"] == one["verdict"] == two["verdict"]
    values = [[(m, np.nan if x is None else x) for m, x in r["checks"]] for r in (local, one, two)]
    same = same and all(
        [m for m, _ in v] == [m for m, _ in values[0]]
        and np.allclose(
            [x for _, x in v], [x for _, x in values[0]], rtol=0, atol=1e-12, equal_nan=True
        )
        for v in values
    )
    print(f"spark collected to the driver: {two['collected']}")
    rates = {
        "local": n / local["seconds"],
        "spark_1": n / one["seconds"],
        "spark_2": n / two["seconds"],
    }
    rates["scaling_2_over_1"] = rates["spark_2"] / rates["spark_1"]
    rates["same_results"] = float(same)
    print(f"same counts, check values and verdict on every engine: {same}")
    print(
        f"spark scaling local[1] -> local[2]: {rates['scaling_2_over_1']:.2f}x "
        f"(about {rates['spark_2'] / 2:,.0f} rows/s per executor core)"
    )
    print(
        f"spark rows/s at {n:,} rows: {rates['spark_2']:,.0f} (local path: {rates['local']:,.0f})"
    )
    return rates


if __name__ == "__main__":
    main()
