"""Coverage of the disparity intervals, and the gate's error rates, by simulation.

For each group rate ``p`` (0.05 to 0.5), group size ``n`` (20 to 5,000) and number of groups
``k`` (2 to 20), draws binomial counts with known truth and reports, for the difference
(max − min) and the ratio (min ÷ max):

* ``cover =``: how often the 95 % interval holds the true disparity when all rates are equal
  (difference 0, ratio 1);
* ``cover ≠``: the same with unequal rates, evenly spread from ``p`` to ``1.5 p``;
* ``fail est`` / ``fail int``: how often a fair model (equal rates) fails the policy
  (difference at most 0.1, ratio at least 0.8) under ``decide_on: estimate`` and
  ``decide_on: interval``; ``pass int``: how often it passes under the interval rule (the
  rest is inconclusive).

The intervals are the engine's (``metrics.range_interval``, what ``GroupMetrics.disparity``
returns without a reference group). Groups under ``min_group_size`` (30 by default) are
insufficient in an audit; the n = 20 rows describe the intervals only.

    .venv/bin/python tests/benchmarks/bench_coverage.py [--sims 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from metrics import range_interval

RATES = (0.05, 0.2, 0.5)
SIZES = (20, 100, 1000, 5000)
GROUPS = (2, 5, 20)
POLICY = {"difference": ("max", 0.1), "ratio": ("min", 0.8)}


def _disparity(p_hat: np.ndarray, kind: str) -> np.ndarray:
    high, low = p_hat.max(axis=-1), p_hat.min(axis=-1)
    if kind == "difference":
        return high - low
    return np.where(high > 0, low / np.where(high > 0, high, 1.0), 1.0)


def _truth(rates: np.ndarray, kind: str) -> float:
    return float(_disparity(rates, kind))


def simulate(p: float, n: int, k: int, kind: str, sims: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng([seed, int(p * 1000), n, k, kind == "ratio"])
    out: dict[str, float] = {}
    ok = np.ones((sims, k), bool)
    den = np.full((sims, k), float(n))
    for label, rates in (("=", np.full(k, p)), ("≠", np.linspace(p, 1.5 * p, k))):
        num = rng.binomial(n, rates, size=(sims, k)).astype(float)
        lo, hi = range_interval(num, den, ok, kind, 0.95)
        truth = _truth(rates, kind)
        out[f"cover {label}"] = float(np.mean((lo <= truth) & (truth <= hi)))
        if label == "=":
            side, bound = POLICY[kind]
            value = _disparity(num / n, kind)
            if side == "max":
                fail_est, fail_int, pass_int = value > bound, lo > bound, hi <= bound
            else:
                fail_est, fail_int, pass_int = value < bound, hi < bound, lo >= bound
            out["fail est"] = float(fail_est.mean())
            out["fail int"] = float(fail_int.mean())
            out["pass int"] = float(pass_int.mean())
    return out


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description="coverage of fairgate's disparity intervals")
    parser.add_argument("--sims", type=int, default=2000, help="samples per cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows: list[dict[str, object]] = []
    cols = ("cover =", "cover ≠", "fail est", "fail int", "pass int")
    print("| kind | p | n | k | " + " | ".join(cols) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(cols))
    for kind in ("difference", "ratio"):
        for p in RATES:
            for n in SIZES:
                for k in GROUPS:
                    res = simulate(p, n, k, kind, args.sims, args.seed)
                    rows.append({"kind": kind, "p": p, "n": n, "k": k, **res})
                    cells = " | ".join(f"{100 * res[c]:.1f}" for c in cols)
                    print(f"| {kind} | {p:g} | {n:,} | {k} | {cells} |", flush=True)
    covers = np.array([[r["cover ="], r["cover ≠"]] for r in rows], dtype=float)
    gated = np.array([r["cover ="] for r in rows if int(r["n"]) >= 100], dtype=float)  # type: ignore[call-overload]
    print(
        f"\n{len(rows)} cells × {args.sims} samples in {time.perf_counter() - start:.0f} s. "
        f"Coverage (%): min {100 * covers.min():.1f}, median {100 * np.median(covers):.1f}, "
        f"max {100 * covers.max():.1f}; equal rates with n ≥ 100: min {100 * gated.min():.1f}, "
        f"max {100 * gated.max():.1f}."
    )
    return rows


if __name__ == "__main__":
    main()
