"""Red team 5 of ``fairgate render``: parts of a hand-edited results.json of another kind than
fairgate writes.

Each case ended in a Python traceback (``fairgate failed: UndefinedError / AttributeError /
TypeError``) instead of a refusal or a rendering, some after the earlier evidence at --out had
been moved aside.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .bad_inputs_support import decision_log, log_spec, run_cli, write_yaml


@pytest.fixture(scope="module")
def passed_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("passed")
    spec = log_spec(decision_log(folder))
    proc = run_cli(
        "run", write_yaml(folder / "spec.yaml", spec), "--no-mlflow", "--out", folder / "o"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder / "o"


def _copy(passed_audit: Path, tmp_path: Path, edit) -> Path:
    document = json.loads((passed_audit / "results.json").read_text(encoding="utf-8"))
    edit(document)
    path = tmp_path / "evidence" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _media(document) -> None:
    document["data"]["media"] = {"files": 3, "kind": "audio", "conversions": 1.5}


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_media, "cannot be rendered"),  # the template's own check: jinja2's UndefinedError
        (lambda d: d.__setitem__("spec", ["x"]), "must be a fairgate results document"),
    ],
    ids=["media-conversions-a-number", "spec-a-list"],
)
def test_a_part_of_another_kind_is_refused_without_a_traceback(
    passed_audit, tmp_path, fairgate, edit, words
) -> None:
    results = _copy(passed_audit, tmp_path, edit)
    out = tmp_path / "out"
    shutil.copytree(passed_audit, out)
    before = sorted(p.name for p in out.iterdir())
    code, stdout, err = fairgate("render", results, "--out", out)
    assert code == 4, stdout + err
    assert words in err and "fairgate failed" not in err, err
    assert sorted(p.name for p in out.iterdir()) == before  # nothing moved aside


def test_an_audit_id_that_is_a_number_renders(passed_audit, tmp_path, fairgate) -> None:
    results = _copy(passed_audit, tmp_path, lambda d: d["run"].__setitem__("audit_id", 12345))
    code, stdout, err = fairgate("render", results, "--out", tmp_path / "again")
    assert code == 0, stdout + err
    assert "rendered 12345 (verdict pass)" in stdout


def test_earlier_evidence_whose_results_json_is_nested_too_deeply_is_set_aside(
    passed_audit, tmp_path, fairgate
) -> None:
    """Its audit id names the folder it is moved to: reading it raised RecursionError."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, stdout, err = fairgate("render", passed_audit / "results.json", "--out", out)
    assert code == 0, stdout + err
    (moved,) = tmp_path.glob("out.superseded-*")
    assert (moved / "results.json").stat().st_size == 200_000


@pytest.fixture(scope="module")
def blocked_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A blocked audit: selection rates 50 % and 20 % (ratio 0.4, the policy needs 0.8)."""
    folder = tmp_path_factory.mktemp("blocked")
    groups = {"a": (300, 0.5, 0.5), "b": (300, 0.5, 0.2)}
    spec = log_spec(decision_log(folder, groups=groups))
    proc = run_cli(
        "run", write_yaml(folder / "spec.yaml", spec), "--no-mlflow", "--out", folder / "o"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return folder / "o"


def _released(value):
    """The hand edit that turned a blocked audit into a release: the failed check's status
    and value, and the verdict, changed; its groups' counts left as the audit found them."""

    def edit(document) -> None:
        (check,) = document["checks"]
        check.update(status="pass", value=value, ci=[value - 0.05, min(value + 0.05, 1.0)])
        document["verdict"], document["exit_code"] = "pass", 0

    return edit


@pytest.mark.parametrize("value", [0.9, 0.81])
def test_a_pass_its_groups_counts_do_not_give_is_refused(
    blocked_audit, tmp_path, fairgate, value
) -> None:
    """render (and verify, register: they share the rule) rendered that pass: the value was
    only compared with the threshold, never with the groups' counts it comes from."""
    results = _copy(blocked_audit, tmp_path, _released(value))
    code, stdout, err = fairgate("render", results, "--out", tmp_path / "again")
    assert code == 4, stdout + err
    assert "its groups' counts give 0.4" in err and "Refused" in err, err
    assert not (tmp_path / "again").exists()


def test_a_pass_with_a_group_too_small_in_its_groups_is_refused(
    passed_audit, tmp_path, fairgate
) -> None:
    def edit(document) -> None:
        (check,) = document["checks"]
        next(iter(check["by_group"].values()))["status"] = "insufficient"

    results = _copy(passed_audit, tmp_path, edit)
    code, stdout, err = fairgate("render", results, "--out", tmp_path / "again")
    assert code == 4, stdout + err
    assert "groups too small to judge" in err


def test_a_pass_under_a_threshold_its_spec_never_set_is_refused(
    blocked_audit, tmp_path, fairgate
) -> None:
    """The failed check's bound lowered from the spec's 0.8 to 0.3 (below its value), its
    status and the verdict set to pass: the value was within the edited threshold."""

    def edit(document) -> None:
        (check,) = document["checks"]
        check.update(status="pass", threshold={"min": 0.3})
        document["verdict"], document["exit_code"] = "pass", 0

    results = _copy(blocked_audit, tmp_path, edit)
    code, stdout, err = fairgate("render", results, "--out", tmp_path / "again")
    assert code == 4, stdout + err
    assert "{'min': 0.3}, which its spec never set" in err


@pytest.mark.parametrize("name", [3.5, {"a": 1}, None], ids=["number", "mapping", "null"])
def test_a_check_name_that_is_not_a_text_is_refused_by_diff(
    passed_audit, tmp_path, fairgate, name
) -> None:
    """``fairgate diff`` keyed the checks by name: a hand-edited name of another kind ended
    in "fairgate failed: TypeError" (unhashable, or no len())."""
    results = _copy(passed_audit, tmp_path, lambda d: d["checks"][0].__setitem__("name", name))
    for args in ((passed_audit, results), (results, passed_audit, "--json")):
        code, stdout, err = fairgate("diff", *args)
        assert code == 4, stdout + err
        assert "checks[0].name must be a string" in err and "fairgate failed" not in err
