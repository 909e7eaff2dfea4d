"""Benchmark: rows per second and peak memory of each reference media audit.

Run ``python tests/benchmarks/bench_media.py``. Each spec runs in a fresh process (MLflow
logging off); the script prints its rows per second, its peak resident memory, and the total
time of all of them (target: under 5 minutes for the reference media audits).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = sorted(str(p) for p in (ROOT / "audits" / "specs").glob("emotion_distress_*.yaml"))


def run_one(spec: str) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="fairgate-media-"))
    start = time.perf_counter()
    code = subprocess.run(
        [sys.executable, "-m", "audits.cli", "run", spec, "--no-mlflow", "-q", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"OMP_WAIT_POLICY": "passive", "PATH": "/usr/bin:/bin", "CI": "1"},
    ).returncode
    seconds = time.perf_counter() - start
    rows = json.loads((out / "results.json").read_text())["data"]["rows"] or 0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "rows": rows,
        "rows_per_s": rows / seconds,
        "peak_mib": peak,
        "exit": code,
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description="media audit throughput")
    parser.add_argument("specs", nargs="*", default=DEFAULT)
    args = parser.parse_args(argv)
    results, total = {}, 0.0
    for spec in args.specs:
        results[spec] = run_one(spec)
        r = results[spec]
        total += r["seconds"]
        print(
            f"{Path(spec).name}: {r['rows']} rows in {r['seconds']:.1f} s "
            f"({r['rows_per_s']:.0f} rows/s, end to end), peak memory of the largest run so "
            f"far {r['peak_mib']:.0f} MiB, exit {int(r['exit'])}",
            flush=True,
        )
    print(f"all media audits: {total:.1f} s")
    return results


if __name__ == "__main__":
    main()
