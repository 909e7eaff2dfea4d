"""Score metrics: evidence rules, DeLong intervals, simultaneous disparity intervals, and
multiclass models (one-vs-rest scores, class-named checks, explanations)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from metrics import (
    auc_delong,
    expected_calibration_error,
    group_metrics,
    score_disparity,
    score_metrics,
    score_range_interval,
)

from .bad_inputs_support import log_spec


def _binormal(rng, n, delta, base=0.4):
    """Outcomes and scores whose true ROC AUC is ``Φ(delta / √2)``."""
    y = rng.random(n) < base
    return y, rng.normal(size=n) + delta * y


def _scored_log(folder, groups, seed=0):
    """A decision log with a probability column: per group ``(n, positives, delta)``."""
    rng = np.random.default_rng(seed)
    frames = []
    for group, (n, positives, delta) in groups.items():
        y = np.zeros(n, dtype=bool)
        y[rng.choice(n, positives, replace=False)] = True
        score = 1 / (1 + np.exp(-(rng.normal(size=n) + delta * y - 1.0)))
        frames.append(
            pd.DataFrame(
                {"group": group, "outcome": y.astype(int), "decision": (score > 0.5).astype(int)}
            ).assign(score=score)
        )
    path = folder / "log.csv"
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return path


# --- evidence rules -------------------------------------------------------------------------


def test_group_with_one_positive_is_insufficient_not_a_fail(tmp_path, write_spec, fairgate):
    # Group c: 683 rows, one positive scored highest of all: its AUC is 1.0, a gap of ~0.2 to
    # a and b that alone would fail `max: 0.1`.
    log = _scored_log(tmp_path, {"a": (400, 160, 1.4), "b": (400, 160, 1.4), "c": (683, 1, 0)})
    frame = pd.read_csv(log)
    one = frame.index[(frame.group == "c") & (frame.outcome == 1)][0]
    frame.loc[one, "score"] = 0.9999
    frame.to_csv(log, index=False)
    spec = log_spec(
        log,
        model={"score_column": "score"},
        checks=[{"metric": "roc_auc", "disparity": "difference", "max": 0.1}],
    )
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    check = json.loads((out / "results.json").read_text())["checks"][0]
    assert check["by_group"]["group=c"]["value"] == 1.0
    assert check["by_group"]["group=c"]["status"] == "insufficient"
    assert check["details"]["insufficient_groups"] == ["group=c"]
    assert "group=c" in check["message"] and "positives and negatives" in check["message"]
    assert check["status"] == "insufficient_evidence" and code == 2
    assert check["value"] < 0.1  # a against b only


def test_score_table_marks_auc_evidence():
    rng = np.random.default_rng(0)
    y, s = _binormal(rng, 300, 1.0)
    g = np.where(np.arange(300) < 150, "a", "b")
    y[g == "b"] = False
    y[np.flatnonzero(g == "b")[:4]] = True  # 4 positives < min_denominator=5
    gm = group_metrics(y, s > 0, pd.Series(g, name="g"), scores=1 / (1 + np.exp(-s)), n_boot=50)
    auc = gm.scores[gm.scores.metric == "roc_auc"].set_index("group")
    assert auc.loc["g=a", "sufficient"] and not auc.loc["g=b", "sufficient"]
    assert auc.loc["g=b", "positives"] == 4 and auc.loc["g=b", "negatives"] == 146
    others = gm.scores[(gm.scores.metric != "roc_auc") & (gm.scores.group == "g=b")]
    assert others.sufficient.all()  # only the AUC needs positives and negatives


# --- DeLong ---------------------------------------------------------------------------------


def _delong_by_definition(y, s):
    """DeLong et al. (1988), eq. (2)-(5), pair by pair (O(n1 n0))."""
    pos, neg = s[y], s[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def test_delong_equals_its_definition_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    y, s = _binormal(rng, 257, 0.9)
    s = np.round(s, 1)  # many ties
    auc, var = auc_delong(y, s)
    ref_auc, ref_var = _delong_by_definition(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc == pytest.approx(ref_auc, abs=1e-12) and var == pytest.approx(ref_var, rel=1e-10)


def test_delong_variance_agrees_with_the_bootstrap():
    rng = np.random.default_rng(11)
    y, s = _binormal(rng, 400, 1.2)
    _, var = auc_delong(y, s)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    boot = []
    for _ in range(3000):  # stratified: positives and negatives resampled separately
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        boot.append(auc_delong(y[idx], s[idx])[0])
    assert var == pytest.approx(np.var(boot, ddof=1), rel=0.1)


def test_perfect_auc_is_never_certain():
    y = np.array([True] * 6 + [False] * 40)
    s = np.linspace(0, 1, 46)[::-1]
    gm = group_metrics(
        y, s > 0.5, pd.Series(["a"] * 46, name="g"), scores=s, n_boot=20, min_group_size=10
    )
    row = gm.scores[gm.scores.metric == "roc_auc"].iloc[0]
    assert row.value == 1.0 and row.ci_high == 1.0
    assert row.ci_low < 0.7 and row.se > 0  # Wilson over min(6, 40) trials: 0.61


# --- simultaneous disparity interval --------------------------------------------------------


@pytest.mark.parametrize(
    "deltas",
    [(1.0, 1.0), (1.0, 1.0, 1.0, 1.0), (0.8, 1.0, 1.3)],
    ids=["2 equal", "4 equal", "3 unequal"],
)
@pytest.mark.parametrize("kind", ["difference", "ratio"])
def test_auc_disparity_interval_coverage(deltas, kind):
    rng = np.random.default_rng(1)
    true = np.array([NormalDist().cdf(d / np.sqrt(2)) for d in deltas])
    truth = true.max() - true.min() if kind == "difference" else true.min() / true.max()
    hits = 0
    reps = 400
    for _ in range(reps):
        est = np.array([auc_delong(*_binormal(rng, 200, d)) for d in deltas])
        low, high = score_range_interval(est[:, 0], np.sqrt(est[:, 1]), kind=kind)
        hits += low <= truth <= high
    assert 0.93 <= hits / reps <= 0.995


def test_range_interval_is_the_two_group_interval_and_bounds_the_estimate():
    z = NormalDist().inv_cdf(0.975)
    low, high = score_range_interval(
        np.array([0.7, 0.8]), np.array([0.03, 0.04]), kind="difference"
    )
    assert (low, high) == pytest.approx((0.1 - z * 0.05, 0.1 + z * 0.05))
    values = np.array([0.61, 0.74, 0.70, 0.66, 0.72])
    low, high = score_range_interval(values, np.full(5, 0.03), kind="difference")
    assert 0 <= low < values.max() - values.min() < high
    low, high = score_range_interval(values, np.full(5, 0.03), kind="ratio")
    assert low < values.min() / values.max() < high <= 1


def test_calibration_error_has_an_interval_and_a_disparity_interval():
    rng = np.random.default_rng(2)
    n = 1200
    g = np.where(np.arange(n) < n // 2, "a", "b")
    s = rng.random(n)
    y = rng.random(n) < np.where(g == "a", s, 0.5 * s + 0.25)  # b is badly calibrated
    gm = group_metrics(y, s > 0.5, pd.Series(g, name="g"), scores=s, n_boot=400, seed=3)
    rows = gm.scores[gm.scores.metric == "calibration_error"].set_index("group")
    for key in ("g=a", "g=b"):
        m = g == key[-1]
        assert rows.loc[key, "value"] == pytest.approx(expected_calibration_error(y[m], s[m]))
        assert rows.loc[key, "ci_low"] < rows.loc[key, "value"] < rows.loc[key, "ci_high"]
    d = score_disparity(gm.scores, "calibration_error", view="g", kind="difference")
    assert d.ci[0] > 0 and d.ci[0] < d.value < d.ci[1]
    again = group_metrics(y, s > 0.5, pd.Series(g, name="g"), scores=s, n_boot=400, seed=3)
    pd.testing.assert_frame_equal(gm.scores, again.scores)  # seeded


# --- multiclass -----------------------------------------------------------------------------


def _three_classes(n=1800, seed=0):
    rng = np.random.default_rng(seed)
    group = rng.choice(["north", "south"], n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    shift = np.where(group == "south", 0.4, 0.0)
    label = np.digitize(x1 + 0.6 * x2 + shift + rng.normal(scale=0.7, size=n), [-0.6, 0.6])
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group, "label": label})


def test_multiclass_scores_are_one_vs_rest_per_class():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    data = _three_classes()
    X = data[["x1", "x2"]]
    model = LogisticRegression().fit(X, data.label)
    proba = model.predict_proba(X)
    gm = group_metrics(
        data.label,
        model.predict(X),
        data[["group"]],
        scores=proba,
        score_classes=list(model.classes_),
        classes=[0, 1, 2],
        n_boot=50,
    )
    auc = gm.scores[gm.scores.metric == "roc_auc"]
    assert sorted(auc["class"].unique()) == [0, 1, 2]
    for c in (0, 1, 2):
        for level in ("north", "south"):
            m = (data.group == level).to_numpy()
            row = auc[(auc["class"] == c) & (auc.group == f"group={level}")]
            expected = roc_auc_score(data.label[m] == c, proba[m, c])
            assert row.value.iloc[0] == pytest.approx(expected, abs=1e-12)
    worst = score_disparity(gm.scores, "roc_auc", view="group")
    per_class = [
        score_disparity(gm.scores, "roc_auc", view="group", klass=c).value for c in (0, 1, 2)
    ]
    assert worst.value == max(per_class) and worst.klass == int(np.argmax(per_class))


def test_multiclass_equalized_odds_value_interval_and_class_agree():
    data = _three_classes(seed=4)
    rng = np.random.default_rng(4)
    pred = np.where(rng.random(len(data)) < 0.7, data.label, rng.integers(0, 3, len(data)))
    south = (data.group == "south").to_numpy()
    pred[south & (data.label == 2).to_numpy() & (rng.random(len(data)) < 0.3)] = 1
    gm = group_metrics(data.label, pred, data[["group"]], classes=[0, 1, 2], n_boot=400)
    d = gm.disparity("equalized_odds", view="group", kind="difference")
    assert d.klass is not None and d.ci[0] <= d.value <= d.ci[1]
    same = gm.disparity("equalized_odds", view="group", kind="difference", klass=d.klass)
    assert (same.value, same.ci) == (d.value, d.ci)
    sides = [
        gm.disparity(m, view="group", klass=d.klass).value
        for m in ("true_positive_rate", "false_positive_rate")
    ]
    assert d.value == max(sides)
    others = [gm.disparity("equalized_odds", view="group", klass=c).value for c in (0, 1, 2)]
    assert d.value == max(others)


def test_multi_output_tree_model_falls_back_to_permutation():
    from sklearn.ensemble import GradientBoostingClassifier

    from metrics import explain

    data = _three_classes(n=300)
    X = data[["x1", "x2"]]
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, data.label)
    att = explain(model, X.iloc[:20], background=X.iloc[100:140], positive_index=2, seed=0)
    assert att.method == "permutation" and att.additivity_error < 1e-9
    with pytest.raises(ValueError, match="no exact tree explainer"):
        explain(model, X.iloc[:5], background=X.iloc[100:140], method="tree")


def test_multiclass_audit_names_the_class_everywhere(tmp_path, write_spec, fairgate):
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    data = _three_classes()
    model = Pipeline(
        [
            ("prepare", ColumnTransformer([("num", "passthrough", ["x1", "x2"])])),
            ("model", GradientBoostingClassifier(n_estimators=30, random_state=0)),
        ]
    ).fit(data, data.label)
    sio.dump(model, tmp_path / "model.skops")
    data.to_csv(tmp_path / "data.csv", index=False)
    spec = {
        "name": "three-classes",
        "model": {
            "kind": "sklearn",
            "uri": str(tmp_path / "model.skops"),
            "trusted_types": sio.get_untrusted_types(file=tmp_path / "model.skops"),
        },
        "data": {
            "path": str(tmp_path / "data.csv"),
            "label": "label",
            "positive_label": 2,
            "sensitive": ["group"],
        },
        "checks": [
            {"metric": "roc_auc", "disparity": "difference", "max": 0.2},
            {"metric": "roc_auc", "disparity": "difference", "max": 0.2, "class": 0},
            {"metric": "false_negative_rate", "disparity": "difference", "max": 0.3, "class": 1},
            {"metric": "false_negative_rate", "disparity": "difference", "max": 0.3, "class": 2},
            {"metric": "equalized_odds", "disparity": "difference", "max": 0.3},
            {"type": "sensitive_attribution", "max": 0.05},
        ],
        "explain": {"rows": 40, "background": 20},
        "n_boot": 200,
    }
    out = tmp_path / "out"
    fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    checks = doc["checks"]
    assert not doc["errors"] and doc["model"]["scores"]
    names = [c["name"] for c in checks]
    assert len(set(names)) == len(names)
    fairness = [c for c in checks if c["type"] in ("group_metric", "score_metric")]
    for c in fairness:
        klass = c["details"]["class"]
        assert klass is not None and c["status"] != "skipped"
        assert f"[class={klass}]" in c["name"] and f"class {klass}" in c["message"]
        assert c["ci"][0] <= c["value"] <= c["ci"][1]
    assert fairness[1]["details"]["class"] == "0" and fairness[3]["details"]["class"] == "2"
    auc_worst = fairness[0]
    proba = model.predict_proba(data)
    from sklearn.metrics import roc_auc_score

    klass = int(auc_worst["details"]["class"])
    aucs = [
        roc_auc_score(
            data.label[data.group == g] == klass, proba[(data.group == g).to_numpy(), klass]
        )
        for g in ("north", "south")
    ]
    assert auc_worst["value"] == pytest.approx(abs(aucs[0] - aucs[1]), abs=1e-12)
    explained = checks[-1]
    assert explained["status"] != "error" and explained["details"]["method"] == "permutation"
    junit = ET.parse(out / "junit.xml").getroot()
    assert {case.get("name") for case in junit.iter("testcase")} >= set(names)
    summary = (out / "summary.md").read_text()
    report = (out / "report.html").read_text()
    from reports._text import md

    for c in fairness:  # summary.md escapes the brackets of a name as Markdown
        assert md(c["name"]) in summary and f"class={c['details']['class']}" in report


def test_calibration_disparity_interval_contains_the_true_gap():
    # One calibrated group (true error 0) and one with outcomes shrunk towards 0.5 (true binned
    # error 0.075): the sample error of the calibrated group is biased up by ~0.05, and an
    # interval that ignored that bias covered the true gap in only 65-78 % of such audits.
    rng = np.random.default_rng(7)
    keys = pd.Series(np.repeat(["a", "b"], 300), name="g")
    hits = {"difference": 0, "ratio": 0}
    reps = 120
    for r in range(reps):
        s = rng.random(600)
        p = np.where(keys == "a", s, 0.7 * s + 0.15)
        y = rng.random(600) < p
        table = score_metrics(y, s, keys, views=[("g",)], n_boot=100, seed=r)
        for kind, truth in (("difference", 0.075), ("ratio", 0.0)):
            low, high = score_disparity(table, "calibration_error", view="g", kind=kind).ci
            hits[kind] += low <= truth <= high
    assert hits["difference"] / reps >= 0.93 and hits["ratio"] / reps >= 0.93
