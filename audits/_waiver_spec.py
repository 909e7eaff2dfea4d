"""Waivers: a named person's signed-off, dated and expiring exception for one failed check.

A waiver is written in the spec (``waivers:``) or in a separate file (``fairgate run
--waivers PATH``). It names a check (its index in the audit's checks, the policies' checks
first; its name; or, for a policy's check, its clause such as ``MC-1``), optionally a view
(``sex|age_band``) and a group (``age_band=<25``), and says why, who approved it, when, until
when, and the ticket that records the decision. A waiver that cannot be honoured as written
(a short reason, no named approver, an expiry before its date, a check, view or group the spec
does not have) is a spec problem: exit code 4.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "MAX_NAME",
    "MAX_REASON",
    "MIN_REASON",
    "Waiver",
    "check_label",
    "load_waiver_file",
    "waiver_problems",
]

#: Characters a waiver's reason must have (not counting blanks or punctuation).
MIN_REASON = 20
#: Characters a waiver's reason may have: it is shown in every report.
MAX_REASON = 2000
#: Characters an approver, ticket, check name, view or group may have.
MAX_NAME = 200
#: Characters that change how the text around them is shown: bidirectional overrides and
#: isolates (a name could read backwards), besides the control characters.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Words that are not a person's name.
_NOT_A_NAME = {"n/a", "na", "none", "tbd", "todo", "unknown", "nobody", "anyone", "-", "?"}
_ROLES = {
    "team", "committee", "board", "admin", "administrator", "owner", "approver", "ci",
    "chair", "chairperson", "head", "lead", "manager", "management", "director", "officer",
    "office", "department", "panel", "council", "reviewer", "reviewers", "staff", "legal",
    "compliance", "ethics", "fairness", "risk", "data", "science", "product", "ml", "ai",
    "governance", "security", "engineering", "on-call", "oncall", "bot", "system", "service",
}  # fmt: skip
#: Names that stand for anyone (examples in forms and tests), never the person who signed.
_PLACEHOLDER_NAMES = {
    "john doe",
    "jane doe",
    "john smith",
    "jane smith",
    "max mustermann",
    "erika mustermann",
    "test user",
    "first last",
    "firstname lastname",
    "first name last name",
    "given name family name",
    "your name",
    "foo bar",
    "lorem ipsum",
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _hidden_characters(text: str, *, allowed: str = "") -> str | None:
    """Why ``text`` holds a character that hides or rearranges what a report shows (a
    control character not in ``allowed``, a bidirectional override), or ``None``."""
    import unicodedata

    for at, ch in enumerate(text):
        if ch not in allowed and (unicodedata.category(ch) == "Cc" or ch in _BIDI):
            besides = "other than a line break" if allowed else "(such as a line break)"
            return (
                f"must not hold control characters {besides} nor bidirectional overrides. "
                f"Got U+{ord(ch):04X} at character {at} instead."
            )
    return None


def _words(text: str) -> list[str]:
    return [w for w in text.split() if any(c.isalpha() for c in w)]


def approver_problem(approver: str) -> str | None:
    """Why ``approver`` is not a named person (``None`` when it is one).

    A named person is a given name and a family name (at least two words with letters, e.g.
    ``Maria Jensen`` or ``M. Jensen``), not a placeholder (``n/a``, ``TBD``) nor a role alone
    (``the committee``).
    """
    words = _words(approver)
    lowered = {w.strip(".,;:()").lower() for w in words}
    if approver.strip().lower() in _NOT_A_NAME or len(words) < 2:
        return (
            "approver must name the person who signed the waiver off (a given name and a family "
            f"name, e.g. 'Maria Jensen'). Got {approver!r} instead."
        )
    if lowered <= _ROLES | {"the", "of", "a"}:
        return f"approver must name a person, not a role. Got {approver!r} instead."
    if " ".join(w.strip(".,;:()<>[]").lower() for w in words) in _PLACEHOLDER_NAMES:
        return (
            "approver must name the person who signed the waiver off, not a placeholder name. "
            f"Got {approver!r} instead."
        )
    return None


def reason_problem(reason: str) -> str | None:
    """Why ``reason`` does not explain a waiver (``None`` when it does)."""
    from ._spec_policy import says_something

    if not says_something(reason, least=MIN_REASON):
        return (
            f"reason must say why the failure is accepted (at least {MIN_REASON} characters and "
            "3 different words, not counting blanks, punctuation or placeholders such as TODO "
            f"or n/a). Got {reason!r} instead."
        )
    return None


class Waiver(BaseModel):
    """One waiver: which failure, why, who signed it off, from when until when, which ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: The check waived: its index in ``checks`` (from 0) or its name (``name``, else
    #: ``'<metric> <disparity>'`` or the check's ``type``).
    check: int | str
    #: One view of the check (``sex``, ``sex|age_band``, ``model`` for model-level checks);
    #: default every view.
    view: Annotated[str, Field(max_length=MAX_NAME)] | None = None
    #: The least favoured group the waiver accepts (``age_band=<25``); default any group.
    group: Annotated[str, Field(max_length=MAX_NAME)] | None = None
    #: Why the failure is accepted: at most :data:`MAX_REASON` characters, line breaks allowed.
    reason: Annotated[str, Field(max_length=MAX_REASON)]
    #: Who signed it off; this and the other names hold at most :data:`MAX_NAME` characters
    #: and no line break or other control character.
    approver: Annotated[str, Field(max_length=MAX_NAME)]
    #: When the waiver was signed off, and the last day it holds (both inclusive).
    date: dt.date
    expiry: dt.date
    ticket: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]

    @field_validator("check", mode="before")
    @classmethod
    def _an_index_or_a_name(cls, v: Any) -> Any:
        # true is not check 1, nor 1.0 an index
        if isinstance(v, bool | float):
            raise ValueError(f"must be a check's index (0, 1, ...) or its name. Got {v!r} instead.")
        if isinstance(v, int) and v < 0:
            raise ValueError(f"must be a check's index (from 0) or its name. Got {v} instead.")
        if isinstance(v, str) and len(v) > MAX_NAME:
            raise ValueError(f"must be at most {MAX_NAME} characters. Got {len(v)} instead.")
        return v

    @field_validator("date", "expiry", mode="before")
    @classmethod
    def _a_calendar_day(cls, v: Any) -> Any:
        # A day as written (2026-12-31): not a number of seconds, nor a time in a time zone
        # whose day differs from the UTC day the waiver is judged on.
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            return v
        if isinstance(v, str) and _ISO_DATE.match(v.strip()):
            return v.strip()
        raise ValueError(f"must be a day written YYYY-MM-DD (e.g. 2026-12-31). Got {v!r} instead.")

    @field_validator("check", "view", "group", "approver", "ticket")
    @classmethod
    def _shown_as_written(cls, v: Any) -> Any:
        problem = _hidden_characters(v) if isinstance(v, str) else None
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("reason")
    @classmethod
    def _says_why(cls, v: str) -> str:
        problem = _hidden_characters(v, allowed="\n") or reason_problem(v)
        if problem:
            raise ValueError(problem)
        return v.strip()

    @field_validator("approver")
    @classmethod
    def _a_person(cls, v: str) -> str:
        problem = approver_problem(v)
        if problem:
            raise ValueError(problem)
        return v.strip()

    @field_validator("ticket")
    @classmethod
    def _a_ticket(cls, v: str) -> str:
        if not v.strip():
            raise ValueError(f"ticket must name the ticket that records it. Got {v!r} instead.")
        return v.strip()


