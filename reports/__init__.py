"""Renderers of a fairgate results document: JSON, JUnit XML, Markdown, HTML, and MLflow.

Renderers take the results document (what results.json holds), never the runner's objects,
so any past audit can be rendered again from its results.json.
"""

from ._files import ARTIFACTS, load_artifacts, load_results, write_all, write_pdf
from ._html import render_html
from ._junit import render_junit
from ._markdown import render_markdown
from ._mlflow import AuditRun, audit_run, default_tracking_uri, log_audit, metric_key
from ._mlflow_store import RetryPolicy, describe_store, scrub, tracking_client

__all__ = [
    "ARTIFACTS",
    "AuditRun",
    "RetryPolicy",
    "audit_run",
    "default_tracking_uri",
    "describe_store",
    "load_artifacts",
    "load_results",
    "log_audit",
    "metric_key",
    "render_html",
    "render_junit",
    "render_markdown",
    "scrub",
    "tracking_client",
    "write_all",
    "write_pdf",
]
