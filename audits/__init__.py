"""Audits: the spec model, the runner, the gate and the command line.

Python API for notebooks::

    from audits import run_audit
    result = run_audit("audits/specs/credit_scoring_v1.yaml")
    result.verdict, result.checks_frame(), result.metrics.by_group
"""

from ._attestation import SigningError, attest, load_signer
from ._checks import CheckResult, decide
from ._ledger import LedgerError, append_record, verify_ledger
from ._model_signature import ModelSignatureError, verify_model_signature
from ._runner import CHECKS, SCHEMA_VERSION, AuditResult, DataError, run_audit
from ._sign_model import sign_model
from ._spec import AuditSpec, SpecError, load_spec, parse_spec
from ._status import ExitCode, Status, Verdict, derive_verdict
from ._verify import verify_evidence

__all__ = [
    "CHECKS",
    "SCHEMA_VERSION",
    "AuditResult",
    "AuditSpec",
    "CheckResult",
    "DataError",
    "ExitCode",
    "LedgerError",
    "ModelSignatureError",
    "SigningError",
    "SpecError",
    "Status",
    "Verdict",
    "append_record",
    "attest",
    "decide",
    "derive_verdict",
    "load_signer",
    "load_spec",
    "parse_spec",
    "run_audit",
    "sign_model",
    "verify_evidence",
    "verify_ledger",
    "verify_model_signature",
]
