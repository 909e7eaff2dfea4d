"""Audits: the spec model, the runner, the gate and the command line.

Python API for notebooks::

    from audits import run_audit
    result = run_audit("audits/specs/credit_scoring_v1.yaml")
    result.verdict, result.checks_frame(), result.metrics.by_group
"""

from ._checks import CheckResult, decide
from ._runner import CHECKS, SCHEMA_VERSION, AuditResult, DataError, run_audit
from ._spec import AuditSpec, SpecError, load_spec, parse_spec
from ._status import ExitCode, Status, Verdict, derive_verdict

__all__ = [
    "CHECKS",
    "SCHEMA_VERSION",
    "AuditResult",
    "AuditSpec",
    "CheckResult",
    "DataError",
    "ExitCode",
    "SpecError",
    "Status",
    "Verdict",
    "decide",
    "derive_verdict",
    "load_spec",
    "parse_spec",
    "run_audit",
]
