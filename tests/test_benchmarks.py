"""The benchmark scripts run at tiny sizes, so they cannot rot (timings are not asserted)."""

from __future__ import annotations

import importlib.util

import numpy as np

from .conftest import ROOT, policy_inlined


def _load(name):
    path = ROOT / "tests" / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fairgate_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_fairness_runs_and_prints_its_ratios(capsys):
    bench = _load("bench_fairness")
    ratios = bench.main(["--sizes", "2000", "5000", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "ratio fairlearn/fairgate at 5000 rows:" in out
    assert "ratio fairgate/floor at 5000 rows:" in out
    assert all(np.isfinite(v) and v > 0 for k, v in ratios.items() if not k.startswith("memory"))
    # at tiny sizes the run may allocate nothing beyond the warm-up's peak
    assert all(np.isfinite(v) and v >= 0 for k, v in ratios.items() if k.startswith("memory"))


def test_bench_fairness_computes_what_fairlearn_computes():
    bench = _load("bench_fairness")
    df = bench.make_data(3000)
    ours = bench.run_fairgate(df)
    theirs = bench.run_fairlearn(df)
    floor = bench.run_floor(df)
    assert floor.sum() == len(df)
    sel = ours[
        (ours.view == "race|age") & (ours.metric == "selection_rate") & (ours.kind == "difference")
    ].value.iloc[0]
    expected = theirs["selection_rate"].max() - theirs["selection_rate"].min()
    assert abs(sel - expected) <= 1e-12


def test_bench_explain_runs_at_tiny_sizes(capsys):
    bench = _load("bench_explain")
    out = bench.main(
        ["--sizes", "200", "--background", "20", "--black-box-rows", "10", "--audit-rows", "60"]
    )
    printed = capsys.readouterr().out
    assert "ratio fairgate/shap TreeSHAP at 200 rows:" in printed
    assert "explainability section of the credit v2 audit" in printed
    assert all(np.isfinite(v) and v > 0 for v in out.values())


def test_bench_mlflow_runs(capsys, tmp_path):
    import yaml

    text = (ROOT / "audits/specs/credit_scoring_v1.yaml").read_text()
    spec = policy_inlined(yaml.safe_load(text))
    spec["checks"] = spec["checks"][:1]
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(spec))
    bench = _load("bench_mlflow")
    out = bench.main(["--repeats", "1", "--spec", str(path)])
    assert "logging overhead against the local server:" in capsys.readouterr().out
    assert out["server"] > 0 and out["sqlite"] > 0


def test_bench_media_runs(capsys):
    bench = _load("bench_media")
    spec = str(ROOT / "audits" / "specs" / "emotion_distress_v2.yaml")
    out = bench.main([spec])
    assert out[spec]["rows"] == 1200 and out[spec]["exit"] == 0
    assert "all audits:" in capsys.readouterr().out