def check_label(check: Any) -> str:
    """The name a waiver may use for a check: its ``name``, else ``'<metric> <disparity>'``
    (metric checks), else its ``type``."""
    if getattr(check, "name", None):
        return str(check.name)
    if hasattr(check, "metric"):
        return f"{check.metric} {check.disparity}"
    return str(check.type)


def _names(check: Any) -> set[str]:
    """Every name a waiver may use for a check: its label and, for a policy's check, its
    clause (``MC-1`` or ``municipal-microcredit/MC-1``)."""
    names = {check_label(check)}
    clause = getattr(check, "clause", None)
    if clause is not None:
        names |= {clause.id, f"{clause.policy}/{clause.id}"}
    return names


def check_views(check: Any, spec: Any) -> list[str]:
    """The views a check yields results for (``model`` for model-level checks)."""
    return spec.views(check) if hasattr(check, "metric") else ["model"]


def resolve_check(waiver: Waiver, checks: list[Any]) -> tuple[int | None, str | None]:
    """The index of the check a waiver names, or ``None`` and why not."""
    if isinstance(waiver.check, int):
        if 0 <= waiver.check < len(checks):
            return waiver.check, None
        return None, (
            f"check must be the index of a check (0 to {len(checks) - 1}) or its name. "
            f"Got {waiver.check} instead."
        )
    found = [i for i, c in enumerate(checks) if waiver.check in _names(c)]
    if len(found) == 1:
        return found[0], None
    names = sorted(set().union(*(_names(c) for c in checks))) if checks else []
    if found:
        return None, (
            f"check {waiver.check!r} names {len(found)} checks ({found}): use the index of the "
            "one waived."
        )
    return None, f"check must be a check's index or one of the names {names}. Got " + (
        f"{waiver.check!r} instead."
    )


