"""Red team of the spec's thresholds: bounds that let every value pass.

A ratio check with ``min: 0``, a difference with ``max: 1`` (or ``max: true``, read as 1), a
counterfactual check with ``max_share: 1``: each was a valid spec whose check could never
fail, so an unfair model was released by a check that looked like a gate.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from audits import parse_spec
from audits._spec_base import SpecError
from audits._spec_policy import ImpactRatioCheck

from .bad_inputs_support import assert_no_release, decision_log, log_spec, write_yaml

UNFAIR = {"a": (200, 0.5, 0.5), "b": (200, 0.5, 0.1)}


@pytest.mark.parametrize(
    ("check", "words"),
    [
        ({"metric": "selection_rate", "disparity": "ratio", "min": 0}, "lets every value pass"),
        ({"metric": "selection_rate", "disparity": "ratio", "min": 0.0, "max": 1.0}, "every"),
        ({"metric": "selection_rate", "disparity": "difference", "max": 1}, "every value pass"),
        ({"metric": "selection_rate", "disparity": "difference", "max": True}, "not a boolean"),
        ({"metric": "selection_rate", "disparity": "ratio", "min": False}, "not a boolean"),
        (
            {"type": "counterfactual_flip", "attribute": "group", "max_share": 1.0},
            "lets every share pass",
        ),
        (
            {"type": "counterfactual_flip", "attribute": "group", "max_share": True},
            "not a boolean",
        ),
    ],
)
def test_a_check_that_cannot_fail_is_refused(fairgate, tmp_path, check, words) -> None:
    log = decision_log(tmp_path, groups=UNFAIR)
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(log, checks=[check]))
    code, _, err = fairgate("validate", spec)
    assert code == 4 and words in err and "checks[0]" in err, err
    out = tmp_path / "out"
    code, stdout, err = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    assert code == 4, stdout + err
    assert_no_release(out)


@pytest.mark.parametrize(
    "check",
    [
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.01},
        {"metric": "selection_rate", "disparity": "ratio", "min": 0, "max": 0.99},
        {"metric": "selection_rate", "disparity": "difference", "max": 0.99},
        {"type": "counterfactual_flip", "attribute": "group", "max_share": 0.99},
    ],
)
def test_a_bound_some_value_can_break_is_kept(fairgate, tmp_path, check) -> None:
    log = decision_log(tmp_path, groups=UNFAIR)
    spec = write_yaml(tmp_path / "spec.yaml", log_spec(log, checks=[check]))
    code, stdout, err = fairgate("validate", spec)
    assert code == 0, stdout + err


SPEC_V2 = Path(__file__).resolve().parents[1] / "audits" / "specs" / "credit_scoring_v2.yaml"


def _v2_with(monkeypatch, change) -> dict:
    monkeypatch.chdir(SPEC_V2.parents[2])  # the spec's relative paths
    data = yaml.safe_load(SPEC_V2.read_text(encoding="utf-8"))
    change(data)
    return data


def _recourse(data: dict) -> dict:
    return next(c for c in data["checks"] if c.get("type") == "recourse")


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("max_cost_gap", lambda d: _recourse(d).update(max_cost_gap=True)),
        ("max_cost", lambda d: _recourse(d).update(max_cost=True)),
        ("cost", lambda d: _recourse(d)["actionable_features"]["savings"].update(cost=True)),
        ("data.min_group_size", lambda d: d["data"].update(min_group_size=True)),
        ("data.min_denominator", lambda d: d["data"].update(min_denominator=True)),
        (
            "strength_bound",
            lambda d: d["checks"].append(
                {
                    "type": "proxy_attribution",
                    "attribute": "sex",
                    "max": 0.1,
                    "strength_bound": True,
                }
            ),
        ),
    ],
)
def test_no_bound_or_group_size_is_read_from_a_boolean(monkeypatch, where, change) -> None:
    """Red team 2: ``max_cost_gap: true`` was a gap of 1, ``min_group_size: true`` judged
    groups of one person: every number a spec's decision rests on refuses a boolean."""
    data = _v2_with(monkeypatch, lambda d: None)
    parse_spec(data)  # the reference spec itself is valid
    data = _v2_with(monkeypatch, change)
    with pytest.raises(SpecError, match=rf"{where} must be a number, not a boolean"):
        parse_spec(data)


@pytest.mark.parametrize("field", ["min", "flag_below"])
def test_an_impact_ratio_bound_is_never_a_boolean(field) -> None:
    check = {"type": "impact_ratio", field: True}
    with pytest.raises(ValidationError, match="not a boolean"):
        ImpactRatioCheck.model_validate(check)
    ImpactRatioCheck.model_validate({**check, field: 0.8})
