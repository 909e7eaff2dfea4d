"""Waiver texts are bounded: a reason of at most 2,000 characters (line breaks allowed), an
approver, ticket, check name, view and group of at most 200 and no control character; what
is over is refused (exit 4) naming the length, never echoing the text."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from audits._waiver_spec import MAX_NAME, MAX_REASON

from .conftest import SPECS

TODAY = dt.datetime.now(dt.UTC).date()
SENTENCE = "Accepted until the retrained model ships; the youth desk reviews every refusal. "


def _text(length: int) -> str:
    """A reason of exactly ``length`` characters, sentences repeated."""
    return (SENTENCE * (length // len(SENTENCE) + 1))[:length].rstrip()[:-1] + "."


def _waiver(**change) -> dict:
    return {
        "check": 0,
        "reason": SENTENCE.strip(),
        "approver": "Maria Jensen",
        "date": (TODAY - dt.timedelta(days=5)).isoformat(),
        "expiry": (TODAY + dt.timedelta(days=30)).isoformat(),
        "ticket": "ETH-101",
        **change,
    }


def _with_waiver(write_spec, waiver: dict):
    spec = yaml.safe_load((SPECS / "credit_scoring_v1.yaml").read_text())
    spec["waivers"] = [waiver]
    return write_spec(spec)


AT_THE_LIMIT = {
    "reason": lambda: _text(MAX_REASON).ljust(MAX_REASON, "."),
    "approver": lambda: "Maria " + "J" * (MAX_NAME - 6),
    "ticket": lambda: "ETH-" + "1" * (MAX_NAME - 4),
    "check": lambda: "c" * MAX_NAME,
}


@pytest.mark.parametrize("field", sorted(AT_THE_LIMIT))
def test_a_text_at_its_limit_is_taken_one_over_refused(field, fairgate, in_repo, write_spec):
    limit = MAX_REASON if field == "reason" else MAX_NAME
    at = AT_THE_LIMIT[field]()
    assert len(at) == limit
    code, _, err = fairgate("validate", _with_waiver(write_spec, _waiver(**{field: at})))
    if field == "check":  # as long as allowed, but no check has that name
        assert code == 4 and "check must be a check's index or one of the names" in err, err
    else:
        assert code == 0, err
    over = at + "x"
    code, _, err = fairgate("validate", _with_waiver(write_spec, _waiver(**{field: over})))
    said = f"waivers[0].{field} must be at most {limit} characters. Got {limit + 1} instead."
    assert code == 4 and said in err, err
    assert over not in err  # the length, not the text


def test_a_megabyte_reason_is_refused_without_being_repeated(fairgate, in_repo, tmp_path):
    huge = _text(900_000)  # a waivers file may hold up to 1 MiB
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump({"waivers": [_waiver(reason=huge)]}), encoding="utf-8")
    code, out, err = fairgate(
        "run", SPECS / "credit_scoring_v1.yaml", "--no-mlflow", "--out", tmp_path / "o",
        "--waivers", path,
    )  # fmt: skip
    assert code == 4, err
    assert f"waivers[0].reason must be at most 2000 characters. Got {len(huge)} instead." in err
    assert len(err) + len(out) < 2000 and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"reason": SENTENCE + "\nSecond line: the desk signs off weekly."}, 0, ""),
        ({"reason": SENTENCE + "\tTabbed."}, 4, "reason must not hold control characters"),
        ({"reason": SENTENCE + "\x1b[31mred"}, 4, "Got U+001B at character"),
        ({"reason": SENTENCE + "\u202eesrever"}, 4, "Got U+202E at character"),
        ({"approver": "Maria\nJensen"}, 4, "approver must not hold control characters"),
        ({"approver": "Maria Jensen\x00"}, 4, "Got U+0000 at character 12 instead."),
        ({"ticket": "ETH-101\r\nInjected: yes"}, 4, "ticket must not hold control characters"),
        ({"view": "age_band\x07"}, 4, "view must not hold control characters"),
    ],
)
def test_control_characters_are_refused_but_a_line_break_in_a_reason(
    change, code, says, fairgate, in_repo, write_spec
):
    got, _, err = fairgate("validate", _with_waiver(write_spec, _waiver(**change)))
    assert got == code and says in err, err
