"""Gaming, counterfactual and recourse checks on hand-made models whose answers are known."""

from __future__ import annotations

import json
import math
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import yaml

from audits import SpecError, run_audit
from audits._spec import parse_spec
from metrics import (
    Action,
    counterfactual_flips,
    linear_recourse,
    manipulation_search,
    recourse_search,
    typical_values,
)
from reports import render_html, render_junit, render_markdown

MODELS = '''
import numpy as np


def phone(frame):
    """Approves anyone with a telephone on file."""
    return (frame["telephone"].astype(str) == "yes").astype(int).to_numpy()


def title(frame):
    """Reads only the title, a proxy of sex (never sex itself)."""
    return (frame["title"].astype(str) == "Mr").astype(int).to_numpy()


def strict(frame):
    """Cannot score a residence it has never seen."""
    if (frame["residence"] > 4).any():
        raise ValueError("residence out of range")
    return (frame["residence"] >= 4).astype(int).to_numpy()
'''


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A table of 600 applicants, a module of hand-made models, and a logistic regression."""
    folder = tmp_path_factory.mktemp("gaming")
    rng = np.random.default_rng(0)
    n = 600
    sex = rng.choice(["female", "male"], n)
    same = rng.random(n) < 0.9  # the title follows sex for 90 % of people
    title = np.where((sex == "male") == same, "Mr", "Ms")
    frame = pd.DataFrame(
        {
            "sex": sex,
            "age_band": rng.choice(["<25", "25+"], n),
            "title": title,
            "telephone": rng.choice(["yes", "no"], n),
            "residence": rng.integers(1, 5, n),
            "income": rng.integers(0, 40, n),
            "savings": rng.integers(0, 10, n),
        }
    )
    frame["outcome"] = (frame.income + 2 * frame.savings + rng.normal(0, 5, n) > 30).astype(int)
    frame.to_csv(folder / "table.csv", index=False)
    (folder / "fg_gaming_models.py").write_text(MODELS, encoding="utf-8")
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(frame[["income", "savings"]], frame["outcome"])
    import skops.io as sio

    sio.dump(lr, folder / "linear.skops")
    return folder


def _spec(case: Path, checks: list[dict], function: str = "phone", **data) -> dict:
    return {
        "name": "gaming-case",
        "model": {"kind": "python", "uri": f"fg_gaming_models:{function}"},
        "data": {
            "path": str(case / "table.csv"),
            "label": "outcome",
            "sensitive": ["sex", "age_band"],
            **data,
        },
        "checks": checks,
    }


def _run(case: Path, spec: dict) -> dict:
    path = case / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return run_audit(path).document


def _check(doc: dict, name: str) -> dict:
    return next(c for c in doc["checks"] if c["name"] == name)


PHONE = {"telephone": {"values": ["yes", "no"]}}
RESIDENCE = {"residence": {"range": [1, 4]}}


def test_a_telephone_rule_is_fully_manipulable_through_the_telephone_only(case):
    frame = pd.read_csv(case / "table.csv")
    refused = frame[frame.telephone == "no"].reset_index(drop=True)

    def decide(x: pd.DataFrame) -> np.ndarray:
        return (x["telephone"] == "yes").to_numpy()

    found = manipulation_search(
        decide, refused, options={"telephone": ["yes", "no"], "residence": [1, 2, 3, 4]}
    )
    assert found.flipped.all()
    assert found.top[0] == ("telephone set to yes", len(refused))
    without = manipulation_search(decide, refused, options={"residence": [1, 2, 3, 4]})
    assert not without.flipped.any() and without.top == ()
    assert without.candidates == 3 * len(refused)  # every other residence, no no-op


def test_manipulability_check_fails_the_telephone_rule_and_names_the_manipulation(case):
    checks = [
        {"type": "manipulability", "name": "phone", "manipulable_features": PHONE,
         "max_share": 0.05, "max_disparity": 0.1},
        {"type": "manipulability", "name": "stay", "manipulable_features": RESIDENCE,
         "max_changes": 1, "max_share": 0.05},
    ]  # fmt: skip
    doc = _run(case, _spec(case, checks))
    phone = _check(doc, "phone [all]")
    assert phone["status"] == "fail" and phone["value"] == 1.0
    refused = int((pd.read_csv(case / "table.csv").telephone == "no").sum())
    assert phone["details"]["count"] == phone["details"]["n"] == refused
    top = phone["details"]["top_manipulations"][0]
    assert top["change"] == "telephone no -> yes" and top["count"] == refused
    assert "telephone no -> yes flips 100%" in phone["message"]
    for g in phone["by_group"].values():  # every group: count, denominator, interval
        assert g["value"] == 1.0 and g["numerator"] == g["denominator"] and g["ci"][0] > 0.8
    gap = _check(doc, "phone disparity [sex]")
    assert gap["status"] == "pass" and gap["value"] == 0.0 and gap["ci"][0] == 0.0
    stay = _check(doc, "stay [all]")
    assert stay["status"] == "pass" and stay["value"] == 0.0 and stay["ci"][1] < 0.02
    assert doc["verdict"] == "fail"


def test_a_proxy_reader_flips_under_proxy_flipping_only(case):
    frame = pd.read_csv(case / "table.csv")
    typical = typical_values(frame, "sex", ["title"])
    assert typical == {"female": {"title": "Ms"}, "male": {"title": "Mr"}}
    checks = [
        {"type": "counterfactual_flip", "name": "sex", "attribute": "sex", "max_share": 0.01},
        {"type": "counterfactual_flip", "name": "sex via title", "attribute": "sex",
         "proxies": ["title"], "max_share": 0.01},
    ]  # fmt: skip
    doc = _run(case, _spec(case, checks, function="title"))
    alone, proxied = _check(doc, "sex [all]"), _check(doc, "sex via title [all]")
    assert alone["status"] == "pass" and alone["value"] == 0.0
    assert alone["details"]["flipped_columns"] == ["sex"]
    # Setting the title as for the other sex changes the decision of everyone whose title
    # is their sex's typical one (90 %), and of nobody else.
    typical_title = np.where(frame.sex == "male", "Mr", "Ms") == frame.title
    assert proxied["status"] == "fail"
    assert proxied["details"]["count"] == int(typical_title.sum())
    assert proxied["details"]["flipped_columns"] == ["sex", "title"]
    assert "sex and title are set as for another sex" in proxied["message"]


def test_counterfactual_flips_counts_each_target():
    rows = pd.DataFrame({"g": ["a", "a", "b"], "x": [0, 1, 0]})
    res = counterfactual_flips(
        lambda f: f["g"].to_numpy(), rows, current=rows.g.to_numpy(), targets={"a": {"g": "a"},
        "b": {"g": "b"}}
    )  # fmt: skip
    assert res.changed.all() and res.by_target == {"a": (1, 1), "b": (2, 2)}


def _linear(coef, intercept):
    return lambda x: x[["income", "savings"]].to_numpy(float) @ coef + intercept > 0


def test_linear_recourse_equals_the_closed_form_and_the_integer_program():
    rng = np.random.default_rng(1)
    rows = pd.DataFrame({"income": rng.integers(0, 20, 300), "savings": rng.integers(0, 5, 300)})
    coef, b = np.array([0.31, 0.73]), -9.05
    refused = rows[~_linear(coef, b)(rows)].reset_index(drop=True)
    # One action: the closed form is cost × the fewest whole steps over the boundary.
    one = recourse_search(
        _linear(coef, b), refused, actions=[Action("income", "up", 2.0, tuple(range(0, 61)))],
        max_cost=1000, max_changes=1,
    )  # fmt: skip
    margin = -(refused[["income", "savings"]].to_numpy(float) @ coef + b)
    steps = np.floor(margin / 0.31) + 1  # strictly above 0 (no exact tie here)
    closed = np.where(refused.income + steps <= 60, 2.0 * steps, np.inf)
    np.testing.assert_allclose(one.cost, closed)
    # Two actions, up to two changes: the search over the integer grids equals the MILP.
    acts = [Action("income", "up", 2.0, tuple(range(0, 41))),
            Action("savings", "up", 5.0, tuple(range(0, 8)))]  # fmt: skip
    two = recourse_search(_linear(coef, b), refused, actions=acts, max_cost=40, max_changes=2)
    exact = linear_recourse(
        coef, b, refused[["income", "savings"]].to_numpy(float), columns=[0, 1],
        directions=["up", "up"], costs=[2.0, 5.0], bounds=[(0, 40), (0, 7)], max_cost=40,
    )  # fmt: skip
    np.testing.assert_allclose(two.cost, exact)
    assert np.isfinite(exact).sum() > 50 and np.isinf(exact).sum() > 0  # both cases occur
    assert (two.cost < one.cost).any()  # savings is sometimes cheaper


def test_recourse_check_on_a_logistic_regression_agrees_with_the_exact_cost(case):
    checks = [
        {"type": "recourse", "actionable_features": {
            "income": {"range": [0, 45], "grid": 46, "direction": "up", "cost": 1},
            "savings": {"range": [0, 9], "grid": 10, "direction": "up", "cost": 3}},
         "max_cost": 20, "max_changes": 2, "min_share": 0.5, "max_disparity": 0.2,
         "max_cost_gap": 5},
    ]  # fmt: skip
    spec = _spec(case, checks, exclude=["sex", "age_band", "title", "telephone", "residence"])
    spec["model"] = {"kind": "sklearn", "uri": str(case / "linear.skops")}
    doc = _run(case, spec)
    overall = _check(doc, "recourse [all]")
    exact = overall["details"]["exact_linear"]
    assert exact["rows"] == overall["details"]["n"] > 100
    assert exact["agree"] == exact["rows"]
    assert overall["status"] == "pass" and 0.5 < overall["value"] <= 1
    assert {"recourse disparity [sex]", "recourse cost gap [sex]"} <= {
        c["name"] for c in doc["checks"]
    }


def test_an_immutable_attribute_is_never_changed():
    rng = np.random.default_rng(2)
    rows = pd.DataFrame({"id": range(200), "sex": rng.choice(["f", "m"], 200),
                         "age": rng.integers(18, 90, 200), "income": rng.integers(0, 9, 200),
                         "phone": rng.choice(["yes", "no"], 200)})  # fmt: skip
    seen = []

    def decide(x: pd.DataFrame) -> np.ndarray:
        seen.append(x.copy())
        return (x.income >= 8).to_numpy() & (x.phone == "yes").to_numpy()

    recourse_search(decide, rows, actions=[Action("income", "up", 1.0, tuple(range(9)))],
                    max_cost=9, max_changes=1)  # fmt: skip
    manipulation_search(decide, rows, options={"phone": ["yes", "no"]})
    tried = pd.concat(seen)
    assert len(tried) > 1000
    back = rows.set_index("id").loc[tried.id]
    assert (back.sex.to_numpy() == tried.sex.to_numpy()).all()
    assert (back.age.to_numpy() == tried.age.to_numpy()).all()


@pytest.mark.parametrize(
    ("check", "key"),
    [
        ({"type": "manipulability", "manipulable_features": {"sex": {"values": ["f"]}},
          "max_share": 0.1}, "manipulable_features"),
        ({"type": "recourse", "actionable_features": {"age_band": {"values": ["<25", "25+"],
          "direction": "up", "cost": 1}}, "max_cost": 3, "min_share": 0.5},
         "actionable_features"),
        ({"type": "recourse", "immutable": ["income"], "actionable_features": {"income": {
          "range": [0, 9], "direction": "up", "cost": 1}}, "max_cost": 3, "min_share": 0.5},
         "actionable_features"),
    ],
)  # fmt: skip
def test_a_spec_declaring_an_immutable_column_changeable_is_refused(case, check, key):
    with pytest.raises(SpecError) as err:
        parse_spec(_spec(case, [check]))
    assert any(
        f"checks[0].{key} must not name an immutable column" in p for p in err.value.problems
    )


def test_a_model_that_cannot_score_candidates_is_an_error_not_a_pass(case):
    checks = [{"type": "manipulability", "manipulable_features": {"residence": {"range": [1, 9]}},
               "max_share": 0.5}]  # fmt: skip
    doc = _run(case, _spec(case, checks, function="strict"))
    assert [c["status"] for c in doc["checks"]] == ["error"]
    assert "residence out of range" in doc["checks"][0]["message"]
    assert doc["verdict"] == "error" and doc["exit_code"] == 2


def test_a_decision_log_skips_the_checks_and_is_never_a_pass(case):
    frame = pd.read_csv(case / "table.csv")
    frame["decision"] = (frame.telephone == "yes").astype(int)
    frame.to_csv(case / "log.csv", index=False)
    checks = [{"type": "manipulability", "manipulable_features": PHONE, "max_share": 0.05},
              {"type": "counterfactual_flip", "attribute": "sex", "max_share": 0.05}]  # fmt: skip
    spec = _spec(case, checks, path=str(case / "log.csv"))
    spec["model"] = {"kind": "predictions", "column": "decision"}
    doc = _run(case, spec)
    assert [c["status"] for c in doc["checks"]] == ["skipped", "skipped"]
    assert "decision log" in doc["checks"][0]["message"]
    assert doc["verdict"] == "inconclusive" and doc["exit_code"] == 2


def test_reports_show_the_checks_in_plain_language_under_the_disclosure_rule(case):
    checks = [
        {"type": "manipulability", "name": "phone", "manipulable_features": PHONE,
         "max_share": 0.05, "max_disparity": 0.1, "views": ["sex", "sex|age_band"]},
        {"type": "recourse", "actionable_features": {
            "residence": {"range": [1, 4], "direction": "up", "cost": 1}},
         "max_cost": 3, "max_changes": 1, "min_share": 0.5, "views": ["sex"]},
    ]  # fmt: skip
    doc = _run(case, _spec(case, checks))
    # A group with fewer than 11 refusals must not show its count anywhere.
    small = {"phone [all]": "sex=female|age_band=<25"}
    entry = _check(doc, "phone [all]")["by_group"]
    assert all(g["n"] >= 11 for g in entry.values())  # this data has no small group
    doc = json.loads(json.dumps(doc))
    target = _check(doc, "phone [all]")
    target["by_group"][small["phone [all]"]].update(n=7, numerator=7, denominator=7)
    target["details"]["top_manipulations"].append(
        {"change": "residence 1 -> 4", "count": 3, "share": 3 / 300, "ci": [0.0, 0.03]}
    )
    html = render_html(doc)
    assert "Gaming, counterfactuals and recourse" in html
    assert "telephone no -&gt; yes" in html and "residence 1 -&gt; 4" not in html
    assert "1 other manipulation(s) suppressed" in html
    row = html.split("sex female, age band &lt;25")[1].split("</tr>")[0]
    assert ">7<" not in row and "suppressed" in row
    md = render_markdown(doc)
    assert "phone \\[all\\]" in md and "telephone no -> yes flips" in md
    suite = ET.fromstring(render_junit(doc).split("?>", 1)[1])
    names = {c.get("name"): c for c in suite.iter("testcase")}
    assert names["phone [all]"].find("failure") is not None
    assert names["recourse [all]"].get("classname") == "fairgate.recourse"


def test_the_credit_v1_spec_runs_the_checks_end_to_end(in_repo, tmp_path):
    spec = yaml.safe_load((in_repo / "audits/specs/credit_scoring_v1.yaml").read_text())
    spec["checks"] = [c for c in spec["checks"] if c.get("type") in
                      ("counterfactual_flip", "recourse")]  # fmt: skip
    assert len(spec["checks"]) >= 3
    path = tmp_path / "v1.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    doc = run_audit(path).document
    by_name = {c["name"]: c for c in doc["checks"]}
    age = next(c for n, c in by_name.items() if n.startswith("age") and n.endswith("[all]"))
    assert age["status"] == "fail" and age["value"] > 0.05  # v1 reads age
    assert age["details"]["flipped_columns"] == ["age_band", "age"]
    rec = by_name["recourse [all]"]
    refused = sum(
        g["tn"] + g["fn"] for k, g in doc["groups"].items() if k.startswith("sex=") and "|" not in k
    )
    assert rec["details"]["n"] == refused > 50
    assert math.isfinite(rec["details"]["median_cost"])
    assert doc["verdict"] == "fail"


def test_the_v3_scorecard_is_blocked_for_its_points_for_stability(in_repo, fairgate, tmp_path):
    spec = yaml.safe_load((in_repo / "audits/specs/credit_scoring_v3.yaml").read_text())
    spec["checks"] = [c for c in spec["checks"] if c.get("type") == "manipulability"]
    path = tmp_path / "v3.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = fairgate("run", path, "--no-mlflow", "-q", "--out", out)
    assert code == 1, err
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    manip = _check(doc, "manipulability [all]")
    assert manip["status"] == "fail" and manip["ci"][0] > 0.5
    named = [t["change"] for t in manip["details"]["top_manipulations"]]
    assert named[0] == "telephone no -> yes" and any("residence_since" in t for t in named)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Most effective manipulations" in html and "telephone no -&gt; yes flips" in html
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.find("testcase[@name='manipulability [all]']/failure") is not None


def test_the_gaming_benchmark_runs_at_a_tiny_size(capsys):
    import importlib.util

    path = Path(__file__).parent / "benchmarks" / "bench_gaming.py"
    spec = importlib.util.spec_from_file_location("fairgate_bench_gaming", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--refused", "20", "--models", "v3"])
    out = capsys.readouterr().out
    assert "v3: manipulability" in out and "recourse / predict ratio" in out


def test_mlflow_logs_the_checks_in_a_gaming_run_without_small_counts(case, tmp_path):
    from mlflow.tracking import MlflowClient

    from reports import log_audit, metric_key

    checks = [
        {"type": "manipulability", "name": "phone", "manipulable_features": PHONE,
         "max_share": 0.05},
        {"type": "counterfactual_flip", "name": "few", "attribute": "sex", "proxies": ["title"],
         "max_share": 0.05},
    ]  # fmt: skip
    doc = json.loads(json.dumps(_run(case, _spec(case, checks))))
    few = _check(doc, "few [all]")
    few["details"].update(count=7)  # as if 7 of 600 decisions changed: never logged
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logged = log_audit(doc, {}, tracking_uri=uri)
    client = MlflowClient(tracking_uri=uri)
    metrics = client.get_run(logged["run_id"]).data.metrics
    assert metrics[metric_key("check", "phone [all]")] == 1.0
    assert metric_key("check", "few [all]") not in metrics
    run = client.get_run(logged["run_id"])
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{logged['run_id']}'"
    )
    assert {c.data.tags["fairgate.family"] for c in children} == {"gaming"}
