"""The check stage: the explicit check registry, running every check of a spec (a check that
raises is an ``error`` result, never a pass), and the explanation charts drawn after them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from metrics import GroupMetrics

from ._checks import FAIRNESS_CHECKS, CheckResult, error_results
from ._evidence import Evidence
from ._explain_checks import EXPLAIN_CHECKS
from ._gaming_checks import GAMING_CHECKS
from ._policy import DEPLOYMENT_CHECKS
from ._policy_checks import POLICY_CHECKS
from ._recourse_check import recourse
from ._robustness_check import robustness
from ._spec import AuditSpec
from ._stages import _Audit, _stage, _text

__all__ = ["CHECKS", "_check", "_run_checks"]

#: The explicit check registry: spec ``type`` → check function.
CHECKS = {
    **FAIRNESS_CHECKS,
    **EXPLAIN_CHECKS,
    "robustness": robustness,
    **GAMING_CHECKS,
    "recourse": recourse,
    **POLICY_CHECKS,
}


@_stage("check")
def _check(audit: _Audit, evidence: Evidence) -> None:
    """Run every check, then draw the explanation charts."""
    audit.results = _run_checks(audit.spec, audit.gm, evidence, audit.errors, audit.owners)
    audit.files, audit.private = _charts(evidence), evidence.private_files


def _run_checks(
    spec: AuditSpec,
    gm: GroupMetrics | None,
    evidence: Evidence | None,
    errors: list[dict[str, str]],
    owners: list[int | None] | None = None,
    *,
    checks: list[Any] | None = None,
) -> list[CheckResult]:
    """Run every check; one that raises becomes an ``error`` result, the others still run.

    Model code called by a check (explanations, perturbed inputs) may raise ``SystemExit``:
    that check is an error. An interruption (``KeyboardInterrupt``, a signal) stops them all.
    """
    results: list[CheckResult] = []
    if checks is None:
        checks = [c for c in spec.checks if c.type not in DEPLOYMENT_CHECKS]
    position = {id(c): i for i, c in enumerate(spec.checks)}  # which spec check gave a result
    for check in checks:
        index, done = position.get(id(check)), len(results)
        clause = check.clause.model_dump() if getattr(check, "clause", None) else None
        try:
            found = list(CHECKS[check.type](check, spec, gm, evidence))
            results.extend(replace(r, clause=clause) for r in found)
        except (Exception, SystemExit) as err:  # a broken check is never a pass
            kind, text = type(err).__name__, _text(err)
            errors.append({"stage": f"check ({check.type})", "type": kind, "message": text})
            message = f"the check could not be computed: {kind}: {text}"
            results.extend(error_results(spec, message, [check]))
        if owners is not None:
            owners.extend([index] * (len(results) - done))
    return results


def _charts(evidence: Evidence) -> dict[str, bytes]:
    """Explanation charts, when the checks computed attributions."""
    if not evidence.attributions_computed:
        return dict(evidence.files)
    from ._explain_checks import importance_table
    from ._explain_plots import explanation_charts

    att, rows = evidence.attributions, evidence.attributed_rows
    groups = evidence.frame.iloc[rows][evidence.spec.data.sensitive].reset_index(drop=True)
    table = importance_table(att, evidence.importance_boot)
    return {**evidence.files, **explanation_charts(att, groups, importance=table)}
