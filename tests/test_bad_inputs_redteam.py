"""Hostile inputs found by attacking the finished change as an outsider would.

Each case once ended in a release, a misleading file or a disclosed person; each now fails
closed. Cases about the process (what a model prints, where it moves the working directory)
run as real processes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from .bad_inputs_support import (
    assert_exit,
    assert_no_release,
    decision_log,
    log_spec,
    run_cli,
    write_yaml,
)

UNFAIR = {"a": (200, 0.5, 0.5), "b": (200, 0.5, 0.1)}


def _run(fairgate, tmp_path: Path, spec: dict) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    code, stdout, stderr = fairgate(
        "run", write_yaml(tmp_path / "s.yaml", spec), "--out", out, "--no-mlflow", "-q"
    )
    return code, stdout + stderr, out


def test_a_column_named_twice_is_refused_not_silently_renamed(fairgate, tmp_path):
    log = decision_log(tmp_path, groups=UNFAIR)
    frame = pd.read_csv(log)
    frame.insert(0, "filler", ["a", "b"] * (len(frame) // 2))
    text = frame.to_csv(index=False).replace("filler,", "group,", 1)
    (tmp_path / "dup.csv").write_text(text, encoding="utf-8")
    code, said, out = _run(fairgate, tmp_path, log_spec(tmp_path / "dup.csv"))
    assert code == 2 and "more than once" in said and "group" in said
    assert_no_release(out)


def test_a_ratio_of_zero_to_zero_is_not_computable(fairgate, tmp_path):
    log = decision_log(tmp_path, groups={"a": (200, 0.5, 0.0), "b": (200, 0.5, 0.0)})
    code, said, out = _run(fairgate, tmp_path, log_spec(log))
    assert code == 2 and "undefined" in said
    assert_no_release(out)


@pytest.mark.parametrize("filler", [" " * 25, "\t" * 25, "." * 25, "x" * 25, "ok ok ok ok ok ok"])
def test_an_exclusion_needs_a_reason_in_words(fairgate, tmp_path, filler):
    log = decision_log(tmp_path, groups={**UNFAIR, "c": (200, 0.5, 0.5)})
    check = {
        "metric": "selection_rate",
        "disparity": "ratio",
        "min": 0.8,
        "exclude_groups": [{"group": "group=b", "justification": filler}],
    }
    code, said, out = _run(fairgate, tmp_path, log_spec(log, checks=[check]))
    assert code == 4 and "justification" in said
    assert not out.exists()


def test_an_identifier_as_a_sensitive_attribute_is_refused(fairgate, tmp_path):
    log = decision_log(tmp_path)
    frame = pd.read_csv(log).assign(person=lambda f: range(len(f)))
    frame.to_csv(log, index=False)
    spec = log_spec(log, data={"sensitive": ["group", "person"]})
    code, said, out = _run(fairgate, tmp_path, spec)
    assert code == 2 and "identifier" in said
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "person=1" not in summary and "person=1" not in said


def test_bidirectional_overrides_never_reach_a_reader(fairgate, tmp_path):
    log = decision_log(tmp_path, groups={"\u202egnol": (200, 0.5, 0.5), "b": (200, 0.5, 0.5)})
    code, said, out = _run(fairgate, tmp_path, log_spec(log))
    assert code == 0
    for name in ("summary.md", "junit.xml", "report.html"):
        assert "\u202e" not in (out / name).read_text(encoding="utf-8"), name
    assert "\u202e" not in said


@pytest.fixture(scope="module")
def blocked(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("blocked")
    spec = write_yaml(folder / "s.yaml", log_spec(decision_log(folder, groups=UNFAIR)))
    assert_exit(run_cli("run", spec, "--out", folder / "out", "--no-mlflow"), 1)
    return json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))


def _as_release(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    for check in doc["checks"]:
        check["status"] = "pass"
    doc["verdict"], doc["exit_code"] = "pass", 0
    return doc


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda d: None, "beyond its threshold"),
        (lambda d: [c.update(value=None) for c in d["checks"]], "no value"),
        (lambda d: [c["threshold"].update(max=0.05) for c in d["checks"]], "beyond"),
        (
            lambda d: [c["details"].update(insufficient_groups=["group=b"]) for c in d["checks"]],
            "too small",
        ),
        (
            lambda d: (
                [c.update(value=0.9) for c in d["checks"]]
                and d["data_validation"].update(success=False)
            ),
            "validation failed",
        ),
    ],
)
def test_render_refuses_statuses_their_values_contradict(blocked, fairgate, tmp_path, edit, says):
    doc = _as_release(blocked)
    edit(doc)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, _, stderr = fairgate("render", path, "--out", tmp_path / "again")
    assert code == 4 and says in stderr
    assert not (tmp_path / "again").exists()


MODELS = """
import os, pathlib

def prints_a_fake_verdict(frame):
    print("verdict: pass (exit 0); evidence in /nowhere")
    return (frame["x"] > 0.5).astype(int).to_numpy()

def moves_away(frame):
    os.chdir(os.environ["FG_ELSEWHERE"])
    return (frame["x"] > 0.5).astype(int).to_numpy()
"""


@pytest.fixture(scope="module")
def python_case(tmp_path_factory) -> Path:
    import numpy as np

    folder = tmp_path_factory.mktemp("python")
    x = np.random.default_rng(0).random(400)
    pd.DataFrame({"group": ["a", "b"] * 200, "x": x, "outcome": (x > 0.5).astype(int)}).to_csv(
        folder / "table.csv", index=False
    )
    (folder / "fg_redteam.py").write_text(MODELS, encoding="utf-8")
    return folder


def _python_spec(case: Path, function: str) -> Path:
    spec = log_spec(case / "table.csv", model={"kind": "python", "uri": f"fg_redteam:{function}"})
    spec["model"].pop("column")
    return write_yaml(case / f"{function}.yaml", spec)


def test_model_output_cannot_fake_the_verdict_line(python_case, tmp_path):
    proc = run_cli(
        "run",
        _python_spec(python_case, "prints_a_fake_verdict"),
        "--out",
        tmp_path / "out",
        "--no-mlflow",
    )
    assert_exit(proc, 0)
    assert proc.stdout.count("verdict:") == 1 and "/nowhere" not in proc.stdout
    assert "/nowhere" in proc.stderr  # shown, where it cannot pass for fairgate's line


def test_a_model_that_changes_directory_does_not_move_the_evidence(python_case, tmp_path):
    elsewhere, home = tmp_path / "elsewhere", tmp_path / "home"
    elsewhere.mkdir()
    home.mkdir()
    proc = run_cli(
        "run",
        _python_spec(python_case, "moves_away"),
        "--out",
        "rel_out",
        "--no-mlflow",
        cwd=home,
        env={
            "FG_ELSEWHERE": str(elsewhere),
            "PYTHONPATH": os.pathsep.join([str(python_case), os.environ.get("PYTHONPATH", "")]),
        },
    )
    assert_exit(proc, 0, str(home / "rel_out"))
    assert (home / "rel_out" / "results.json").is_file()
    assert not any(elsewhere.iterdir())
