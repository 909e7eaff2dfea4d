"""Benchmark: the score-metric part of an audit against one ``np.bincount`` histogram pass.

Run ``python tests/benchmarks/bench_score_part.py`` (``--rows 1e7`` by default). On a
decision log held in arrays (40 intersection cells, a binary label, a score in [0, 1]) it
times (CPU), each the best of ``--repeats``:

* the floor, one ``np.bincount`` histogram pass over the rows, as the end-to-end benchmark's
  floor makes its score histogram (``bench_end_to_end.FLOOR``): each score's bin at 2^12
  bins, ``np.minimum((s * k).astype(int), k - 1)``, then one ``np.bincount`` by cell × label
  × bin. Also one ``np.bincount`` alone, its codes given, at 2^12 bins and at the audit's
  2^16 bins (a histogram of 2^16 bins per cell and label does not fit in a cache: each count
  is a cache miss);
* the pass over the rows (streaming): :func:`metrics.score_histograms` over 2^20-row batches,
  with the compiled kernel (``engine="numba"``) and with numpy's passes;
* the metrics from the histograms: :func:`metrics.histogram_score_metrics` (every score
  metric, every view, with intervals), which does not depend on the rows, with the compiled
  pass over the histograms (``engine="numba"``, as the audit uses it with the compiled row
  pass) and with numpy's passes;
* the once-per-process cost of the kernel (importing numba, loading the cached machine code);
* with ``--rows-exact``, the row-level :func:`metrics.score_metrics` (one sort per view).

It prints ``score part/bincount at N rows: R`` (compiled pass + metrics, against the histogram
pass), the ratios against ``np.bincount`` alone, and the parts' CPU seconds (user + system: on
a shared machine the wall time moves with the load, the CPU time much less).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from metrics import (  # noqa: E402
    DEFAULT_SCORE_BINS,
    count_table,
    histogram_score_metrics,
    score_histograms,
    score_metrics,
)

SHAPE = (2, 5, 4)
BATCH = 1 << 20


def make(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    codes = [rng.integers(0, k, n) for k in SHAPE]
    cells = (codes[0] * SHAPE[1] + codes[1]) * SHAPE[2] + codes[2]
    y = rng.random(n) < 0.45
    s = np.clip(rng.normal(0.4 + 0.3 * y - 0.02 * codes[1], 0.18), 0, 1)
    return codes, cells, y, s


def best(fn, repeats: int) -> float:
    """The least CPU time (user + system of this process) of ``repeats`` runs: on a shared
    machine, wall time moves with the load."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def _import_seconds() -> float:
    """Wall time of importing numba and loading the compiled kernel in a fresh process (the
    once-per-process cost of ``engine="numba"``; the kernel compiled and cached already)."""
    code = (
        "import time, numpy as np; from metrics import score_histograms; t = time.perf_counter(); "
        "score_histograms(np.zeros(1, int), np.zeros(1, bool), np.zeros(1), shape=(1,), "
        "engine='numba'); print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(3)
    ]
    return min(runs)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows-exact", action="store_true", help="also time score_metrics")
    args = parser.parse_args(argv)
    n = int(args.rows)
    codes, cells, y, s = make(n)
    n_cells = int(np.prod(SHAPE))
    bins = DEFAULT_SCORE_BINS
    k12 = 1 << 12

    def histogram_pass():
        key = (cells * 2 + y) * k12 + np.minimum((s * k12).astype(np.int64), k12 - 1)
        return np.bincount(key, minlength=n_cells * 2 * k12)

    floor = best(histogram_pass, args.repeats)
    floors = {}
    for k in (k12, bins):
        key = (cells * 2 + y) * k + np.minimum((s * k).astype(np.int64), k - 1)
        floors[k] = max(
            best(lambda key=key, k=k: np.bincount(key, minlength=n_cells * 2 * k), args.repeats),
            1e-9,
        )
        del key

    frame = pd.DataFrame({f"a{i}": c for i, c in enumerate(codes)})
    table = count_table(y, y, frame)

    def histograms(engine: str):
        hist = None
        for start in range(0, n, BATCH):
            part = slice(start, start + BATCH)
            hist = score_histograms(
                cells[part], y[part], s[part], shape=SHAPE, into=hist, engine=engine
            )
        return hist

    histograms("numba")  # compiled (or loaded from its cache) before it is timed
    passes = {e: best(lambda e=e: histograms(e), args.repeats) for e in ("numpy", "numba")}
    hist = histograms("numpy")
    derives = {
        e: best(
            lambda e=e: histogram_score_metrics(table, hist, n_boot=1000, seed=0, engine=e),
            args.repeats,
        )
        for e in ("numpy", "numba")
    }
    derive = derives["numba"]
    loaded = _import_seconds()
    f12, f16 = floors[k12], floors[bins]
    total = passes["numba"] + derive
    print(
        f"score part/bincount at {n:,} rows: {total / floor:.2f} (compiled pass "
        f"{passes['numba']:.3f} s + every score metric of every view with its interval "
        f"{derive:.3f} s = {total:.3f} s; one np.bincount histogram pass {floor:.3f} s: the "
        "scores binned at 2^12 bins and counted by cell x label, as the end-to-end floor does)"
    )
    print(
        f"  against np.bincount alone, its codes given: {total / f12:.2f} x at 2^12 bins "
        f"({f12:.3f} s), {total / f16:.2f} x at the audit's {bins} bins ({f16:.3f} s)"
    )
    print(
        f"  the pass over the rows alone, at the audit's {bins} bins: compiled "
        f"{passes['numba']:.3f} s = {passes['numba'] / f16:.2f} x one np.bincount at {bins} bins "
        f"({f16:.3f} s), {passes['numba'] / f12:.2f} x at 2^12; numpy {passes['numpy']:.3f} s "
        f"= {passes['numpy'] / f16:.2f} x"
    )
    print(
        f"  the metrics from the histograms (independent of the rows): compiled {derive:.3f} s, "
        f"numpy {derives['numpy']:.3f} s; importing numba and loading the kernels, once per "
        f"process: {loaded:.2f} s wall"
    )
    if args.rows_exact:
        t_exact = best(lambda: score_metrics(y, s, frame, views=table.views(), n_boot=1000), 1)
        print(f"row-level score_metrics: {t_exact:.2f} s ({t_exact / f12:.1f} x bincount)")
    return total / floor


if __name__ == "__main__":
    main()
