"""Benchmark: the gaming and recourse searches on the credit models.

Run ``python tests/benchmarks/bench_gaming.py`` (``--refused`` changes the number of refused
applicants, resampled from the real audit data; ``--models`` which models). It prints, per
model:

* the manipulability search (residence duration, telephone, existing credits, up to two
  together) and the recourse search (savings, duration, amount on grids of 24, up to three
  together, no budget cut): candidates scored, seconds, candidates per second;
* the ratio of each search's seconds to the seconds of ``model.predict`` alone on the same
  number of rows (the cost of building the candidates; target: under 2).

Target: 600 refused applicants × a few hundred candidates each within seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CREDIT = ROOT / "models_under_test" / "credit_scoring"

SAVINGS = ("... < 100 DM", "100 <= ... < 500 DM", "500 <= ... < 1000 DM", ".. >= 1000 DM")


def _model(version: str):
    import skops.io as sio

    path = CREDIT / version / "model.skops"
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def _refused(model, n: int):
    import pandas as pd

    data = pd.read_csv(CREDIT / "data" / "audit.csv").drop(columns="good_credit")
    refused = data[model.predict(data) != 1]
    return refused.sample(n, replace=True, random_state=0).reset_index(drop=True)


def run(version: str, n: int) -> dict[str, float]:
    """Seconds and candidates of both searches, and of predict alone, for one model."""
    from metrics import Action, manipulation_search, recourse_search, value_grid

    model = _model(version)
    rows = _refused(model, n)

    def decide(frame):
        return model.predict(frame) == 1

    out: dict[str, float] = {}
    start = time.perf_counter()
    found = manipulation_search(
        decide,
        rows,
        options={
            "residence_since": [1, 2, 3, 4],
            "telephone": ["yes", "no"],
            "existing_credits": [1, 2, 3, 4],
        },
        max_changes=2,
    )
    out["manip_s"], out["manip_n"] = time.perf_counter() - start, found.candidates
    actions = [
        Action("savings", "up", 1.0, SAVINGS, ordered=True),
        Action(
            "duration_months",
            "down",
            0.1,
            value_grid(4, 72, points=24, seed=[0, 1], integer=True),  # type: ignore[arg-type]
        ),
        Action(
            "credit_amount",
            "down",
            0.0005,
            value_grid(250, 20000, points=24, seed=[0, 2], integer=True),  # type: ignore[arg-type]
        ),
    ]
    start = time.perf_counter()
    res = recourse_search(decide, rows, actions=actions, max_cost=1e9, max_changes=3)
    out["recourse_s"], out["recourse_n"] = time.perf_counter() - start, res.candidates
    big = rows.sample(res.candidates, replace=True, random_state=1)
    start = time.perf_counter()
    for i in range(0, len(big), 50_000):
        model.predict(big.iloc[i : i + 50_000])
    out["predict_s"] = time.perf_counter() - start
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refused", type=int, default=600)
    parser.add_argument("--models", nargs="+", default=["v1", "v2", "v3"])
    args = parser.parse_args(argv)
    print(f"{args.refused} refused applicants")
    for version in args.models:
        r = run(version, args.refused)
        per = r["recourse_n"] / r["predict_s"]
        print(
            f"{version}: manipulability {r['manip_n']:,.0f} candidates in {r['manip_s']:.2f} s "
            f"({r['manip_n'] / r['manip_s']:,.0f}/s, {r['manip_n'] / args.refused:.0f} per "
            f"person); recourse {r['recourse_n']:,.0f} candidates in {r['recourse_s']:.2f} s "
            f"({r['recourse_n'] / r['recourse_s']:,.0f}/s, "
            f"{r['recourse_n'] / args.refused:.0f} per person); predict alone on as many rows "
            f"{r['predict_s']:.2f} s ({per:,.0f}/s); recourse / predict ratio "
            f"{r['recourse_s'] / r['predict_s']:.2f}"
        )


if __name__ == "__main__":
    main()
