"""Benchmark: the score-metric part of an audit against one ``np.bincount`` histogram pass.

Run ``python tests/benchmarks/bench_score_part.py`` (``--rows 1e7`` by default). On a
decision log held in arrays (40 intersection cells, a binary label, a score in [0, 1]) it
times (CPU), each the best of ``--repeats``:

* the floor: one ``np.bincount`` of (cell × label × 2^12 score bins), the score codes given;
* the histogram path (streaming): :func:`metrics.score_histograms` over 2^20-row batches, then
  :func:`metrics.histogram_score_metrics` (every score metric, every view, with intervals);
* with ``--rows-exact``, the row-level :func:`metrics.score_metrics` (one sort per view).

It prints ``score part/bincount at N rows: R`` and the parts' CPU seconds (user + system: on
a shared machine the wall time moves with the load, the CPU time much less).
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows-exact", action="store_true", help="also time score_metrics")
    args = parser.parse_args(argv)
    n = int(args.rows)
    codes, cells, y, s = make(n)
    n_cells = int(np.prod(SHAPE))
    sbin = np.minimum((s * 4096).astype(np.int64), 4095)
    key = (cells * 2 + y) * 4096 + sbin

    def floor() -> None:
        np.bincount(key, minlength=n_cells * 2 * 4096)

    frame = pd.DataFrame({f"a{i}": c for i, c in enumerate(codes)})
    table = count_table(y, y, frame)

    def histogram_path() -> None:
        hist = None
        for start in range(0, n, BATCH):
            part = slice(start, start + BATCH)
            h = score_histograms(cells[part], y[part], s[part], shape=SHAPE)
            hist = h if hist is None else hist + h
        histogram_score_metrics(table, hist, n_boot=1000, seed=0)

    t_floor = max(best(floor, args.repeats), 1e-9)
    t_hist = best(histogram_path, args.repeats)
    print(
        f"score part/bincount at {n:,} rows: {t_hist / t_floor:.2f} (histogram path "
        f"{t_hist:.2f} s at {DEFAULT_SCORE_BINS} bins; one np.bincount {t_floor:.3f} s)"
    )
    if args.rows_exact:
        t_exact = best(lambda: score_metrics(y, s, frame, views=table.views(), n_boot=1000), 1)
        print(f"row-level score_metrics: {t_exact:.2f} s ({t_exact / t_floor:.1f} x bincount)")
    return t_hist / t_floor


if __name__ == "__main__":
    main()
