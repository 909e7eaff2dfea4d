"""The engine equals fairlearn's MetricFrame and scikit-learn per group, to 1e-12."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
)

from metrics import group_metrics


def _npv(y, p):
    return ((y == 0) & (p == 0)).sum() / (p == 0).sum()


def _error(y, p):
    return 1 - accuracy_score(y, p)


def _fdr(y, p):
    return 1 - precision_score(y, p, zero_division=np.nan)


def _for(y, p):
    return 1 - _npv(y, p)


def _base(y, p):
    return np.mean(y)


FAIRLEARN = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "true_negative_rate": true_negative_rate,
    "false_negative_rate": false_negative_rate,
    "precision": lambda y, p: precision_score(y, p, zero_division=np.nan),
    "accuracy": accuracy_score,
    "error_rate": _error,
    "negative_predictive_value": _npv,
    "false_discovery_rate": _fdr,
    "false_omission_rate": _for,
    "base_rate": _base,
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    n = 4000
    frame = pd.DataFrame({"a": rng.choice(list("vwxyz"), n), "b": rng.choice(list("PQRS"), n)})
    y = rng.integers(0, 2, n)
    p = (rng.random(n) < 0.3 + 0.4 * y).astype(int)
    y[(frame.a == "z").to_numpy()] = 0  # a group with zero positives
    p[(frame.b == "S").to_numpy() & (frame.a == "v").to_numpy()] = 0  # and with zero selected
    return frame, y, p


def _ours(gm, view, metric):
    t = gm.by_group[(gm.by_group.view == view) & (gm.by_group.metric == metric)]
    return t.set_index("group")


@pytest.mark.parametrize("metric", sorted(FAIRLEARN))
def test_binary_rates_equal_fairlearn(data, metric):
    frame, y, p = data
    gm = group_metrics(y, p, frame, n_boot=100, min_group_size=1, min_denominator=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on groups with zero positives
        single = MetricFrame(
            metrics=FAIRLEARN[metric], y_true=y, y_pred=p, sensitive_features=frame["a"]
        )
        both = MetricFrame(
            metrics=FAIRLEARN[metric], y_true=y, y_pred=p, sensitive_features=frame[["a", "b"]]
        )
    ours = _ours(gm, "a", metric)
    compared = 0
    for level, theirs in single.by_group.items():
        mine = ours.loc[f"a={level}"]
        if mine.denominator == 0:
            assert np.isnan(mine.value) and not mine.sufficient
        else:
            assert mine.value == pytest.approx(theirs, abs=1e-12, rel=0)
            compared += 1
    ours = _ours(gm, "a|b", metric)
    for (la, lb), theirs in both.by_group.items():
        mine = ours.loc[f"a={la}|b={lb}"]
        if mine.denominator > 0:
            assert mine.value == pytest.approx(theirs, abs=1e-12, rel=0)
            compared += 1
    assert compared >= 20


@pytest.mark.parametrize("metric", ["selection_rate", "false_negative_rate", "accuracy"])
def test_disparities_equal_fairlearn(data, metric):
    frame, y, p = data
    keep = (frame.a != "z").to_numpy()  # groups where every rate is defined
    frame, y, p = frame[keep].reset_index(drop=True), y[keep], p[keep]
    gm = group_metrics(y, p, frame, n_boot=100, min_group_size=1, min_denominator=1)
    mf = MetricFrame(metrics=FAIRLEARN[metric], y_true=y, y_pred=p, sensitive_features=frame["b"])
    assert gm.disparity(metric, view="b", kind="difference").value == pytest.approx(
        mf.difference(), abs=1e-12
    )
    assert gm.disparity(metric, view="b", kind="ratio").value == pytest.approx(
        mf.ratio(), abs=1e-12
    )
    eod = gm.disparity("equalized_odds", view="b", kind="difference")
    assert eod.value == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=frame["b"]), abs=1e-12
    )
    assert gm.disparity("equalized_odds", view="b", kind="ratio").value == pytest.approx(
        equalized_odds_ratio(y, p, sensitive_features=frame["b"]), abs=1e-12
    )


def test_multiclass_equals_sklearn_per_group():
    rng = np.random.default_rng(7)
    n, classes = 3000, ["billing", "hostile", "permits", "taxes"]
    g = rng.choice(["f", "m", "o"], n)
    y = rng.choice(classes, n)
    p = np.where(rng.random(n) < 0.6, y, rng.choice(classes, n))
    p[(g == "o") & (y == "permits")] = "hostile"  # one group often sent to "hostile"
    gm = group_metrics(
        y,
        p,
        pd.Series(g, name="g"),
        classes=classes,
        n_boot=200,
        min_group_size=1,
        min_denominator=1,
    )
    for key, counts in zip(gm.groups("g").keys, gm.groups("g").counts, strict=True):
        m = g == key.split("=")[1]
        np.testing.assert_array_equal(counts, confusion_matrix(y[m], p[m], labels=classes))
        table = gm.by_group[gm.by_group.group == key]
        recall = recall_score(y[m], p[m], labels=classes, average=None)
        precision = precision_score(y[m], p[m], labels=classes, average=None, zero_division=0)
        for i, c in enumerate(classes):
            row = table[(table.metric == "true_positive_rate") & (table["class"] == c)]
            assert row.value.iloc[0] == pytest.approx(recall[i], abs=1e-12)
            row = table[(table.metric == "precision") & (table["class"] == c)]
            assert row.value.iloc[0] == pytest.approx(precision[i], abs=1e-12)
        overall = table[(table.metric == "accuracy") & table["class"].isna()]
        assert overall.value.iloc[0] == pytest.approx(accuracy_score(y[m], p[m]), abs=1e-12)
    worst = gm.disparity("false_positive_rate", view="g", kind="difference")
    assert worst.klass == "hostile" and worst.worst_group == "g=o"
    per_class = [gm.disparity("false_positive_rate", view="g", klass=c).value for c in classes]
    assert worst.value == pytest.approx(max(per_class))


def test_score_metrics_equal_sklearn():
    rng = np.random.default_rng(3)
    n = 2000
    g = pd.Series(rng.choice(["a", "b"], n), name="g")
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    gm = group_metrics(y, (s > 0.5).astype(int), g, scores=s, n_boot=100)
    table = gm.scores.set_index(["group", "metric"])
    for level in ("a", "b"):
        m = (g == level).to_numpy()
        assert table.loc[(f"g={level}", "roc_auc"), "value"] == pytest.approx(
            roc_auc_score(y[m], s[m]), abs=1e-12
        )
        assert table.loc[(f"g={level}", "brier_score"), "value"] == pytest.approx(
            brier_score_loss(y[m], s[m]), abs=1e-12
        )
        assert table.loc[(f"g={level}", "mean_score"), "value"] == pytest.approx(
            s[m].mean(), abs=1e-12
        )
        assert table.loc[(f"g={level}", "scoring_rate"), "value"] == pytest.approx(
            (s[m] > np.median(s)).mean(), abs=1e-12
        )
