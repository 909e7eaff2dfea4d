"""The monitor's evidence: staged (monitoring.json, report.html, transitions.csv), logged to
MLflow, then moved into place; a failure to log makes the run exit 2 and the evidence say so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._status import ExitCode

__all__ = ["write_evidence"]


def write_evidence(
    doc: dict[str, Any], out: Path, *, tracking: str | None, experiment: str
) -> list[str]:
    """Stage, log and publish the monitoring evidence; a failure to log makes it exit 2."""
    from models_under_test import scrub
    from reports import discard, publish

    staging = None
    try:
        staging, files = _stage(doc, out)
        if tracking:
            from ._monitor_record import log_monitor

            try:
                logged = log_monitor(
                    doc, files, tracking_uri=tracking, experiment=f"fairgate/{experiment}"
                )
                doc.setdefault("mlflow", logged)
            except Exception as err:
                problem = (
                    f"the monitor run could not be logged to MLflow: {scrub(str(err), tracking)}"
                )
                doc["exit_code"] = int(ExitCode.UNDECIDED)
                doc["message"] = f"{doc['message']}; {problem}"
                discard(staging)
                staging, files = _stage(doc, out)
                publish(staging, out)
                return [problem]
        publish(staging, out)
    except BaseException:
        discard(staging)
        raise
    return []


def _stage(doc: dict[str, Any], out: Path) -> tuple[Path, dict[str, Path]]:
    import pandas as pd

    from reports import event_disclosed, new_staging_folder, write_file
    from reports._monitor_html import render_monitor_html
    from reports._text import spreadsheet_cell  # a person's --reason "=..." is no formula

    staging = new_staging_folder(out, doc["monitor_id"])
    files = {
        "monitoring.json": write_file(
            staging, "monitoring.json", json.dumps(doc, indent=2, default=str).encode()
        ),
        "report.html": write_file(staging, "report.html", render_monitor_html(doc).encode()),
        "transitions.csv": write_file(
            staging,
            "transitions.csv",
            pd.DataFrame(
                [event_disclosed(doc, ev) for ev in doc["events"]],
                columns=[
                    "window",
                    "label",
                    "before",
                    "after",
                    "cause",
                    "check",
                    "group",
                    "pooled",
                    "rate",
                    "low",
                    "high",
                    "bound",
                    "by",
                    "reason",
                    "at",
                ],
            )
            .map(lambda v: spreadsheet_cell(v) if isinstance(v, str) else v)
            .to_csv(index=False)
            .encode(),
        ),
    }
    return staging, files
