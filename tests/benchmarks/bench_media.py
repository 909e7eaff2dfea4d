"""Benchmark: rows per second and peak memory of each reference audit.

Run ``python tests/benchmarks/bench_media.py [SPEC ...]`` (default: the credit, distress and
voice-menu v1 specs, one per reference system). Each spec runs in a fresh process (MLflow
logging off); the script prints its rows per second and peak resident memory, and the total
time (target: the three audits in under 5 minutes).
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

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = [
    str(ROOT / "audits" / "specs" / f"{name}_v1.yaml")
    for name in ("credit_scoring", "emotion_distress", "voice_menu")
]


def run_one(spec: str) -> dict[str, float]:
    """One audit in a fresh process: seconds, rows, and that process's peak memory."""
    out = Path(tempfile.mkdtemp(prefix="fairgate-bench-"))
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "audits.cli", "run", spec, "--no-mlflow", "-q", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_WAIT_POLICY": "passive", "CI": "1"},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    rows = json.loads((out / "results.json").read_text())["data"]["rows"] or 0
    return {
        "seconds": seconds,
        "rows": rows,
        "rows_per_s": rows / seconds,
        "peak_mib": usage.ru_maxrss / 1024,
        "exit": proc.returncode,
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
            f"({r['rows_per_s']:.0f} rows/s, end to end), peak memory "
            f"{r['peak_mib']:.0f} MiB, exit {int(r['exit'])}",
            flush=True,
        )
    print(f"all audits: {total:.1f} s")
    return results


if __name__ == "__main__":
    main()
