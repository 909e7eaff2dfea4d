"""Benchmark: fairgate's metric engine against fairlearn and the single-pass floor.

Run ``python tests/benchmarks/bench_fairness.py`` (default sizes 100,000, 1,000,000 and
10,000,000 rows; ``--sizes`` and ``--repeats`` change them). For each size the script builds,
from a seed, two string sensitive columns (5 × 4 levels = 20 intersectional groups) and integer
labels and decisions in a pandas DataFrame, then times (median of ``--repeats`` runs):

* fairgate: every binary rate per group with Wilson intervals, every disparity (difference and
  ratio, each attribute and the intersection) with its simultaneous interval (the bootstrap,
  ``n_boot=1000``, is drawn only per view and on demand, e.g. with cluster ids);
* fairlearn ``MetricFrame`` for six rates on the intersection, without bootstrap (skipped above
  1,000,000 rows: it takes minutes there);
* the floor: factorize the two group columns and one ``np.bincount`` of the cells.

It also measures fairgate's peak extra memory (resident set, in a fresh process) against the
input DataFrame's size. The last lines are the ratios the targets are stated in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FAIRLEARN_MAX_ROWS = 1_000_000


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    """Two string sensitive columns (5 and 4 levels), integer labels and decisions."""
    rng = np.random.default_rng(seed)
    race = np.array(["A", "B", "C", "D", "E"])[rng.integers(0, 5, n)]
    age = np.array(["<25", "25-39", "40-59", "60+"])[rng.integers(0, 4, n)]
    y = rng.integers(0, 2, n)
    p = (rng.random(n) < 0.35 + 0.3 * y).astype(np.int64)
    return pd.DataFrame(
        {"race": pd.Series(race, dtype="str"), "age": pd.Series(age, dtype="str"), "y": y, "p": p}
    )


def run_fairgate(df: pd.DataFrame) -> pd.DataFrame:
    from metrics import group_metrics

    gm = group_metrics(df["y"], df["p"], df[["race", "age"]], n_boot=1000, seed=0)
    return gm.disparities()


def run_fairlearn(df: pd.DataFrame) -> pd.DataFrame:
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "true_negative_rate": true_negative_rate,
            "false_negative_rate": false_negative_rate,
            "accuracy": accuracy_score,
        },
        y_true=df["y"],
        y_pred=df["p"],
        sensitive_features=df[["race", "age"]],
    )
    return frame.by_group


def run_floor(df: pd.DataFrame) -> np.ndarray:
    a, ua = pd.factorize(df["race"])
    b, ub = pd.factorize(df["age"])
    cell = ((a * len(ub) + b) * 2 + df["y"].to_numpy()) * 2 + df["p"].to_numpy()
    return np.bincount(cell, minlength=len(ua) * len(ub) * 4)


def median_seconds(fn, df: pd.DataFrame, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(df)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def memory_child(n: int) -> None:
    """In a fresh process: peak extra resident memory of one fairgate run, and input size."""
    import gc

    df = make_data(n)
    run_fairgate(make_data(1000))  # import and warm up everything first
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    base = _rss_kib("VmRSS")
    run_fairgate(df)
    peak = _rss_kib("VmHWM")
    print(
        json.dumps(
            {
                "extra_bytes": (peak - base) * 1024,
                "input_bytes": int(df.memory_usage(deep=True).sum()),
            }
        )
    )


def measure_memory(n: int) -> dict[str, int] | None:
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n)],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError) as err:
        print(f"memory measurement failed: {err}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="fairgate metric engine benchmark")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return {}
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    run_fairgate(make_data(1000))  # imports and first-call costs out of the timings
    run_fairlearn(make_data(1000))
    print(
        f"{'rows':>12} {'fairgate s':>11} {'fairlearn s':>12} {'floor s':>9} "
        f"{'fairlearn/fairgate':>19} {'fairgate/floor':>15} {'peak extra / input':>19}"
    )
    ratios: dict[str, float] = {}
    for n in args.sizes:
        df = make_data(n)
        ours = median_seconds(run_fairgate, df, args.repeats)
        floor = median_seconds(run_floor, df, args.repeats)
        theirs = (
            median_seconds(run_fairlearn, df, args.repeats)
            if n <= FAIRLEARN_MAX_ROWS
            else float("nan")
        )
        mem = None if args.no_memory else measure_memory(n)
        mem_ratio = mem["extra_bytes"] / mem["input_bytes"] if mem else float("nan")
        ratios[f"fairlearn/fairgate@{n}"] = theirs / ours
        ratios[f"fairgate/floor@{n}"] = ours / floor
        ratios[f"memory@{n}"] = mem_ratio
        skipped = "" if n <= FAIRLEARN_MAX_ROWS else "  (fairlearn skipped above 1,000,000 rows)"
        print(
            f"{n:>12,} {ours:>11.4f} {theirs:>12.4f} {floor:>9.4f} {theirs / ours:>19.1f} "
            f"{ours / floor:>15.2f} {mem_ratio:>19.2f}{skipped}",
            flush=True,
        )
    big = max(args.sizes)
    mid = max([n for n in args.sizes if n <= FAIRLEARN_MAX_ROWS], default=min(args.sizes))
    print(f"ratio fairlearn/fairgate at {mid} rows: {ratios[f'fairlearn/fairgate@{mid}']:.1f}")
    print(f"ratio fairgate/floor at {big} rows: {ratios[f'fairgate/floor@{big}']:.2f}")
    return ratios


if __name__ == "__main__":
    main()
