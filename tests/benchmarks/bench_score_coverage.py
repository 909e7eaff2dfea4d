"""Coverage of the score-metric disparity intervals, by seeded simulation with known truth.

Run ``python tests/benchmarks/bench_score_coverage.py`` (``--reps`` changes the number of
simulated audits per row, default 200). Each simulated audit draws k groups of n rows, runs
:func:`metrics.score_metrics` and :func:`metrics.score_disparity` exactly as an audit does,
and counts how often the 95 % interval of the difference (max − min) and of the ratio
(min ÷ max) contains the true disparity.

* ROC AUC: binormal scores (positives shifted by ``delta``), true AUC ``Φ(delta / √2)``.
* Calibration error: uniform scores, outcomes drawn with probability ``f(score)``; the true
  (binned, population) error is computed on 2,000,000 rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from metrics import score_disparity, score_metrics  # noqa: E402

CALIBRATION = {
    "calibrated": lambda s: s,
    "shrunk 0.7": lambda s: 0.7 * s + 0.15,
    "shrunk 0.5": lambda s: 0.5 * s + 0.25,
}


def _true_ece(f, bins: int = 10) -> float:
    s = np.random.default_rng(99).random(2_000_000)
    b = np.clip(np.digitize(s, np.linspace(0, 1, bins + 1)[1:-1], right=True), 0, bins - 1)
    return float(np.abs(np.bincount(b, weights=s - f(s), minlength=bins)).sum() / len(s))


def _coverage(metric, groups, n, reps, seed):
    rng = np.random.default_rng(seed)
    if metric == "roc_auc":
        true = np.array([NormalDist().cdf(d / np.sqrt(2)) for d in groups])
    else:
        true = np.array([_true_ece(CALIBRATION[g]) for g in groups])
    ratio = true.min() / true.max() if true.max() > 0 else float("nan")  # 0 / 0: undefined
    truth = {"difference": true.max() - true.min(), "ratio": ratio}
    hits = dict.fromkeys(truth, 0)
    keys = np.repeat([f"g{i}" for i in range(len(groups))], n)
    for r in range(reps):
        ys, ss = [], []
        for g in groups:
            if metric == "roc_auc":
                y = rng.random(n) < 0.4
                s = 1 / (1 + np.exp(-(rng.normal(size=n) + g * y - 0.5)))
            else:
                s = rng.random(n)
                y = rng.random(n) < CALIBRATION[g](s)
            ys.append(y)
            ss.append(s)
        table = score_metrics(
            np.concatenate(ys),
            np.concatenate(ss),
            pd.Series(keys, name="g"),
            views=[("g",)],
            n_boot=200 if metric == "calibration_error" else 1,
            seed=seed + r,
        )
        for kind in truth:
            d = score_disparity(table, metric, view="g", kind=kind)
            hits[kind] += d.ci[0] <= truth[kind] <= d.ci[1]
    cover = {k: v / reps if np.isfinite(truth[k]) else float("nan") for k, v in hits.items()}
    return cover, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    rows = [
        ("roc_auc", (1.0, 1.0), 200),
        ("roc_auc", (1.0, 1.0, 1.0, 1.0), 200),
        ("roc_auc", (1.0,) * 8, 200),
        ("roc_auc", (0.8, 1.0, 1.3), 200),
        ("roc_auc", (0.8, 1.0, 1.2, 1.4, 1.6), 200),
        ("roc_auc", (1.0, 1.0), 60),
        ("roc_auc", (2.5, 2.5), 100),
        ("calibration_error", ("calibrated", "calibrated"), 300),
        ("calibration_error", ("shrunk 0.7", "shrunk 0.5"), 300),
        ("calibration_error", ("calibrated", "shrunk 0.7"), 300),
        ("calibration_error", ("calibrated", "shrunk 0.7"), 2000),
    ]
    print(f"{'metric':<18} {'groups':<44} {'n':>5} {'true diff':>9} {'diff':>6} {'ratio':>6}")
    for i, (metric, groups, n) in enumerate(rows):
        cov, truth = _coverage(metric, groups, n, args.reps, seed=i)
        print(
            f"{metric:<18} {', '.join(map(str, groups)):<44} {n:>5} "
            f"{truth['difference']:>9.3f} {cov['difference']:>6.1%} {cov['ratio']:>6.1%}"
        )


if __name__ == "__main__":
    main()
