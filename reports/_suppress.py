"""Small-cell suppression for everything a person reads (report, summary, JUnit, MLflow).

The disclosure rule, decided for any (numerator, denominator, rate) by :func:`disclose`: a
count of people under :data:`MIN_CELL` is never shown, nor a rate from which such a count
(its numerator, or the complement ``denominator - numerator``) can be recovered with the
denominator. A zero count is shown (it singles out nobody).

Because group
counts add up (every group of an attribute to the audit's row count, every intersection cell
to the group of the other attributes it belongs to), a single hidden cell in such a line
could be recovered by subtraction, so a second cell of that line is hidden too
(complementary suppression), repeated until no line has exactly one hidden cell, nor hidden
cells whose sum (recovered by subtraction) is a count under :data:`MIN_CELL`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "MIN_CELL",
    "SUPPRESSED",
    "WITHHELD",
    "Disclosure",
    "check_counts",
    "count_of",
    "count_text",
    "disclose",
    "flagged_named",
    "group_value",
    "group_values",
    "highest_named",
    "size_text",
    "suppressed",
    "withheld_values",
]

MIN_CELL = 11
#: What a reader sees instead of a suppressed number.
SUPPRESSED = "suppressed"
#: What a reader sees instead of a group's count that is not small itself, but is held back
#: so that a smaller count cannot be recovered from it by subtraction (complementary
#: suppression): never ``<11``, which would tell the reader the group is small.
WITHHELD = "withheld to protect a smaller group"


def _small(count: float | None, min_cell: int) -> bool:
    return count is not None and 0 < round(count) < min_cell


@dataclass(frozen=True)
class Disclosure:
    """What may be shown of a (numerator, denominator, rate): ``None`` where suppressed."""

    numerator: int | None
    denominator: int | None
    rate: float | None
    #: Something known was held back.
    suppressed: bool


def disclose(
    *,
    numerator: float | None = None,
    denominator: float | None = None,
    rate: float | None = None,
    min_cell: int = MIN_CELL,
) -> Disclosure:
    """Decide what may be shown of a count, its denominator and their rate.

    Parameters
    ----------
    numerator : number, optional
        The count of people the rate counts (recovered as ``rate * denominator`` when not
        given).
    denominator : number, optional
        The count of people the rate is over (a group's size, or the cases in a rate's
        denominator).
    rate : float, optional
        ``numerator / denominator``, or any share of the denominator's people.
    min_cell : int, default=MIN_CELL
        The smallest count of people that may be shown.

    Returns
    -------
    Disclosure
        A denominator under ``min_cell`` hides everything; a numerator or complement under
        ``min_cell`` hides the numerator and the rate.
    """
    if rate is not None and not math.isfinite(rate):
        rate = None
    if numerator is None and rate is not None and denominator is not None:
        numerator = rate * denominator
    if _small(denominator, min_cell):
        return Disclosure(None, None, None, True)
    if denominator is None:
        hide = _small(numerator, min_cell)
        return Disclosure(
            None if hide or numerator is None else round(numerator),
            None,
            None if hide else rate,
            hide,
        )
    hide = _small(numerator, min_cell) or (
        numerator is not None and _small(denominator - numerator, min_cell)
    )
    if hide:
        return Disclosure(None, int(denominator), None, True)
    return Disclosure(
        None if numerator is None else round(numerator), int(denominator), rate, False
    )


def count_text(count: float | None, *, min_cell: int = MIN_CELL) -> str:
    """A count of people as a reader may see it: the number, or "fewer than 11"."""
    if count is None:
        return "–"
    return f"fewer than {min_cell}" if _small(count, min_cell) else str(round(count))


def size_text(count: float | None, *, hidden: bool, min_cell: int = MIN_CELL) -> str:
    """A group's count of people as a table shows it: the number; ``<11`` when the count
    itself is under ``min_cell``; :data:`WITHHELD` when it is hidden (``hidden``) only to
    protect a smaller count (complementary suppression)."""
    if count is None:
        return "–"
    if _small(count, min_cell):
        return f"<{min_cell}"
    return WITHHELD if hidden else str(round(count))


def count_of(count: float, total: float, *, min_cell: int = MIN_CELL) -> str:
    """``"<count> of <total>"`` (e.g. rows of a message) as a reader may see it: neither a
    count under ``min_cell`` nor one recoverable from the other (``total - count``) is shown
    ("fewer than 11 of 400", "all but fewer than 11 of 400")."""
    shown = disclose(numerator=count, denominator=total, min_cell=min_cell)
    if shown.numerator is not None:
        return f"{shown.numerator} of {shown.denominator}"
    if shown.denominator is None:
        return f"{count_text(count, min_cell=min_cell)} of {count_text(total, min_cell=min_cell)}"
    if _small(count, min_cell):
        return f"fewer than {min_cell} of {shown.denominator}"
    return f"all but fewer than {min_cell} of {shown.denominator}"


#: Score metrics that are shares of a group's people (the others are not counts).
_COUNT_SHARES = {"scoring_rate"}


def group_value(check: Mapping, group: Mapping, *, min_cell: int = MIN_CELL) -> Disclosure:
    """What may be shown of one group's entry (``check["by_group"][key]``) of a check.

    Group rates use their numerator and denominator; shares of a group's people (reason
    codes, the scoring rate, an accuracy drop) the group's ``n``; other score metrics (an
    AUC, a mean score) only need the group itself to be large enough.
    """
    value, n = group.get("value"), group.get("n")
    if "numerator" in group and "denominator" in group:
        return disclose(
            numerator=group["numerator"],
            denominator=group["denominator"],
            rate=value,
            min_cell=min_cell,
        )
    if check.get("type") == "score_metric" and check.get("metric") not in _COUNT_SHARES:
        size = disclose(denominator=n, min_cell=min_cell)
        return Disclosure(
            None, size.denominator, None if size.suppressed else value, size.suppressed
        )
    if check.get("type") == "robustness" and value is not None:
        value = abs(value)  # the drop times n is the net change in people decided right
        shown = disclose(rate=value, denominator=n, min_cell=min_cell)
        return Disclosure(
            None, shown.denominator, None if shown.suppressed else group["value"], shown.suppressed
        )
    return disclose(rate=value, denominator=n, min_cell=min_cell)


def _parts(key: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(p.split("=", 1)) for p in key.split("|"))  # type: ignore[misc]


def _lines(keys: list[str]) -> list[list[str]]:
    """Groups of keys whose counts add up to a total that is shown elsewhere."""
    lines: dict[tuple, list[str]] = defaultdict(list)
    for key in keys:
        parts = _parts(key)
        attrs = tuple(a for a, _ in parts)
        if len(parts) == 1:
            lines[(attrs, "all")].append(key)  # adds up to the audit's row count
            continue
        for i in range(len(parts)):  # vary one attribute, fix the others
            fixed = tuple(p for j, p in enumerate(parts) if j != i)
            lines[(attrs, i, fixed)].append(key)
    return [line for line in lines.values() if len(line) > 1]


def suppressed(counts: Mapping[str, int | None], *, min_cell: int = MIN_CELL) -> set[str]:
    """Keys whose counts must not be shown (primary and complementary suppression).

    Parameters
    ----------
    counts : mapping of group key to count
        Counts of every view together (``'sex=female'``, ``'sex=female|age_band=<25'``, ...).
    min_cell : int
        The smallest count that may be shown.
    """
    hidden = {k for k, v in counts.items() if v is not None and 0 < v < min_cell}
    lines = _lines([k for k, v in counts.items() if v is not None])
    changed = True
    while changed:
        changed = False
        for line in lines:
            shown = [k for k in line if k not in hidden]
            held = sum(counts[k] or 0 for k in line if k in hidden)
            if not shown or not (len(line) - len(shown) == 1 or 0 < held < min_cell):
                continue
            # The line's other cells give its hidden cells' sum: one more is hidden while one
            # cell is hidden or their sum is a small count; not a zero (e.g. no unknowns),
            # which other views show, and the smallest that makes the sum not small.
            hidden.add(
                min(shown, key=lambda k: (not counts[k], held + counts[k] < min_cell, counts[k], k))
            )
            changed = True
    return hidden


def check_counts(check: Mapping) -> dict[str, int | None]:
    """The counts of people a check's groups add up with: each group's ``n`` and, for an
    impact-ratio check over one attribute, its individuals of unknown category (shown in
    the NYC LL144 table as ``<view>=unknown``)."""
    counts = {g: v.get("n") for g, v in check["by_group"].items()}
    details = check.get("details") or {}
    if check.get("type") == "impact_ratio" and "|" not in str(check.get("view", "")):
        counts[f"{check.get('view')}=unknown"] = details.get("unknown_count")
    return counts


def _hide(shown: dict[str, Disclosure], group: str | None, *, count: bool = False) -> None:
    if group in shown and (shown[group].rate is not None or count):
        denominator = None if count else shown[group].denominator
        shown[group] = Disclosure(None, denominator, None, True)


def _impact_ratio_values(
    check: Mapping, shown: dict[str, Disclosure], min_cell: int
) -> dict[str, Disclosure]:
    """An impact-ratio check's rates: every ratio is a rate over the highest category's, so
    the highest rate is shown only with its category's count, and is hidden with the rate of
    the check's value's category (the lowest ratio, shown everywhere, is that rate over the
    highest). When the highest rate is hidden, a second compared category's rate is hidden
    with it, so that the hidden highest category is never the only one whose rate is hidden
    (it would then be identified as the highest, with a bound on its rate)."""
    for g in suppressed(check_counts(check), min_cell=min_cell):
        _hide(shown, g, count=True)
    details = check.get("details") or {}
    top, lowest = details.get("highest_group"), details.get("lowest_group")
    pair = [g for g in (top, lowest) if g in shown]
    if any(shown[g].rate is None for g in pair):
        for g in pair:
            _hide(shown, g)
    if top in shown and shown[top].rate is None:
        compared = [
            g
            for g, v in check["by_group"].items()
            if g != top and v.get("status") != "excluded" and v.get("impact_ratio") is not None
        ]
        if not any(shown[g].rate is None for g in compared):
            rates = {g: check["by_group"][g]["value"] for g in compared}
            _hide(shown, max(compared, key=lambda g: (rates[g], g), default=None))
    return shown


def _own_values(check: Mapping, min_cell: int) -> dict[str, Disclosure]:
    shown = {g: group_value(check, v, min_cell=min_cell) for g, v in check["by_group"].items()}
    if check.get("type") == "impact_ratio":
        return _impact_ratio_values(check, shown, min_cell)
    details = check.get("details") or {}
    pair = [details.get(k) for k in ("worst_group", "best_group")]
    if any(g in shown and shown[g].rate is None for g in pair):
        for g in pair:
            if g in shown and shown[g].rate is not None:
                shown[g] = Disclosure(None, shown[g].denominator, None, True)
    return shown


def _pair(check: Mapping) -> frozenset[str]:
    """The two groups a check's value is made of (its worst and best, or its lowest and
    highest category)."""
    details = check.get("details") or {}
    keys = ("lowest_group", "highest_group") if check.get("type") == "impact_ratio" else None
    found = [details.get(k) for k in keys or ("worst_group", "best_group")]
    return frozenset(g for g in found if g in check.get("by_group", {}))


def _siblings(check: Mapping, document: Mapping) -> list[Mapping]:
    """The checks of the document over the same rate of the same groups as ``check``: the
    same metric and view (a ratio, a difference, an impact ratio of one selection rate)."""
    key = (check.get("metric"), check.get("view"))
    return [
        c
        for c in document.get("checks") or []
        if isinstance(c, Mapping) and c.get("by_group") and (c.get("metric"), c.get("view")) == key
    ]


def _hidden_across(checks: list[Mapping], min_cell: int) -> set[str]:
    """Groups whose rate is hidden in one of ``checks`` (all over the same rates): hidden in
    all, with the other group of every value made of one of them."""
    hidden = {g for c in checks for g, d in _own_values(c, min_cell).items() if d.rate is None}
    changed = True
    while changed:
        changed = False
        for c in checks:
            pair = _pair(c)
            if pair & hidden and not pair <= hidden:
                hidden |= pair
                changed = True
    return hidden


def group_values(
    check: Mapping, *, document: Mapping | None = None, min_cell: int = MIN_CELL
) -> dict[str, Disclosure]:
    """:func:`group_value` for every group of a check, with the disparity's complement: the
    check's value is shown, so when its worst or best group's value is suppressed, the
    other one is suppressed too (one of them and the disparity would give the other).

    An impact-ratio check's rates also follow its counts' complementary suppression and
    hide its highest category as :func:`_impact_ratio_values` says. With ``document``, a
    group hidden in any check of the same metric and view (a ratio and a difference of one
    rate) is hidden in all of them."""
    shown = _own_values(check, min_cell)
    if document is None:
        return shown
    siblings = _siblings(check, document)
    if len(siblings) < 2:
        return shown
    for g in _hidden_across(siblings, min_cell):
        if g in shown and shown[g].rate is not None:
            shown[g] = Disclosure(None, shown[g].denominator, None, True)
    return shown


def _kind(check: Mapping) -> str:
    disparity = check.get("disparity") or ""
    return "ratio" if disparity == "impact_ratio" else disparity


def withheld_values(document: Mapping, *, min_cell: int = MIN_CELL) -> set[str]:
    """Names of the checks whose value (and interval) must not be shown: two checks of the
    same metric and view whose values are made of the same two hidden group rates, one a
    ratio and the other a difference, would give back both rates together (a = q * b and
    b - a = d give b = d / (1 - q)). The first kind of value in the document is shown; the
    checks of another kind over the same hidden pair are withheld."""
    withheld: set[str] = set()
    families: dict[tuple, list[Mapping]] = {}
    for c in document.get("checks") or []:
        if isinstance(c, Mapping) and c.get("by_group") and c.get("value") is not None:
            families.setdefault((c.get("metric"), c.get("view")), []).append(c)
    for checks in families.values():
        if len(checks) < 2:
            continue
        hidden = _hidden_across(checks, min_cell)
        first: dict[frozenset[str], str] = {}
        for c in checks:
            pair = _pair(c)
            if len(pair) < 2 or not pair <= hidden:
                continue
            if first.setdefault(pair, _kind(c)) != _kind(c):
                withheld.add(str(c.get("name")))
    return withheld


def highest_named(check: Mapping, *, min_cell: int = MIN_CELL) -> str | None:
    """The highest category of an impact-ratio check as a reader may see it named: ``None``
    when its rate is suppressed (naming it would say which hidden category it is)."""
    top = (check.get("details") or {}).get("highest_group")
    shown = group_values(check, min_cell=min_cell)
    return top if top in shown and shown[top].rate is not None else None


def flagged_named(
    check: Mapping, flagged: list[str], *, min_cell: int = MIN_CELL
) -> tuple[list[str], int]:
    """The categories of an impact-ratio check flagged under its bound that a reader may
    see named, and how many others are flagged. A flag says a category's rate is under a
    share of the highest rate: it is named only where both rates are shown (with a
    suppressed count of 4 and a highest rate of 0.3, a flag says that nobody was selected).
    """
    if highest_named(check, min_cell=min_cell) is None:
        return [], len(flagged)
    shown = group_values(check, min_cell=min_cell)
    named = [g for g in flagged if g in shown and shown[g].rate is not None]
    return named, len(flagged) - len(named)
