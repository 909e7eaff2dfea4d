"""Audits: the spec model, the runner, the gate and the command line.

Python API for notebooks::

    from audits import run_audit
    result = run_audit("audits/specs/credit_scoring_v1.yaml")
    result.verdict, result.checks_frame(), result.metrics.by_group

Everything here is imported when first used (:pep:`562`): ``import audits`` costs nothing,
so a process that needs one module (the command line's help, the validation worker of
:mod:`audits._gx_worker`) does not import the runner, pandas or the models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._attestation import SigningError, attest, load_signer
    from ._checks import CheckResult, decide
    from ._ledger import LedgerError, append_record, verify_ledger
    from ._model_signature import ModelSignatureError, verify_model_signature
    from ._runner import CHECKS, SCHEMA_VERSION, AuditResult, DataError, run_audit
    from ._sign_model import sign_model
    from ._spec import AuditSpec, SpecError, load_spec, parse_spec
    from ._status import ExitCode, Status, Verdict, derive_verdict
    from ._verify import verify_evidence

_EXPORTS = {
    "SigningError": "._attestation",
    "attest": "._attestation",
    "load_signer": "._attestation",
    "CheckResult": "._checks",
    "decide": "._checks",
    "LedgerError": "._ledger",
    "append_record": "._ledger",
    "verify_ledger": "._ledger",
    "ModelSignatureError": "._model_signature",
    "verify_model_signature": "._model_signature",
    "CHECKS": "._runner",
    "SCHEMA_VERSION": "._runner",
    "AuditResult": "._runner",
    "DataError": "._runner",
    "run_audit": "._runner",
    "sign_model": "._sign_model",
    "AuditSpec": "._spec",
    "SpecError": "._spec",
    "load_spec": "._spec",
    "parse_spec": "._spec",
    "ExitCode": "._status",
    "Status": "._status",
    "Verdict": "._status",
    "derive_verdict": "._status",
    "verify_evidence": "._verify",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'audits' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
