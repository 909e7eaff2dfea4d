"""URLs as they may be shown: credentials and query values replaced by ``***``.

One rule for every URL fairgate writes or says (a REST model's endpoint, an MLflow tracking
store, a model registry): the scheme, host, port and path stay, so that a reader knows what was
reached; the ``user:password@`` part, each query value (its key stays, so that a reader sees
which parameter was set) and the fragment become ``***``. :func:`scrub` applies the same rule
to free text, such as an error message quoting the URL or one of its secrets.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ["MASK", "public_uri", "scrub", "url_secrets"]

#: What stands for a secret in shown URLs and texts.
MASK = "***"
#: Query values shorter than this are masked in a shown URL but not replaced in free text
#: (``x=1`` would otherwise turn every ``1`` of a message into ``***``).
_SHORTEST_IN_TEXT = 3


def _odd_userinfo(uri: str) -> str | None:
    """The text between ``://`` and the URI's last ``@`` when it holds ``/``, ``?`` or ``#``
    (a password written without percent-encoding, e.g. ``http://u:pa/ss@host``): URL parsers
    then take part of it for the host or path, so the whole URI is treated as secret."""
    _, sep, rest = uri.partition("://")
    if not sep or "@" not in rest:
        return None
    userinfo = rest[: rest.rindex("@")]
    return userinfo if any(ch in userinfo for ch in "/?#") else None


def public_uri(uri: str | None) -> str:
    """``uri`` as it may be shown: ``scheme://***@host:port/path?key=***#***``.

    Parameters
    ----------
    uri : str or None
        A URL or URI (``https://...``, ``sqlite:///...``, ``models:/name/3``).

    Returns
    -------
    str
        The URI with its user information, query values and fragment replaced by ``***``;
        ``<none>`` for no URI and ``<unparseable URI>`` for one that cannot be split.
    """
    if not uri:
        return "<none>"
    if _odd_userinfo(uri) is not None:  # where the credentials end is not certain
        return f"{uri.partition('://')[0]}://{MASK}"
    text, hashed, _ = uri.partition("#")
    base, asked, query = text.partition("?")
    try:
        netloc = urlsplit(base).netloc
    except ValueError:
        return "<unparseable URI>"
    if "@" in netloc:
        base = base.replace(netloc, f"{MASK}@{netloc.rsplit('@', 1)[1]}", 1)
    if asked:
        pairs = [
            f"{pair.split('=', 1)[0]}={MASK}" if "=" in pair else MASK
            for pair in query.split("&")
            if pair
        ]
        base += "?" + "&".join(pairs)
    return base + (f"#{MASK}" if hashed else "")


def url_secrets(uri: str | None) -> list[str]:
    """The parts of ``uri`` no text may repeat: its user information (whole, user and
    password), its query string and values (as written and decoded) and its fragment."""
    if not uri:
        return []
    odd = _odd_userinfo(uri)
    if odd is not None:
        parts = [odd, *odd.split(":", 1)]
        return sorted(
            {s for p in parts for s in (p, unquote(p)) if len(s.strip()) >= _SHORTEST_IN_TEXT},
            key=len,
            reverse=True,
        )
    text, _, fragment = uri.partition("#")
    base, _, query = text.partition("?")
    try:
        parts = urlsplit(base)
        userinfo = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
        user, password = parts.username or "", parts.password or ""
    except ValueError:  # unparseable: everything after the scheme is kept out of texts
        userinfo = user = password = ""
        query = uri.partition("://")[2] or uri
    found = [userinfo, query, fragment]
    for part in (user, password):
        found += [part, unquote(part)]
    for pair in query.split("&"):
        value = pair.split("=", 1)[-1]
        found += [value, unquote(value.replace("+", " "))]
    return sorted({s for s in found if len(s.strip()) >= _SHORTEST_IN_TEXT}, key=len, reverse=True)


def scrub(text: str, uri: str | None) -> str:
    """``text`` with every secret of ``uri`` (see :func:`url_secrets`) replaced by ``***``,
    longest first."""
    for secret in url_secrets(uri):
        text = text.replace(secret, MASK)
    return text
