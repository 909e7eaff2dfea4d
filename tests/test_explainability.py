"""Explainability checks: direct use, planted proxies, reason codes, stability, skipping."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from metrics import explain, proxy_strength

from .conftest import CREDIT, SPECS, policy_inlined


@pytest.fixture(scope="module")
def credit_results(tmp_path_factory):
    """Both reference audits, run once for this module."""
    import os

    from audits.cli import main

    out = tmp_path_factory.mktemp("explain")
    cwd = os.getcwd()
    os.chdir(SPECS.parents[1])
    try:
        codes = {
            v: main(
                [
                    "run",
                    str(SPECS / f"credit_scoring_{v}.yaml"),
                    "--out",
                    str(out / v),
                    "--no-mlflow",
                    "-q",
                ]
            )
            for v in ("v1", "v2")
        }
    finally:
        os.chdir(cwd)
    docs = {v: json.loads((out / v / "results.json").read_text()) for v in codes}
    return codes, docs, out


def _check(doc, kind):
    return next(c for c in doc["checks"] if c["type"] == kind)


def test_v1_fails_direct_use_and_v2_passes(credit_results):
    codes, docs, _ = credit_results
    v1 = _check(docs["v1"], "sensitive_attribution")
    v2 = _check(docs["v2"], "sensitive_attribution")
    assert v1["status"] == "fail" and v1["value"] > 0.05
    assert {"age", "personal_status"} <= {f for f, g in v1["by_group"].items() if g["value"] > 0}
    assert v2["status"] == "pass" and v2["value"] == 0.0
    assert codes == {"v1": 1, "v2": 0}


def test_exact_tree_explanations_add_up(credit_results):
    _, docs, _ = credit_results
    for doc in docs.values():
        details = _check(doc, "sensitive_attribution")["details"]
        assert details["method"].startswith("tree")
        assert details["additivity_error"] <= 1e-6
        assert details["rows"] == 600 and doc["run"]["seconds"]["explain"] > 0
        assert "seconds" not in details  # time spent is in the run block, not the results


def test_v2_report_names_its_strongest_age_proxies(credit_results):
    _, docs, out = credit_results
    proxy = _check(docs["v2"], "proxy_attribution")
    age = proxy["by_group"]["age_band"]
    assert age["strongest"][0]["feature"] == "employment_since"
    assert 0.5 < age["strongest"][0]["auc"] < 0.7 and 0.5 < age["all_features_auc"] < 1
    html = (out / "v2" / "report.html").read_text()
    assert "Strongest proxies of age_band" in html and "employment_since" in html
    for name in ("explain_importance", "explain_beeswarm", "explain_groups"):
        assert (out / "v2" / f"{name}.png").stat().st_size > 1000
        assert (out / "v2" / f"{name}.svg").exists()
    assert html.count("data:image/png;base64,") == 3


def test_reason_codes_are_aggregates_and_v1_refuses_for_protected_reasons(credit_results):
    _, docs, out = credit_results
    v1, v2 = _check(docs["v1"], "reason_codes"), _check(docs["v2"], "reason_codes")
    assert v1["status"] == "fail" and v2["status"] == "pass" and v2["value"] == 1.0
    assert set(v1["by_group"]) >= {"sex=female", "sex=male", "age_band=<25"}
    assert not (out / "v1" / "PERSONAL-DATA_reason_codes.csv").exists()


@pytest.fixture
def planted(tmp_path):
    """Synthetic data: ``proxy`` is the sensitive attribute plus small noise."""
    rng = np.random.default_rng(0)
    n = 1200
    s = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "s": np.where(s == 1, "a", "b"),
            "proxy": s + rng.normal(0, 0.15, n),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )
    y = (0.9 * s + 0.6 * frame.x1 + rng.normal(0, 0.5, n) > 0.6).astype(int)
    frame["y"] = y
    return frame


def test_a_planted_proxy_is_named_first(planted):
    strength = proxy_strength(planted[["proxy", "x1", "x2"]], planted[["s"]])
    top = strength.strongest("s", 3)
    assert top.feature.iloc[0] == "proxy" and top.auc.iloc[0] > 0.95
    assert top.auc.iloc[1] < 0.6


def test_model_without_the_attribute_but_with_its_proxy(planted, tmp_path, write_spec, fairgate):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    model = Pipeline(
        [
            ("prepare", ColumnTransformer([("num", "passthrough", ["proxy", "x1", "x2"])])),
            ("model", GradientBoostingClassifier(random_state=0)),
        ]
    ).fit(planted, planted.y)
    sio.dump(model, tmp_path / "proxy_model.skops")
    planted.to_csv(tmp_path / "data.csv", index=False)
    spec = {
        "name": "planted-proxy",
        "model": {
            "kind": "sklearn",
            "uri": str(tmp_path / "proxy_model.skops"),
            "trusted_types": sio.get_untrusted_types(file=tmp_path / "proxy_model.skops"),
        },
        "data": {"path": str(tmp_path / "data.csv"), "label": "y", "sensitive": ["s"]},
        "checks": [
            {"type": "sensitive_attribution", "max": 0.0},
            {"type": "proxy_attribution", "strength_bound": 0.7, "max": 0.1},
        ],
        "explain": {"rows": 300, "background": 50},
    }
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    direct, proxy = doc["checks"]
    assert direct["status"] == "pass" and direct["value"] == 0.0
    assert proxy["status"] == "fail" and proxy["value"] > 0.3
    assert proxy["details"]["strong_proxies"] == ["proxy"]
    assert proxy["by_group"]["s"]["strongest"][0]["feature"] == "proxy"
    assert code == 1


def test_black_box_path_adds_up():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"c": rng.choice(["u", "v", "w"], 300), "x": rng.normal(size=300)})
    y = ((X.c == "u") | (X.x > 0.5)).astype(int)
    model = Pipeline(
        [
            ("p", ColumnTransformer([("c", OneHotEncoder(), ["c"])], remainder="passthrough")),
            ("m", LogisticRegression()),
        ]
    ).fit(X, y)
    att = explain(model, X.iloc[:40], background=X.iloc[100:140], seed=0)
    assert att.method == "permutation"
    assert att.additivity_error < 1e-9
    assert att.importance().index[0] in {"c", "x"} and att.values.shape == (40, 2)


def test_model_without_probabilities_is_skipped_never_passed(
    tmp_path, write_spec, fairgate, monkeypatch
):
    module = tmp_path / "fairgate_rules_under_test.py"
    module.write_text(
        textwrap.dedent("""
        def decide(frame):
            return (frame["duration_months"] < 24).astype(int).to_numpy()
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = {
        "name": "rule-based",
        "model": {"kind": "python", "uri": "fairgate_rules_under_test:decide"},
        "data": {
            "path": str(CREDIT / "data" / "audit.csv"),
            "label": "good_credit",
            "sensitive": ["sex"],
        },
        "checks": [
            {"metric": "selection_rate", "disparity": "ratio", "min": 0.5},
            {"type": "sensitive_attribution", "max": 0.0},
            {"type": "reason_codes", "min": 0.9},
        ],
    }
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    statuses = [c["status"] for c in doc["checks"]]
    assert statuses == ["pass", "skipped", "skipped"]
    assert "needs probabilities" in doc["checks"][1]["message"]
    assert code == 2 and doc["verdict"] == "inconclusive"


