"""Hostile or mistaken specs and decision logs (issue 10, items 2-5 and 15, decision codes,
probability columns, misleading messages): each is refused with exit 4 (the spec alone is
wrong) or 2 (the data or model are), with a message naming the problem, and no file written
claims a release.

Cases run in-process (the ``fairgate`` fixture); the ones about the process run for real.
``tests/data/adult_sample.csv`` is 400 rows of the UCI Adult data (labels ``>50K``/``<=50K``;
see tests/data/LICENSE.md).
"""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from .bad_inputs_support import (
    ROOT,
    assert_exit,
    assert_no_release,
    decision_log,
    log_spec,
    run_cli,
    write_yaml,
)

ADULT = Path(__file__).parent / "data" / "adult_sample.csv"
_ids = itertools.count()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (nothing may be written outside --out)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tmp_path


def _adult(folder: Path, **codes: Any) -> Path:
    """The Adult sample as a decision log: ``decision`` = a seeded rule, coded as asked."""
    frame = pd.read_csv(ADULT)
    rich = (frame.education_num >= 13) | (frame.hours_per_week >= 50)
    frame["decision"] = np.where(rich, codes.get("yes", ">50K"), codes.get("no", "<=50K"))
    path = folder / "adult.csv"
    frame.to_csv(path, index=False)
    return path


def _adult_spec(path: Path, **overrides: Any) -> dict[str, Any]:
    spec = log_spec(path, **overrides)
    spec["data"] = {
        **spec["data"],
        "label": "income",
        "sensitive": ["sex"],
        **overrides.get("data", {}),
    }
    return spec


def _yes_no_log(folder: Path) -> Path:
    return decision_log(
        folder, labels=("yes", "no"), groups={"a": (200, 0.5, 0.7), "b": (200, 0.5, 0.2)}
    )


def _own_model(spec: dict[str, Any], **model: Any) -> dict[str, Any]:
    """The spec with its model replaced (not merged into the decision log's)."""
    return {**spec, "model": model}


