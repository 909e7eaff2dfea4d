"""``fairgate render``: render a past audit again from its results document."""

from __future__ import annotations

from pathlib import Path

import click

from ._publish import Rendered, publish_evidence
from ._status import ExitCode

__all__ = ["render"]


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the renderings into.",
)
@click.option("--pdf", is_flag=True, help="Also print the report to report.pdf (A4).")
def render(results: Path, out_dir: Path, pdf: bool) -> ExitCode:
    """Render a past audit again from its RESULTS json.

    Exits 0 when rendered (this is not a release decision: the verdict is the document's),
    4 when the file is not a consistent results document: its verdict and exit code must be
    the ones its checks and errors imply, or it is refused.
    """
    from reports import (
        check_out_folder,
        check_renderable,
        load_artifacts,
        load_results,
        one_line,
        set_aside,
    )

    from ._document import contradictions, verdict_of

    try:
        doc = load_results(results)
        verdict, code = verdict_of(doc)
    except (OSError, ValueError) as err:
        raise click.BadParameter(
            f"must be a fairgate results document. {err}", param_hint="RESULTS"
        ) from err
    problems = contradictions(doc)
    if problems:
        raise click.BadParameter(
            f"is not a consistent results document: {'; '.join(problems)}. Refused.",
            param_hint="RESULTS",
        )
    if (doc.get("verdict"), doc.get("exit_code")) != (verdict.value, int(code)):
        raise click.BadParameter(
            f"states the verdict {doc.get('verdict')!r} (exit code {doc.get('exit_code')!r}), "
            f"but its checks and errors imply {verdict.value!r} (exit code {int(code)}): "
            "refused.",
            param_hint="RESULTS",
        )
    images = load_artifacts(doc, results.parent)
    try:  # before anything at --out is moved aside
        texts = check_renderable(doc, images=images)  # rendered once, written below
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="RESULTS") from err
    check_out_folder(out_dir)
    set_aside(out_dir)
    publish_evidence(doc, Rendered(files=images, texts=texts), out_dir, pdf=pdf)
    audit_id = one_line(doc["run"].get("audit_id"))
    click.echo(f"rendered {audit_id} (verdict {verdict.value}) into {out_dir}")
    return ExitCode.OK
