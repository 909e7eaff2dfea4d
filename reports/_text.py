"""Shared wording and number formatting for the human-readable renderings."""

from __future__ import annotations

import re

__all__ = [
    "STATUS_LABELS",
    "VERDICT_TITLES",
    "code",
    "fmt",
    "md",
    "one_line",
    "spreadsheet_cell",
    "status_label",
    "xml_safe",
]

#: Characters XML 1.0 does not allow (its ``Char`` production), and the C1 controls.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Control characters, line separators and bidirectional overrides (which can make a line
#: read backwards in a terminal or a pull-request comment).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_BIDI_ONLY = re.compile(f"[{_BIDI}]")
#: What would start raw HTML (a tag, comment, declaration) or an entity in Markdown.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#|[A-Za-z][A-Za-z0-9]*;)")
_MD_SPECIAL = re.compile(r"([\\`*|\[\]])")

VERDICT_TITLES = {
    "pass": "RELEASE",
    "pass_with_waivers": "RELEASE WITH WAIVERS",
    "fail": "BLOCKED",
    "inconclusive": "CANNOT DECIDE",
    "error": "CANNOT DECIDE",
    "prohibited": "REFUSED: PROHIBITED USE",
}
STATUS_LABELS = {
    "pass": "pass",
    "fail": "FAIL",
    "inconclusive": "inconclusive",
    "insufficient_evidence": "insufficient evidence",
    "error": "ERROR",
    "skipped": "skipped",
    "waived": "WAIVED (failed)",
    "prohibited": "PROHIBITED",
}


def status_label(status: str) -> str:
    """A readable label for a check status."""
    return STATUS_LABELS.get(status, status)


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or an en dash when there is none."""
    return "–" if value is None else f"{value:.{digits}f}"


def xml_safe(text: object) -> str:
    """``text`` with every character XML 1.0 does not allow, and every bidirectional
    override, replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", _BIDI_ONLY.sub("\ufffd", str(text)))


def one_line(text: object) -> str:
    """``text`` for a terminal line: control characters, line breaks and bidirectional
    overrides become spaces."""
    return _CONTROL.sub(" ", str(text))


def md(text: object) -> str:
    """``text`` as literal Markdown on one line: control characters and line breaks become
    spaces, HTML cannot start (``<tag`` and entities are escaped), and the characters that
    would end a table cell, start code or a link, or emphasise (``| ` [ ] *``) are escaped."""
    text = _CONTROL.sub(" ", str(text))
    text = _ENTITY.sub("&amp;", text)
    text = _HTML_START.sub("&lt;", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(text: object) -> str:
    """``text`` as one Markdown code span: control characters, line breaks and bidirectional
    overrides become spaces, and the span's fence is one backtick longer than any run of
    backticks inside (a backslash escapes nothing in a code span, so ``md`` cannot be used)."""
    text = _CONTROL.sub(" ", str(text))
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def spreadsheet_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (or a tab or
    carriage return) would be a formula, so it gets a leading quote."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
