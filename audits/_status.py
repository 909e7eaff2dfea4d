"""Statuses of checks, the audit verdict derived from them, and the process exit codes."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, StrEnum

__all__ = ["ExitCode", "Status", "Verdict", "derive_verdict"]


class Status(StrEnum):
    """Outcome of one check. Only ``PASS`` lets a release through."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    INSUFFICIENT = "insufficient_evidence"
    ERROR = "error"
    SKIPPED = "skipped"
    #: A failure that a valid waiver (named approver, unexpired on the audit's date) accepts:
    #: not a pass; the verdict is at best ``PASS_WITH_WAIVERS``.
    WAIVED = "waived"
    #: The declared use is prohibited by a policy's clause (e.g. EU AI Act Art. 5(1)(f)).
    PROHIBITED = "prohibited"


class Verdict(StrEnum):
    """The audit's verdict, derived from its checks' statuses, never set by hand."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    #: Every check passed or was waived (at least one waived): a release (exit 0) that the
    #: report states with its waivers.
    PASS_WITH_WAIVERS = "pass_with_waivers"
    #: A policy prohibits the declared use: refused whatever the metrics say.
    PROHIBITED = "prohibited"


class ExitCode(IntEnum):
    """Process exit codes of ``fairgate``."""

    #: Every check passed (or failed under a valid waiver): the model may be released.
    OK = 0
    #: At least one check failed: the model is unfair by the spec; release blocked.
    CHECKS_FAILED = 1
    #: The harness could not decide (data or model error, insufficient or inconclusive
    #: evidence, a skipped check); release blocked.
    UNDECIDED = 2
    #: Prohibited use: a policy forbids the system's declared use (e.g. emotion recognition
    #: in the workplace, EU AI Act Art. 5(1)(f)); refused whatever the metrics say.
    PROHIBITED_USE = 3
    #: Bad usage: wrong arguments or an invalid spec.
    USAGE_ERROR = 4
    #: ``fairgate monitor``: the circuit breaker is open or half-open; people decide.
    BREAKER_OPEN = 5


_EXIT = {
    Verdict.PASS: ExitCode.OK,
    Verdict.PASS_WITH_WAIVERS: ExitCode.OK,
    Verdict.FAIL: ExitCode.CHECKS_FAILED,
    Verdict.INCONCLUSIVE: ExitCode.UNDECIDED,
    Verdict.ERROR: ExitCode.UNDECIDED,
    Verdict.PROHIBITED: ExitCode.PROHIBITED_USE,
}


def derive_verdict(statuses: Iterable[Status], *, errors: int = 0) -> tuple[Verdict, ExitCode]:
    """Derive the verdict and exit code from check statuses and audit-level errors.

    A prohibited use dominates everything (no metric can make it acceptable). Then a failed
    check is conclusive evidence against release and dominates. Otherwise any error
    (or no check at all) gives ``ERROR``, and any inconclusive, insufficient or skipped check
    gives ``INCONCLUSIVE``. ``PASS`` needs at least one check and every check passed;
    ``PASS_WITH_WAIVERS``, every check passed or waived and at least one waived. Only a
    failure is ever waived (see :mod:`audits._waivers`), so a waiver never hides an error.
    """
    seen = set(statuses)
    if Status.PROHIBITED in seen:
        verdict = Verdict.PROHIBITED
    elif Status.FAIL in seen:
        verdict = Verdict.FAIL
    elif errors or Status.ERROR in seen or not seen:
        verdict = Verdict.ERROR
    elif seen & {Status.INCONCLUSIVE, Status.INSUFFICIENT, Status.SKIPPED}:
        verdict = Verdict.INCONCLUSIVE
    elif Status.WAIVED in seen:
        verdict = Verdict.PASS_WITH_WAIVERS
    else:
        verdict = Verdict.PASS
    return verdict, _EXIT[verdict]
