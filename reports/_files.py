"""Write the results document and its renderings: results.json, junit.xml, summary.md,
report.html. Every renderer takes the results document (what results.json holds), so a past
audit can be rendered again from its results.json alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._folder import write_file
from ._html import render_html
from ._junit import render_junit
from ._markdown import render_markdown

__all__ = ["ARTIFACTS", "load_artifacts", "load_results", "write_all", "write_pdf"]

ARTIFACTS = ("results.json", "junit.xml", "summary.md", "report.html")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json written by fairgate."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ValueError(f"{str(path)!r} is not a fairgate results document (no schema_version).")
    return document


def load_artifacts(document: dict[str, Any], folder: str | Path) -> dict[str, bytes]:
    """The chart files a results document lists, read from ``folder`` where present."""
    found = {}
    for name in document.get("artifacts", []):
        path = Path(folder) / name
        if path.is_file():
            found[name] = path.read_bytes()
    return found


def write_all(
    document: dict[str, Any], out_dir: str | Path, extra: dict[str, bytes] | None = None
) -> dict[str, Path]:
    """Write the four files of an audit (and ``extra`` files) into ``out_dir``.

    Every file is new: none is written through a symbolic link or over an existing file
    (the command line writes into a fresh staging folder, see :mod:`reports._folder`).
    Every rendering is made before the first file is written.

    Returns the paths of everything written, by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    contents = {
        "results.json": json.dumps(document, indent=2, sort_keys=False, allow_nan=False) + "\n",
        "junit.xml": render_junit(document),
        "summary.md": render_markdown(document),
        "report.html": render_html(document, images=extra),
    }
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
