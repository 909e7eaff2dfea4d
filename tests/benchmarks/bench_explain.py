"""Benchmark: explanation speed on the credit model.

Run ``python tests/benchmarks/bench_explain.py`` (``--sizes``, ``--background``,
``--black-box-rows`` change the work). It prints:

* seconds per 1,000 rows of exact TreeSHAP (probability output, interventional, a background
  of ``--background`` rows) on the credit model v1, through fairgate's ``metrics.explain`` and
  through ``shap.TreeExplainer`` called directly, at 10,000 and 100,000 rows resampled from the
  real audit data, and their ratio (target: fairgate within 1.5 × of shap);
* seconds per 1,000 rows of the black-box (permutation) path on ``--black-box-rows`` rows;
* the seconds of the whole explainability section of the credit v2 audit, end to end
  (target: under 30 s).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CREDIT = ROOT / "models_under_test" / "credit_scoring"


def _model(version: str):
    import skops.io as sio

    path = CREDIT / version / "model.skops"
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def _data():
    import pandas as pd

    return pd.read_csv(CREDIT / "data" / "audit.csv").drop(columns="good_credit")


def tree_seconds(n: int, background: int) -> tuple[float, float]:
    """Seconds for fairgate's explain and for shap.TreeExplainer directly, on ``n`` rows."""
    import shap

    from metrics import explain

    data, model = _data(), _model("v1")
    rows = data.sample(n, replace=True, random_state=0)
    back = data.sample(background, random_state=1)
    start = time.perf_counter()
    explain(model, rows, background=back)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    prep, tree = model[:-1], model.steps[-1][1]
    explainer = shap.TreeExplainer(
        tree,
        data=prep.transform(back),
        model_output="probability",
        feature_perturbation="interventional",
    )
    explainer.shap_values(prep.transform(rows))
    return ours, time.perf_counter() - start


def black_box_seconds(n: int, background: int) -> float:
    from metrics import explain

    data, model = _data(), _model("v1")
    start = time.perf_counter()
    att = explain(model, data.iloc[:n], background=data.iloc[-background:], method="permutation")
    assert att.method == "permutation"
    return time.perf_counter() - start


def audit_section_seconds(rows: int | None = None) -> float:
    """The credit v2 audit with only its explainability checks, end to end."""
    import yaml

    from audits import parse_spec, run_audit

    spec_path = ROOT / "audits" / "specs" / "credit_scoring_v2.yaml"
    raw = yaml.safe_load(spec_path.read_text())
    raw["checks"] = [c for c in raw["checks"] if "type" in c]
    if rows:
        raw["explain"]["rows"] = rows
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        start = time.perf_counter()
        run_audit(spec_path, spec=parse_spec(raw))
        return time.perf_counter() - start
    finally:
        os.chdir(cwd)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="fairgate explanation benchmark")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--background", type=int, default=100)
    parser.add_argument("--black-box-rows", type=int, default=500)
    parser.add_argument("--audit-rows", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    out: dict[str, float] = {}
    print(f"{'rows':>9} {'fairgate s/1000 rows':>21} {'shap s/1000 rows':>17} {'ratio':>6}")
    for n in args.sizes:
        ours, theirs = tree_seconds(n, args.background)
        out[f"tree@{n}"] = ours / theirs
        print(
            f"{n:>9,} {1000 * ours / n:>21.3f} {1000 * theirs / n:>17.3f} {ours / theirs:>6.2f}",
            flush=True,
        )
    bb = black_box_seconds(args.black_box_rows, args.background)
    out["black_box_per_1000"] = 1000 * bb / args.black_box_rows
    print(
        f"black-box (permutation) path: {out['black_box_per_1000']:.1f} s per 1,000 rows "
        f"({args.black_box_rows} rows explained)"
    )
    out["audit_section"] = audit_section_seconds(args.audit_rows)
    print(f"explainability section of the credit v2 audit: {out['audit_section']:.1f} s")
    print(
        f"ratio fairgate/shap TreeSHAP at {max(args.sizes)} rows: "
        f"{out[f'tree@{max(args.sizes)}']:.2f}"
    )
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
