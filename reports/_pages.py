"""The register's page names: one file name per exact system name or audit id, never shared.

A name that is already a plain file name (lower-case ASCII letters, digits, ``_``, ``.`` and
``-``, not reserved, at most 120 characters) is its own page name, so the pages of ordinary
names keep their address from one register to the next. Any other name (upper case,
punctuation, spaces, accents or any other non-ASCII text, a reserved name such as ``index``,
a very long name) gets its slug plus ten hex digits of the SHA-256 of the exact name:
``Credit Scoring`` is ``credit-scoring-5c1b0f9a2e``, never ``credit-scoring``. A plain name
that itself ends like such a suffix is suffixed too, so a plain page name never equals a
suffixed one. Page names are lower case, so they also stay apart on case-insensitive file
systems.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["page_name", "page_names"]

_PLAIN = re.compile(r"^[a-z0-9](?:[a-z0-9_.-]{0,118}[a-z0-9_])?$")
_SUFFIXED = re.compile(r"-[0-9a-f]{10}$")
_DROPPED = re.compile(r"[^a-z0-9_.-]+")
#: Names a static site or a file system treats specially (directory index, Windows devices).
_RESERVED = frozenset(
    {"index", "style", "con", "prn", "aux", "nul"}
    | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}
)


def page_name(name: str) -> str:
    """The file name (without extension) of the page of ``name``.

    Parameters
    ----------
    name : str
        The exact system name (the spec's ``experiment``, else its name) or audit id.

    Returns
    -------
    str
        ``name`` itself when it is a plain, unreserved file name; else its slug, ``-`` and ten
        hex digits of the SHA-256 of ``name``.
    """
    if not isinstance(name, str):
        raise TypeError(f"The 'name' parameter of page_name must be a str. Got {name!r} instead.")
    stem = name.split(".", 1)[0]
    if _PLAIN.match(name) and stem not in _RESERVED and not _SUFFIXED.search(name):
        return name
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _DROPPED.sub("-", ascii_.lower()).strip("-.")[:100].rstrip("-.") or "x"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:10]}"


def page_names(names: Iterable[str], *, what: str) -> dict[str, str]:
    """The page name of each distinct name, checked to be unique.

    Parameters
    ----------
    names : iterable of str
        Exact names (duplicates allowed: one page each).
    what : str
        What they name, for the error (``system``, ``audit``).

    Returns
    -------
    dict of str to str
        Exact name to page name.

    Raises
    ------
    ValueError
        When two different names would share a page (a ten-digit hash collision): the
        register refuses rather than show one's record under the other's name.
    """
    found: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in names:
        page = page_name(name)
        if owner.setdefault(page, name) != name:
            raise ValueError(
                f"The {what}s {owner[page]!r} and {name!r} would share the register page "
                f"{page!r}: rename one of them. No register was built."
            )
        found[name] = page
    return found