def waiver_problems(waivers: list[Waiver], spec: Any, *, where: str = "waivers") -> list[str]:
    """Every waiver that names something the spec does not have, or ends before it starts."""
    problems = []
    for i, w in enumerate(waivers):
        at = f"{where}[{i}]"
        if w.expiry < w.date:
            problems.append(
                f"{at}.expiry must be on or after its date ({w.date}). Got {w.expiry} instead."
            )
        index, problem = resolve_check(w, list(spec.checks))
        if index is None:
            problems.append(f"{at}.{problem}")
            continue
        check = spec.checks[index]
        if check.type == "prohibited_use":
            problems.append(
                f"{at}.check names a prohibited_use check ({check_label(check)}): a prohibited "
                "practice is never waived (only a failed check is). Got "
                f"{w.check!r} instead."
            )
            continue
        views = check_views(check, spec)
        if w.view is not None and w.view not in views:
            problems.append(f"{at}.view must be one of {views}. Got {w.view!r} instead.")
        if w.group is not None:
            if not hasattr(check, "metric"):
                problems.append(
                    f"{at}.group applies to group metric checks; checks[{index}] is a "
                    f"{check.type} check. Got {w.group!r} instead."
                )
                continue
            columns = "|".join(part.split("=", 1)[0] for part in w.group.split("|"))
            allowed = [w.view] if w.view else views
            if "=" not in w.group or columns not in allowed:
                problems.append(
                    f"{at}.group must be a group of the view(s) {allowed}, written "
                    f"'column=value' ('a=x|b=y' at an intersection). Got {w.group!r} instead."
                )
    return problems


def load_waiver_file(path: str | Path, spec: Any) -> list[Waiver]:
    """The waivers in the YAML file at ``path`` (``waivers:`` holding a list), checked
    against ``spec``.

    Raises
    ------
    SpecError
        When the file cannot be read, is not such a list, or holds an invalid waiver.
    """
    from ._spec import SpecError, _message
    from ._yaml import YamlRefusedError, load_yaml, read_bounded

    path = Path(path)
    where = f"waivers file {str(path)!r}"
    try:
        data = load_yaml(read_bounded(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, YamlRefusedError, ValueError) as err:
        raise SpecError([f"{where} cannot be read: {err}"]) from err
    except Exception as err:  # yaml.YAMLError
        raise SpecError([f"{where} is not valid YAML: {err}"]) from err
    if (
        not isinstance(data, dict)
        or set(data) != {"waivers"}
        or not isinstance(data["waivers"], list)
    ):
        raise SpecError([f"{where} must hold one key, 'waivers', with a list of waivers."])
    waivers, problems = [], []
    for i, item in enumerate(data["waivers"]):
        try:
            waivers.append(Waiver.model_validate(item))
        except ValidationError as err:
            problems += [
                f"{where}: {_message({**e, 'loc': ('waivers', i, *e['loc'])})}"
                for e in err.errors()
            ]
    if not problems:
        problems = [f"{where}: {p}" for p in waiver_problems(waivers, spec)]
    if problems:
        raise SpecError(problems)
    return waivers
