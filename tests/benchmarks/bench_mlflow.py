"""Benchmark: what MLflow logging adds to the credit audit.

Run ``python tests/benchmarks/bench_mlflow.py``. It runs the credit v1 audit once (all its
checks), then logs the same evidence (params, metrics, tags, child runs, dataset input, the
report files and charts) ``--repeats`` times to an embedded sqlite store and to a real
``mlflow server`` started on a free loopback port, and prints the logging seconds (median) and
their share of the whole run. Target: under 3 s against the local server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="MLflow logging overhead")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spec", type=Path, default=ROOT / "audits/specs/credit_scoring_v1.yaml")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    from servers import start_tracking_server, stop  # tests/servers.py

    from audits import run_audit
    from reports import log_audit, write_all

    cwd = os.getcwd()
    os.chdir(ROOT)  # spec paths resolve against the repository root
    try:
        start = time.perf_counter()
        result = run_audit(args.spec)
        audit = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    tmp = Path(tempfile.mkdtemp(prefix="fairgate-bench-"))
    files = write_all(result.document, tmp / "out", extra=result.files)
    url, proc = start_tracking_server(tmp / "server")
    out = {"audit": audit}
    try:
        for label, uri in (("sqlite", f"sqlite:///{tmp / 'local' / 'mlflow.db'}"), ("server", url)):
            (tmp / "local").mkdir(exist_ok=True)
            log_audit(result.document, files, tracking_uri=uri)  # create the experiment first
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                log_audit(result.document, files, tracking_uri=uri)
                times.append(time.perf_counter() - start)
            out[label] = statistics.median(times)
    finally:
        stop(proc)
    print(f"audit without logging: {audit:.2f} s")
    for label in ("sqlite", "server"):
        share = out[label] / (audit + out[label])
        print(f"logging to {label}: {out[label]:.2f} s ({share:.0%} of the whole run)")
    print(f"logging overhead against the local server: {out['server']:.2f} s")
    return out


if __name__ == "__main__":
    main()
