"""Red team of the spec's thresholds: bounds that let every value pass.

A ratio check with ``min: 0``, a difference with ``max: 1`` (or ``max: true``, read as 1), a
counterfactual check with ``max_share: 1``: each was a valid spec whose check could never
fail, so an unfair model was released by a check that looked like a gate.
"""

from __future__ import annotations

import pytest

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
