"""Renderers of a fairgate results document: JSON, JUnit XML, Markdown, HTML, and MLflow.

Renderers take the results document (what results.json holds), never the runner's objects,
so any past audit can be rendered again from its results.json.
"""

from ._diff import NOISE_RULE, diff_documents, diff_text
from ._files import (
    ARTIFACTS,
    check_renderable,
    load_artifacts,
    load_results,
    write_all,
    write_pdf,
)
from ._folder import (
    EvidenceFolderError,
    check_out_folder,
    discard,
    new_staging_folder,
    publish,
    set_aside,
    write_file,
)
from ._html import render_html
from ._junit import render_junit
from ._markdown import render_markdown
from ._mlflow import DEFAULT_STORE, AuditRun, audit_run, default_tracking_uri, log_audit, metric_key
from ._mlflow_store import RetryPolicy, describe_store, retrying, scrub, tracking_client
from ._monitor_disclose import check_hidden, event_disclosed, window_disclosure
from ._pages import page_name
from ._plain import check_message
from ._site import site_files, system_key
from ._suppress import (
    MIN_CELL,
    WITHHELD,
    Disclosure,
    check_counts,
    count_of,
    count_text,
    disclose,
    flagged_named,
    group_values,
    highest_named,
    size_text,
    suppressed,
    withheld_values,
)
from ._text import one_line
from ._transparency import TO_FILL, record_csv, transparency_record
from ._waiver_text import waiver_line, waiver_rows

__all__ = [
    "ARTIFACTS",
    "DEFAULT_STORE",
    "MIN_CELL",
    "NOISE_RULE",
    "TO_FILL",
    "WITHHELD",
    "AuditRun",
    "Disclosure",
    "EvidenceFolderError",
    "RetryPolicy",
    "audit_run",
    "check_counts",
    "check_hidden",
    "check_message",
    "check_out_folder",
    "check_renderable",
    "count_of",
    "count_text",
    "default_tracking_uri",
    "describe_store",
    "diff_documents",
    "diff_text",
    "discard",
    "disclose",
    "event_disclosed",
    "flagged_named",
    "group_values",
    "highest_named",
    "load_artifacts",
    "load_results",
    "log_audit",
    "metric_key",
    "new_staging_folder",
    "one_line",
    "page_name",
    "publish",
    "record_csv",
    "render_html",
    "render_junit",
    "render_markdown",
    "retrying",
    "scrub",
    "set_aside",
    "site_files",
    "size_text",
    "suppressed",
    "system_key",
    "tracking_client",
    "transparency_record",
    "waiver_line",
    "waiver_rows",
    "window_disclosure",
    "withheld_values",
    "write_all",
    "write_file",
    "write_pdf",
]