def test_per_person_reason_codes_only_when_asked(tmp_path, write_spec, fairgate, in_repo):
    import yaml

    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text()))
    spec["checks"] = [{"type": "reason_codes", "min": 0.9, "per_person": True}]
    spec["explain"] = {"rows": 120, "background": 30}
    out = tmp_path / "out"
    fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    private = out / "PERSONAL-DATA_reason_codes.csv"
    reasons = pd.read_csv(private)
    assert {"row", "reason_1", "reason_2", "reason_3"} <= set(reasons.columns)
    doc = json.loads((out / "results.json").read_text())
    assert doc["private_artifacts"] == ["PERSONAL-DATA_reason_codes.csv"]
    assert "PERSONAL-DATA" not in (out / "report.html").read_text()


def test_score_metric_disparity_with_interval(tmp_path, write_spec, fairgate, in_repo):
    import yaml
    from sklearn.metrics import roc_auc_score

    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text()))
    spec["checks"] = [
        {
            "metric": "roc_auc",
            "disparity": "difference",
            "max": 0.3,
            "views": ["sex"],
            "decide_on": "interval",
        }
    ]
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    check = json.loads((out / "results.json").read_text())["checks"][0]
    data = pd.read_csv(CREDIT / "data" / "audit.csv")
    model = sio.load(
        CREDIT / "v2" / "model.skops",
        trusted=["sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch"],
    )
    scores = model.predict_proba(data.drop(columns="good_credit"))[:, 1]
    aucs = [
        roc_auc_score(data.good_credit[data.sex == s], scores[data.sex == s])
        for s in ("female", "male")
    ]
    assert check["value"] == pytest.approx(abs(aucs[0] - aucs[1]), abs=1e-12)
    low, high = check["ci"]
    assert low <= check["value"] <= high and high - low > 0.01
    assert check["status"] in ("pass", "inconclusive") and code in (0, 2)


def test_per_person_reason_codes_are_no_spreadsheet_formulas(
    planted, tmp_path, write_spec, fairgate
):
    """A feature named like a formula is written as text in the personal-data CSV that a
    caseworker opens in a spreadsheet."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    formula = '=HYPERLINK("http://x","y")'
    data = planted.rename(columns={"x1": formula})
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [("num", "passthrough", ["proxy", formula, "x2"])],
                    verbose_feature_names_out=False,
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(data, data.y)
    sio.dump(model, tmp_path / "m.skops")
    data.to_csv(tmp_path / "data.csv", index=False)
    spec = {
        "name": "formula-feature",
        "model": {
            "kind": "sklearn",
            "uri": str(tmp_path / "m.skops"),
            "trusted_types": sio.get_untrusted_types(file=tmp_path / "m.skops"),
        },
        "data": {"path": str(tmp_path / "data.csv"), "label": "y", "sensitive": ["s"]},
        "checks": [{"type": "reason_codes", "min": 0.5, "per_person": True, "k": 2}],
        "explain": {"rows": 120, "background": 30},
    }
    out = tmp_path / "out"
    code, stdout, err = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    assert code in (0, 1), stdout + err
    text = (out / "PERSONAL-DATA_reason_codes.csv").read_text()
    assert formula.replace('"', '""') in text  # the feature is named ...
    assert '\n"=' not in text and ",=" not in text and ',"=' not in text  # ... never as a formula
    assert "'=HYPERLINK" in text
