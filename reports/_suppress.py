"""Small-cell suppression for the human-readable reports.

A count of people under :data:`MIN_CELL` is never shown (primary suppression). Because group
counts add up (every group of an attribute to the audit's row count, every intersection cell
to the group of the other attributes it belongs to), a single hidden cell in such a line
could be recovered by subtraction, so a second cell of that line is hidden too
(complementary suppression), repeated until no line has exactly one hidden cell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

__all__ = ["MIN_CELL", "suppressed"]

MIN_CELL = 11


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
            if len(line) - len(shown) == 1 and shown:
                hidden.add(min(shown, key=lambda k: (counts[k], k)))
                changed = True
    return hidden
