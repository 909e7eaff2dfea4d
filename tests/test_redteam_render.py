"""Red team of ``fairgate render``: a crafted or tampered results.json (and the folder it sits
in) re-rendered.

Each case once copied a file from outside the evidence, crashed into exit 2 after moving the
earlier evidence aside, rendered a pass its own numbers did not support, or let the document
write live Markdown into summary.md.
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


def _copy(passed_audit: Path, tmp_path: Path, edit=None) -> Path:
    """The passing audit's results.json, edited by ``edit``, alone in a new folder."""
    document = json.loads((passed_audit / "results.json").read_text(encoding="utf-8"))
    if edit is not None:
        edit(document)
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


def test_a_listed_chart_that_is_a_link_is_not_copied(passed_audit, tmp_path, fairgate) -> None:
    """A chart named in 'artifacts' that is a symbolic link was read through the link and
    copied into the new evidence: any file the renderer can read (a key, a credentials file)
    ended up in a folder that CI publishes."""
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = not-a-real-key-7731\n", encoding="utf-8")
    folder = _copy(
        passed_audit,
        tmp_path,
        lambda d: d.__setitem__("artifacts", ["explain_groups.png", "notes.txt"]),
    )
    (folder / "explain_groups.png").symlink_to(secret)
    (folder / "notes.txt").symlink_to(secret)
    out = tmp_path / "again"
    code, _, err = fairgate("render", folder / "results.json", "--out", out)
    assert code == 0, err
    assert not (out / "explain_groups.png").exists() and not (out / "notes.txt").exists()
    for path in out.iterdir():
        assert b"not-a-real-key-7731" not in path.read_bytes(), path
    # A regular chart in the folder itself is still carried over.
    (folder / "explain_groups.png").unlink()
    (folder / "explain_groups.png").write_bytes(b"\x89PNG\r\n\x1a\nchart")
    code, _, err = fairgate("render", folder / "results.json", "--out", tmp_path / "third")
    assert code == 0, err
    assert (tmp_path / "third" / "explain_groups.png").read_bytes().endswith(b"chart")


def test_a_listed_name_of_a_rendered_file_is_not_read(passed_audit, tmp_path, fairgate) -> None:
    """'artifacts': ['report.html'] made render write report.html twice (exit 2, 'File
    exists'); the crafted page is never taken over."""
    folder = _copy(passed_audit, tmp_path, lambda d: d.__setitem__("artifacts", ["report.html"]))
    (folder / "report.html").write_text("<h1>RELEASE: forged</h1>", encoding="utf-8")
    out = tmp_path / "again"
    code, _, err = fairgate("render", folder / "results.json", "--out", out)
    assert code == 0, err
    assert "forged" not in (out / "report.html").read_text(encoding="utf-8")


def _value(value):
    return lambda d: d["checks"][0].__setitem__("value", value)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_value(float("nan")), "not a number"),
        (_value(float("inf")), "not a number"),
        (_value("0.99"), "not a number"),
        (_value(True), "not a number"),
        (_value(10**400), "not a number"),
        (lambda d: d["checks"][0].__setitem__("threshold", {}), "bounds nothing"),
        (lambda d: d["checks"][0].__setitem__("threshold", {"min": "0.8"}), "bounds nothing"),
        (lambda d: d.pop("groups"), "cannot be rendered"),
        (lambda d: d["checks"][0].pop("by_group"), "cannot be rendered"),
        (lambda d: d["run"].pop("audit_id"), "cannot be rendered"),
        (lambda d: d.__setitem__("groups", []), "cannot be rendered"),
    ],
)
def test_a_document_that_cannot_be_rendered_is_refused_before_anything_moves(
    passed_audit, tmp_path, fairgate, edit, words: str
) -> None:
    """These ended in 'fairgate failed: KeyError / ValueError' (exit 2) after the earlier
    evidence at --out had been moved aside, or (a value of True, or no bound at all) were
    rendered as a RELEASE their numbers do not support."""
    folder = _copy(passed_audit, tmp_path, edit)
    out = tmp_path / "out"
    shutil.copytree(passed_audit, out)
    before = sorted(p.name for p in out.iterdir())
    code, stdout, err = fairgate("render", folder / "results.json", "--out", out)
    assert code == 4, stdout + err
    assert words in err and "Refused" in err, err
    assert sorted(p.name for p in out.iterdir()) == before
    assert not list(tmp_path.glob("out.superseded-*"))


def test_the_audit_id_cannot_write_markdown_or_control_characters(
    passed_audit, tmp_path, fairgate
) -> None:
    """The audit id went into summary.md inside single backticks: a backtick in it closed the
    code span and the rest became a live link; escape sequences and bidirectional overrides
    reached summary.md and the terminal."""
    audit_id = "x`[click](https://evil.example/)\x1b[2J\u202etxt.exe"
    folder = _copy(passed_audit, tmp_path, lambda d: d["run"].__setitem__("audit_id", audit_id))
    out = tmp_path / "again"
    code, stdout, err = fairgate("render", folder / "results.json", "--out", out)
    assert code == 0, err
    summary = (out / "summary.md").read_text(encoding="utf-8")
    (line,) = [x for x in summary.splitlines() if x.startswith("Audit ")]
    # One code span of two backticks around the whole id: the link is literal text.
    assert line.startswith("Audit ``x`[click](https://evil.example/) [2J txt.exe``;"), line
    for text in (summary, stdout):
        assert "\x1b" not in text and "\u202e" not in text
