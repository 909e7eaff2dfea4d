"""The robustness check: perturb the inputs, decide again, compare each group's accuracy.

Each batch is perturbed with its own seeded generator (``[seed, batch index]``), so results
do not depend on the batch size's effect on draws order beyond that seed, and repeat exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from metrics import paired_change
from models_under_test import perturb
from reports import disclose

from ._checks import CheckResult, _bound_text, _num, _threshold, decide
from ._evidence import Evidence, feature_rows
from ._progress import progress
from ._spec import AuditSpec, RobustnessCheck
from ._status import Status

__all__ = ["robustness"]

_MEANING = (
    "How much each group's accuracy drops when the inputs are degraded (for example "
    "poor lighting or a noisy line), and whether some groups lose more than others. "
    "The disparity is the largest drop minus the smallest."
)


def _decisions_after(check: RobustnessCheck, spec: AuditSpec, ev: Evidence) -> np.ndarray:
    batch = spec.data.media.batch_size if spec.data.media else 50_000
    n, parts = len(ev.features), []
    with progress(f"Perturbing ({check.perturbation})", n, enabled=ev.show) as advance:
        for i, start in enumerate(range(0, n, batch)):
            x = feature_rows(ev.features, start, start + batch)
            if not isinstance(x, np.ndarray):
                raise ValueError(
                    "Robustness perturbations need image or audio inputs "
                    "(data.media); this audit's inputs are a table."
                )
            rng = np.random.default_rng([ev.seed, i])
            parts.append(
                np.asarray(
                    ev.adapter.predict(perturb(check.perturbation, x, rng=rng, params=check.params))
                ).reshape(-1)
            )
            advance(len(x))
    return np.concatenate(parts)


def _drops(per_group: Any, worst: str, best: str) -> str:
    """Both groups' drops, unless one times its group size gives a count under 11."""
    drops = [float(per_group.loc[g, "drop"]) for g in (worst, best)]
    sizes = [int(per_group.loc[g, "n"]) for g in (worst, best)]
    if any(
        disclose(rate=abs(d), denominator=n).rate is None for d, n in zip(drops, sizes, strict=True)
    ):
        return f"most for {worst} and least for {best} (their drops are not shown: small counts)"
    return f"by {drops[0]:.1%} for {worst} and by {drops[1]:.1%} for {best}"


def robustness(
    check: RobustnessCheck, spec: AuditSpec, gm: Any, ev: Evidence
) -> Iterator[CheckResult]:
    """Per view, the disparity of the accuracy drop under the perturbation."""
    name = check.name or f"robustness {check.perturbation}"
    base = {
        "type": check.type,
        "metric": "accuracy_drop",
        "disparity": "difference",
        "threshold": _threshold(check),
        "decide_on": check.decide_on,
    }
    if ev.adapter is None or ev.adapter.decision_column is not None:
        for view in spec.views(check):
            yield CheckResult(
                name=f"{name} [{view}]",
                view=view,
                status=Status.SKIPPED,
                value=None,
                ci=None,
                message="skipped: a decision log cannot be re-run on perturbed inputs.",
                **base,
            )
        return
    labels = ev.frame[spec.data.label].to_numpy()
    after = _decisions_after(check, spec, ev)
    right_before, right_after = ev.decisions == labels, after == labels
    for view in spec.views(check):
        res = paired_change(
            right_before,
            right_after,
            ev.frame[view.split("|")],
            n_boot=spec.n_boot,
            seed=ev.seed,
            confidence=spec.confidence,
            min_group_size=spec.data.min_group_size,
        )
        status = decide(res.value, res.ci, low=check.min, high=check.max, decide_on=check.decide_on)
        short = [
            g for g, ok in zip(res.per_group.group, res.per_group.sufficient, strict=True) if not ok
        ]
        if short and status is not Status.FAIL:
            status = Status.INSUFFICIENT
        worst = res.per_group.set_index("group")
        params = ", ".join(f"{k}={v}" for k, v in check.params.items()) or "defaults"
        message = (
            f"Under {check.perturbation} ({params}), accuracy drops "
            f"{_drops(worst, res.worst_group, res.best_group)}: a gap of {res.value:.3f} "
            f"(95% interval {res.ci[0]:.3f} to {res.ci[1]:.3f}); the policy requires "
            f"{_bound_text(check)}."
            if np.isfinite(res.value)
            else "Fewer than two groups have enough rows to compare."
        )
        yield CheckResult(
            name=f"{name} [{view}]",
            view=view,
            status=status,
            value=_num(res.value),
            ci=(_num(res.ci[0]), _num(res.ci[1])) if np.isfinite(res.value) else None,
            message=message,
            by_group={
                r.group: {
                    "value": _num(r.drop),
                    "ci": [_num(r.ci_low), _num(r.ci_high)],
                    "n": int(r.n),
                    "before": _num(r.before),
                    "after": _num(r.after),
                    "status": "compared" if r.sufficient else "insufficient",
                }
                for r in res.per_group.itertuples(index=False)
            },
            details={
                "perturbation": check.perturbation,
                "params": dict(check.params),
                "worst_group": res.worst_group,
                "best_group": res.best_group,
                "insufficient_groups": short,
                "threshold_source": check.source,
                "meaning": _MEANING,
            },
            **base,
        )
