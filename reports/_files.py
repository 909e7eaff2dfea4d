"""Write the results document and its renderings: results.json, junit.xml, summary.md,
report.html. Every renderer takes the results document (what results.json holds), so a past
audit can be rendered again from its results.json alone."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from ._folder import write_file
from ._html import render_html
from ._junit import render_junit
from ._markdown import render_markdown
from ._policy_report import LL144_CSV, render_ll144_csv
from ._text import one_line

__all__ = [
    "ARTIFACTS",
    "check_renderable",
    "load_artifacts",
    "load_results",
    "renderings",
    "write_all",
    "write_pdf",
]

ARTIFACTS = ("results.json", "junit.xml", "summary.md", "report.html")


#: Schema 1 kept what differs between runs in ``provenance`` (and ``audit_id`` on top).
_V1_RUN_KEYS = ("started_at", "finished_at", "python", "platform", "run_by", "ci")


def _upgrade_v1(document: dict[str, Any]) -> dict[str, Any]:
    """A schema 1 document in the schema 2 layout: run facts moved into the ``run`` block."""
    provenance = document.get("provenance")
    if not isinstance(provenance, dict) or "audit_id" not in document:
        raise ValueError("A schema_version 1 document must hold 'audit_id' and 'provenance'.")
    run = {"audit_id": document.pop("audit_id")}
    run.update({k: provenance.pop(k) for k in _V1_RUN_KEYS if k in provenance})
    spent = [
        c["details"].pop("seconds")
        for c in document.get("checks", [])
        if isinstance(c, dict) and isinstance(c.get("details"), dict) and "seconds" in c["details"]
    ]
    run["seconds"] = {"audit": None, "explain": max(spent, default=None)}
    document["run"] = run
    document["schema_version"] = 2
    return document


#: The largest results document read (a fairgate run writes a few megabytes at most).
MAX_RESULTS_BYTES = 256 << 20


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json written by fairgate (schema 1 documents are read into the schema 2
    layout: their ``audit_id`` and run facts moved into ``run``).

    Raises
    ------
    ValueError
        When the file is not a results document of a known schema version.
    """
    path = Path(path)
    if not stat.S_ISREG(path.stat().st_mode):  # a pipe or a device would block or never end
        raise ValueError(f"{str(path)!r} is not a regular file (a folder, pipe or device).")
    with path.open("rb") as handle:
        raw = handle.read(MAX_RESULTS_BYTES + 1)
    if len(raw) > MAX_RESULTS_BYTES:
        raise ValueError(f"{str(path)!r} holds more than {MAX_RESULTS_BYTES:,} bytes.")
    try:
        document = json.loads(raw.decode("utf-8"))
    except RecursionError as err:
        raise ValueError(f"{str(path)!r} is nested too deeply to be a results document.") from err
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ValueError(f"{str(path)!r} is not a fairgate results document (no schema_version).")
    version = document["schema_version"]
    if version == 1 and not isinstance(version, bool):
        return _upgrade_v1(document)
    if version != 2 or isinstance(version, bool) or not isinstance(document.get("run"), dict):
        raise ValueError(
            f"{str(path)!r} must be a results document of schema_version 1 or 2 (with a 'run' "
            f"block). Got schema_version {version!r} instead."
        )
    return document


#: The largest chart file read back (the charts fairgate draws are well under a megabyte).
MAX_ARTIFACT_BYTES = 32 << 20
#: Files the renderers write themselves: never taken from the folder as a chart.
_RENDERED = (*ARTIFACTS, LL144_CSV, "report.pdf", "attestation.intoto.jsonl")
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _read_artifact(path: Path) -> bytes | None:
    """The bytes of the regular file at ``path``, never through a symbolic link (a link in
    a tampered folder would copy any file it points to into the new evidence)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:  # missing, a link (ELOOP), or unreadable: not a chart of this audit
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ARTIFACT_BYTES:
            return None
        return handle.read(MAX_ARTIFACT_BYTES + 1)[:MAX_ARTIFACT_BYTES]


def load_artifacts(document: dict[str, Any], folder: str | Path) -> dict[str, bytes]:
    """The chart files a results document lists, read from ``folder`` where present.

    Only plain file names are read, each from a regular file in ``folder`` itself, never
    through a symbolic link, and never one of the files the renderers write: a document's
    list is not trusted to name only its own charts.
    """
    found: dict[str, bytes] = {}
    names = document.get("artifacts")
    for name in names if isinstance(names, list) else []:
        if (
            not isinstance(name, str)
            or name in ("", ".", "..")
            or Path(name).name != name
            or name in _RENDERED
        ):
            continue
        data = _read_artifact(Path(folder) / name)
        if data is not None:
            found[name] = data
    return found


def renderings(document: dict[str, Any], *, images: dict[str, bytes]) -> dict[str, str]:
    """Every text file of an audit, by name, rendered from its results document (``images``:
    its charts, by name); nothing is written."""
    contents = {
        "results.json": json.dumps(document, indent=2, sort_keys=False, allow_nan=False) + "\n",
        "junit.xml": render_junit(document),
        "summary.md": render_markdown(document),
        "report.html": render_html(document, images=images),
    }
    disclosure = render_ll144_csv(document)  # NYC LL144 summary of results, when computed
    if disclosure is not None:
        contents[LL144_CSV] = disclosure
    return contents


def check_renderable(document: dict[str, Any], *, images: dict[str, bytes]) -> dict[str, str]:
    """Render ``document`` in memory, to refuse one that cannot be rendered before anything
    is moved or written (a hand-made or tampered document may miss parts or hold text where
    numbers belong); return the renderings (:func:`renderings`), to be written as they are.

    Raises
    ------
    ValueError
        When a part the renderers need is missing or of the wrong kind.
    """
    from jinja2 import TemplateError  # a template's own check of a part (UndefinedError)

    try:
        return renderings(document, images=images)
    except (
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        ValueError,
        OverflowError,
        TemplateError,
    ) as err:
        raise ValueError(
            "cannot be rendered: a part is missing or of the wrong kind "
            f"({type(err).__name__}: {one_line(err)[:200]}). Refused."
        ) from err


def write_all(
    document: dict[str, Any],
    out_dir: str | Path,
    extra: dict[str, bytes] | None = None,
    *,
    contents: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Write the four files of an audit (and ``extra`` files) into ``out_dir``.

    Every file is new: none is written through a symbolic link or over an existing file
    (the command line writes into a fresh staging folder, see :mod:`reports._folder`).
    Every rendering is made before the first file is written; ``contents``, when given, are
    the document's renderings already made (:func:`check_renderable`), written as they are.

    Returns the paths of everything written, by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    if contents is None:
        contents = renderings(document, images=extra)
    paths = {name: write_file(out, name, text.encode("utf-8")) for name, text in contents.items()}
    paths.update({name: write_file(out, name, data) for name, data in extra.items()})
    return paths


def write_pdf(html_path: str | Path, pdf_path: str | Path | None = None) -> Path:
    """Print ``report.html`` to an A4 PDF (its print stylesheet) with WeasyPrint."""
    from weasyprint import HTML

    html_path = Path(html_path)
    pdf_path = Path(pdf_path) if pdf_path else html_path.with_suffix(".pdf")
    HTML(filename=str(html_path)).write_pdf(str(pdf_path))
    return pdf_path