def _python_model(folder: Path, body: str) -> str:
    """A model module in the spec's folder, under a name no other test imports."""
    name = f"hostile_model_{next(_ids)}_{abs(hash(folder)) % 10**8}"
    (folder / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return name


def _python_spec(folder: Path, body: str, **model: Any) -> dict[str, Any]:
    name = _python_model(folder, body)
    checks = [
        {"metric": "selection_rate", "disparity": "ratio", "min": 0.8},
        {"metric": "roc_auc", "disparity": "difference", "max": 0.1},
    ]
    spec = log_spec(decision_log(folder), checks=checks)
    return _own_model(spec, kind="python", uri=f"{name}:predict", proba=f"{name}:proba", **model)


def _rest(folder: Path, **settings: Any) -> dict[str, Any]:
    return _own_model(
        log_spec(decision_log(folder)), kind="rest", url="http://127.0.0.1:9", **settings
    )


_STRING_PREDICT = """
    def predict(x):
        return (x["group"] == "a").map({True: "1", False: "0"})
"""


_PROBA_TWO = """
    import numpy as np

    def predict(x):
        return (x["group"] == "a").astype(int).to_numpy()

    def proba(x):
        p = np.where(x["group"] == "a", 0.9, 0.2)
        return np.column_stack([1 - p, p])
"""

_PROBA_BAD = """
    import numpy as np

    def predict(x):
        return (x["group"] == "a").astype(int).to_numpy()

    def proba(x):
        p = np.where(x["group"] == "a", 0.9, 0.2)
        return {shape}
"""


def _bad_proba(shape: str) -> str:
    return _PROBA_BAD.replace("{shape}", shape)


def _raw(text: str) -> Callable[[Path], str]:
    """A spec written as raw YAML text; ``{log}`` is the default decision log's path."""

    def build(folder: Path) -> str:
        return textwrap.dedent(text).replace("{log}", str(decision_log(folder)))

    return build


def _ratio(**bounds: Any) -> list[dict[str, Any]]:
    return [{"metric": "selection_rate", "disparity": "ratio", **bounds}]


def _diff(**bounds: Any) -> list[dict[str, Any]]:
    return [{"metric": "false_negative_rate", "disparity": "difference", **bounds}]


_BOMB = "\n".join(
    [
        "name: bomb",
        "model: {kind: predictions, column: decision}",
        "data: {path: '{log}', label: outcome, sensitive: [group]}",
        "checks: [{metric: selection_rate, disparity: ratio, min: 0.8}]",
        "a: &a [x, x, x, x, x, x, x, x, x, x]",
        *(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "system: *i",
    ]
)

#: (id, spec builder: folder → mapping or YAML text, exit code, words the message must name)
CASES: list[tuple[str, Callable[[Path], Any], int, tuple[str, ...]]] = [
    # 2. positive label not among the label values
    (
        "adult-default-positive-label",
        lambda f: _adult_spec(_adult(f)),
        2,
        ("positive_label", "1", ">50K", "<=50K"),
    ),
    (
        "positive-label-2-on-0-1",
        lambda f: log_spec(decision_log(f), data={"positive_label": 2}),
        2,
        ("positive_label", "2", "[0, 1]"),
    ),
    (
        "positive-label-text-vs-number",
        lambda f: log_spec(decision_log(f), data={"positive_label": "1"}),
        2,
        ("positive_label", "types differ", "'1'"),
    ),
    (
        "positive-label-not-in-label-values",
        lambda f: log_spec(decision_log(f), data={"label_values": [0, 1], "positive_label": 2}),
        4,
        ("data.positive_label", "data.label_values", "[0, 1]"),
    ),
    (
        "adult-label-values-default-positive",
        lambda f: _adult_spec(_adult(f), data={"label_values": [">50K", "<=50K"]}),
        4,
        ("data.positive_label", ">50K", "<=50K"),
    ),
    (
        "yaml-yes-against-boolean-label-values",
        _raw(
            """\
            name: yes-no
            model: {kind: predictions, column: decision}
            data: {path: '{log}', label: outcome, sensitive: [group], positive_label: yes,
                   label_values: [true, false]}
            checks: [{metric: selection_rate, disparity: ratio, min: 0.8}]
            """
        ),
        4,
        ("positive_label", "'yes'", "types differ"),
    ),
    # 3. thresholds outside their metric's range or meaning
    (
        "ratio-min-negative",
        lambda f: log_spec(decision_log(f), checks=_ratio(min=-0.5)),
        4,
        ("checks[0].min", "[0, 1]", "-0.5"),
    ),
    (
        "ratio-min-above-one",
        lambda f: log_spec(decision_log(f), checks=_ratio(min=1.5)),
        4,
        ("checks[0].min", "[0, 1]", "1.5"),
    ),
    (
        "difference-max-two",
        lambda f: log_spec(decision_log(f), checks=_diff(max=2.0)),
        4,
        ("checks[0].max", "[0, 1]", "2"),
    ),
    (
        "difference-max-negative",
        lambda f: log_spec(decision_log(f), checks=_diff(max=-0.1)),
        4,
        ("checks[0].max", "-0.1"),
    ),
    (
        "difference-with-min",
        lambda f: log_spec(decision_log(f), checks=_diff(min=0.05)),
        4,
        ("checks[0].min", "meaningless", "max"),
    ),
    (
        "min-above-max",
        lambda f: log_spec(decision_log(f), checks=_ratio(min=0.9, max=0.8)),
        4,
        ("checks[0].min", "greater than", "checks[0].max"),
    ),
    (
        "nan-threshold",
        _raw(
            """\
            name: nan-bound
            model: {kind: predictions, column: decision}
            data: {path: '{log}', label: outcome, sensitive: [group]}
            checks: [{metric: selection_rate, disparity: ratio, min: .nan}]
            """
        ),
        4,
        ("checks[0].min", "finite"),
    ),
    (
        "infinite-threshold",
        _raw(
            """\
            name: inf-bound
            model: {kind: predictions, column: decision}
            data: {path: '{log}', label: outcome, sensitive: [group]}
            checks: [{metric: false_negative_rate, disparity: difference, max: .inf}]
            """
        ),
        4,
        ("checks[0].max", "finite"),
    ),
    (
        "stability-tau-below-minus-one",
        lambda f: log_spec(decision_log(f), checks=[{"type": "explanation_stability", "min": -2}]),
        4,
        ("checks[0].min", "[-1, 1]", "Kendall"),
    ),
    (
        "reason-codes-share-above-one",
        lambda f: log_spec(decision_log(f), checks=[{"type": "reason_codes", "min": 1.5}]),
        4,
        ("checks[0].min", "[0, 1]", "share"),
    ),
    # 4. duplicate keys
    (
        "duplicate-max-in-a-check",
        _raw(
            """\
            name: duplicate
            model: {kind: predictions, column: decision}
            data: {path: '{log}', label: outcome, sensitive: [group]}
            checks:
              - metric: false_negative_rate
                disparity: difference
                max: 0.1
                max: 5
            """
        ),
        4,
        ("'max'", "twice", "lines 7 and 8"),
    ),
    (
        "duplicate-top-level-model",
        _raw(
            """\
            name: duplicate
            model: {kind: predictions, column: decision}
            data: {path: '{log}', label: outcome, sensitive: [group]}
            model: {kind: predictions, column: outcome}
            checks: [{metric: selection_rate, disparity: ratio, min: 0.8}]
            """
        ),
        4,
        ("'model'", "twice", "lines 2 and 4"),
    ),
    # 5. the decision column is the label column
    (
        "decision-column-is-label",
        lambda f: log_spec(decision_log(f), model={"column": "outcome"}),
        4,
        ("model.column", "'outcome'", "data.label"),
    ),
    (
        "score-column-is-label",
        lambda f: log_spec(decision_log(f), model={"score_column": "outcome"}),
        4,
        ("model.score_column", "'outcome'"),
    ),
    # 15. denial of service
    ("alias-bomb", _raw(_BOMB), 4, ("expands to more than", "aliases")),
    (
        "recursive-alias",
        _raw(
            """\
            name: loop
            model: {kind: predictions, column: decision}
            data: {path: '{log}', label: outcome, sensitive: [group],
                   expectations: [{expectation: expect_column_to_exist, kwargs: &k {c: *k}}]}
            checks: [{metric: selection_rate, disparity: ratio, min: 0.8}]
            """
        ),
        4,
        ("recursive alias",),
    ),
    (
        "huge-spec-file",
        lambda f: "system: '" + "x" * (1 << 20) + "'\n",
        4,
        ("bytes",),
    ),
    (
        "rest-backoff-1e6",
        lambda f: _rest(f, backoff_s=1e6),
        4,
        ("model.backoff_s", "less than or equal to 30"),
    ),
    (
        "rest-timeout-1e9",
        lambda f: _rest(f, timeout_s=1e9),
        4,
        ("model.timeout_s", "600"),
    ),
    (
        "rest-rate-limit-near-zero",
        lambda f: _rest(f, rate_limit_per_s=1e-9),
        4,
        ("model.rate_limit_per_s", "0.01"),
    ),
    (
        "n-boot-times-500-groups",
        lambda f: log_spec(
            decision_log(f, groups={f"g{i:03d}": (2, 0.5, 0.5) for i in range(500)}),
            n_boot=100_000,
        ),
        2,
        ("n_boot", "500 intersectional groups", "GiB"),
    ),
    # decision logs with their own codes
    (
        "adult-codes-without-mapping",
        lambda f: _adult_spec(
            _adult(f, yes="approved", no="denied"), data={"positive_label": ">50K"}
        ),
        2,
        ("'approved'", "'denied'", "decision_values"),
    ),
    (
        "adult-unmapped-code",
        lambda f: _adult_spec(
            _adult(f, yes="approved", no="denied"),
            data={"positive_label": ">50K"},
            model={"decision_values": {"approved": ">50K"}},
        ),
        2,
        ("'denied'", "decision_values"),
    ),
    (
        "decision-code-mapped-to-unknown-label",
        lambda f: log_spec(
            decision_log(f),
            data={"label_values": [0, 1]},
            model={"decision_values": {1: 1, 0: "no"}},
        ),
        4,
        ("model.decision_values", "'no'", "data.label_values"),
    ),
    # python models: probabilities and their columns
    (
        "three-probability-columns",
        lambda f: _python_spec(
            f, _bad_proba("np.column_stack([1 - p, p / 2, p / 2])"), proba_classes=[0, 1]
        ),
        2,
        ("3 columns", "[0, 1]"),
    ),
    (
        "probabilities-outside-0-1",
        lambda f: _python_spec(f, _bad_proba("np.column_stack([1 - 2 * p, 2 * p])")),
        2,
        ("outside [0, 1]",),
    ),
    (
        "probability-rows-not-summing-to-1",
        lambda f: _python_spec(f, _bad_proba("np.column_stack([p, p])")),
        2,
        ("do not sum to 1",),
    ),
    (
        "proba-classes-without-positive-label",
        lambda f: _python_spec(f, _PROBA_TWO, proba_classes=["no", "yes"]),
        2,
        ("positive_label", "'no'", "'yes'"),
    ),
    (
        "string-predictions-vs-number-labels",
        lambda f: _own_model(
            log_spec(decision_log(f)),
            kind="python",
            uri=_python_model(f, _STRING_PREDICT) + ":predict",
        ),
        2,
        ("types differ", "['0', '1'] (text)", "(text) vs 0 (number)"),
    ),
    (
        "python-module-fails-to-import",
        lambda f: _own_model(
            log_spec(decision_log(f)),
            kind="python",
            uri=_python_model(f, "raise RuntimeError('boom')") + ":f",
        ),
        2,
        ("cannot be imported", "RuntimeError: boom"),
    ),
    # misleading messages
    (
        "header-only-csv",
        lambda f: log_spec(_header_only(f)),
        2,
        ("has no rows",),
    ),
    (
        "one-level-attribute",
        lambda f: log_spec(decision_log(f, groups={"a": (300, 0.5, 0.5)})),
        2,
        ("'group' has one group", "group=a"),
    ),
    ("negative-seed-in-spec", lambda f: log_spec(decision_log(f), seed=-1), 4, ("seed", "-1")),
]


def _header_only(folder: Path) -> Path:
    path = folder / "empty.csv"
    path.write_text("group,outcome,decision\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("build", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_hostile_spec_is_refused(build, code, words, workdir, fairgate):
    spec = write_yaml(workdir / "spec.yaml", build(workdir))
    out = workdir / "out"
    got, stdout, stderr = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    output = stdout + stderr
    assert got == code, f"exit {got}, expected {code}:\n{output}"
    for word in words:
        assert word.lower() in output.lower(), f"{word!r} not in the message:\n{output}"
    assert_no_release(out, workdir / "cwd")
    if code == 4:
        assert not out.exists(), "a refused spec wrote evidence"


def test_there_are_enough_cases():
    assert len(CASES) >= 25


def test_negative_seed_option_is_a_usage_error(workdir, fairgate):
    spec = write_yaml(workdir / "spec.yaml", log_spec(decision_log(workdir)))
    code, out, err = fairgate("run", spec, "--seed", "-1", "--out", workdir / "o", "--no-mlflow")
    assert code == 4, out + err
    assert "--seed" in err and "-1" in err
    assert_no_release(workdir / "o")


def test_yaml_1_1_booleans_in_label_fields_are_read_as_written(workdir, fairgate):
    """``positive_label: yes`` on a yes/no log is the text 'yes', never True (which would
    match no label and make every group look equal)."""
    log = _yes_no_log(workdir)
    text = textwrap.dedent(
        f"""\
        name: yes-no
        model: {{kind: predictions, column: decision}}
        data: {{path: '{log}', label: outcome, sensitive: [group], positive_label: yes,
               label_values: [yes, no]}}
        checks: [{{metric: selection_rate, disparity: ratio, min: 0.8}}]
        """
    )
    out = workdir / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(workdir / "s.yaml", text), "--out", out, "--no-mlflow", "-q"
    )
    doc = json.loads((out / "results.json").read_text())
    assert doc["data"]["positive_label"] == "yes"
    assert doc["spec"]["content"]["data"]["label_values"] == ["yes", "no"]
    # selection rates 0.7 and 0.2 of "yes": the disparity is seen, the release blocked
    assert code == 1, stdout + stderr
    check = doc["checks"][0]
    assert check["value"] < 0.5
    assert_no_release(out)


def test_decision_codes_are_mapped_to_label_values(workdir, fairgate):
    """approved/denied against >50K/<=50K: audited through model.decision_values."""
    log = _adult(workdir, yes="approved", no="denied")
    spec = _adult_spec(
        log,
        data={"positive_label": ">50K", "label_values": [">50K", "<=50K"]},
        model={"decision_values": {"approved": ">50K", "denied": "<=50K"}},
    )
    out = workdir / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(workdir / "s.yaml", spec), "--out", out, "--no-mlflow", "-q"
    )
    doc = json.loads((out / "results.json").read_text())
    assert doc["errors"] == [], stdout + stderr
    frame = pd.read_csv(log)
    for sex, part in frame.groupby("sex"):
        rates = doc["checks"][0]["by_group"][f"sex={sex}"]
        assert rates["numerator"] == int((part.decision == "approved").sum())
        assert rates["n"] == len(part)
    assert code == 1, stdout + stderr  # men are approved far more often: blocked
    assert_no_release(out)


def test_python_proba_column_follows_the_declared_classes(workdir, fairgate):
    """proba_classes [1, 0]: the favourable class (1) is column 0, not column 1."""
    body = """
        import numpy as np

        def predict(x):
            return (x["group"] == "a").astype(int).to_numpy()

        def proba(x):
            p = np.asarray(x["signal"], dtype=float)  # P(outcome = 1): a perfect score
            return np.column_stack([p, 1 - p])
    """
    spec = _python_spec(workdir, body, proba_classes=[1, 0])
    log = Path(spec["data"]["path"])
    frame = pd.read_csv(log)
    frame["signal"] = np.where(frame.outcome == 1, 0.8, 0.3)
    frame.to_csv(log, index=False)
    spec["data"]["exclude"] = ["decision"]
    out = workdir / "out"
    fairgate("run", write_yaml(workdir / "s.yaml", spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    auc = doc["checks"][-1]["by_group"]
    assert {g: v["value"] for g, v in auc.items()} == {"group=a": 1.0, "group=b": 1.0}


def test_python_proba_without_classes_skips_score_checks(workdir, fairgate):
    out = workdir / "out"
    spec = _python_spec(workdir, _PROBA_TWO)
    spec["checks"] = spec["checks"][1:]  # only the score check
    spec = write_yaml(workdir / "s.yaml", spec)
    code, stdout, stderr = fairgate("run", spec, "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    score = doc["checks"][-1]
    assert code == 2, stdout + stderr
    assert score["status"] == "skipped"
    assert "model.proba_classes" in score["message"]
    assert_no_release(out)


def test_python_model_imports_from_the_spec_folder_as_a_process(tmp_path):
    """The module sits next to the spec; fairgate runs from another folder."""
    folder = tmp_path / "specs"
    folder.mkdir()
    spec = _python_spec(folder, _PROBA_TWO, proba_classes=[0, 1])
    spec["checks"] = spec["checks"][:1]
    path = write_yaml(folder / "spec.yaml", spec)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_cli(
        "run",
        path,
        "--out",
        tmp_path / "out",
        "--no-mlflow",
        "-q",
        cwd=elsewhere,
        env={"PYTHONPATH": str(ROOT)},
    )
    # group a is always selected, group b never: blocked (exit 1), so the model did run
    assert_exit(proc, 1, "selection_rate")
    assert_no_release(tmp_path / "out")


def test_an_import_error_is_reported_once_not_per_check(workdir, fairgate):
    spec = _own_model(
        log_spec(decision_log(workdir)),
        kind="python",
        uri=_python_model(workdir, "raise RuntimeError('boom')") + ":f",
    )
    spec["checks"] = [
        {"metric": m, "disparity": "difference", "max": 0.1}
        for m in ("selection_rate", "false_positive_rate", "false_negative_rate", "accuracy")
    ]
    out = workdir / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(workdir / "s.yaml", spec), "--out", out, "--no-mlflow", "-q"
    )
    assert code == 2
    # once for the first check, once as the audit's error; the other checks refer to it
    assert (stdout + stderr).count("RuntimeError: boom") == 2, stdout + stderr
    assert_no_release(out)


def test_yaml_1_1_booleans_still_set_boolean_keys(workdir, fairgate):
    """Only label fields keep 'yes' as text; a boolean key still reads it as true."""
    from audits import load_spec

    spec = log_spec(decision_log(workdir))
    text = write_yaml(workdir / "s.yaml", spec).read_text() + "\n"
    path = workdir / "s.yaml"
    path.write_text(text.replace("  sensitive:", "  synthetic: yes\n  sensitive:"))
    assert load_spec(path).data.synthetic is True


def test_alias_bomb_is_refused_quickly_as_a_process(tmp_path):
    """The 10**9-value alias bomb: refused in seconds by ``fairgate validate``."""
    import time

    spec = write_yaml(tmp_path / "bomb.yaml", _raw(_BOMB)(tmp_path))
    start = time.perf_counter()
    proc = run_cli("validate", spec, cwd=tmp_path, env={"PYTHONPATH": str(ROOT)}, timeout=120)
    assert_exit(proc, 4, "expands to more than 100,000 values")
    assert time.perf_counter() - start < 60
