"""The robustness check: perturb the inputs, decide again, compare each group's accuracy.

Each batch is perturbed with its own seeded generator (``[seed, batch index]``), so results
do not depend on the batch size's effect on draws order beyond that seed, and repeat exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from metrics import paired_change
from models_under_test import input_change, perturb
from reports import disclose

from ._checks import CheckResult, _num, _threshold, decide
from ._evidence import Evidence, feature_rows
from ._progress import progress
from ._spec import AuditSpec, RobustnessCheck
from ._status import Status

__all__ = ["MIN_INPUT_CHANGE", "robustness"]

_MEANING = (
    "How much each group's accuracy drops when the inputs are degraded (for example "
    "poor lighting or a noisy line), and whether some groups lose more than others. "
    "The disparity is the largest drop minus the smallest."
)


#: A perturbation that changes the inputs by less than this (mean relative RMS change) did
#: not test anything: the check is an error, never a pass.
MIN_INPUT_CHANGE = 0.01


@dataclass(frozen=True)
class Perturbed:
    """Decisions on the perturbed inputs and what the perturbation did to the inputs."""

    decisions: np.ndarray
    #: Mean over rows of the RMS change relative to the input's RMS.
    mean_input_change: float
    #: Share of rows whose input changed at all.
    inputs_changed: float


def _params(check: RobustnessCheck, spec: AuditSpec) -> dict[str, Any]:
    params = dict(check.params)
    if check.perturbation == "telephone" and spec.data.media is not None:
        params.setdefault("sample_rate", spec.data.media.sample_rate)  # the data's rate
    return params


def _decisions_after(check: RobustnessCheck, spec: AuditSpec, ev: Evidence) -> Perturbed:
    batch = spec.data.media.batch_size if spec.data.media else 50_000
    n, parts = len(ev.features), []
    change_sum, changed = 0.0, 0
    params = _params(check, spec)
    with progress(f"Perturbing ({check.perturbation})", n, enabled=ev.show) as advance:
        for i, start in enumerate(range(0, n, batch)):
            x = feature_rows(ev.features, start, start + batch)
            if not isinstance(x, np.ndarray):
                raise ValueError(
                    "Robustness perturbations need image or audio inputs "
                    "(data.media); this audit's inputs are a table."
                )
            rng = np.random.default_rng([ev.seed, i])
            moved = perturb(check.perturbation, x, rng=rng, params=params)
            relative, any_change = input_change(x, moved)
            change_sum += float(relative.sum())
            changed += int(any_change.sum())
            parts.append(np.asarray(ev.adapter.predict(moved)).reshape(-1))
            advance(len(x))
    return Perturbed(
        decisions=np.concatenate(parts),
        mean_input_change=change_sum / n if n else 0.0,
        inputs_changed=changed / n if n else 0.0,
    )


def _change(row: Any) -> str:
    """``falls by 12.3 points (from 85% to 73%)``: a drop is a fall, a negative drop a rise."""
    drop, before, after = row["drop"], row["before"], row["after"]
    span = f"from {before:.0%} to {after:.0%}"
    if drop > 0:
        return f"falls by {100 * drop:.1f} points ({span})"
    if drop < 0:
        return f"rises by {-100 * drop:.1f} points ({span})"
    return f"does not change ({before:.0%})"


def _points(check: RobustnessCheck) -> str:
    parts = ([f"at least {100 * check.min:.1f}"] if check.min is not None else []) + (
        [f"at most {100 * check.max:.1f}"] if check.max is not None else []
    )
    return " and ".join(parts) + " points"


def _sentence(check: RobustnessCheck, params: str, res: Any, *, resampled: str | None) -> str:
    """What the perturbation did to the groups that lose most and least, in points."""
    table = res.per_group.set_index("group")
    worst, best = table.loc[res.worst_group], table.loc[res.best_group]
    judged = table[table.sufficient]
    hidden = any(  # a drop times its group size must not give a count under 11
        disclose(rate=abs(float(row["drop"])), denominator=int(row["n"])).rate is None
        for row in (worst, best)
    )
    if res.worst_group == res.best_group or (judged["drop"] == judged["drop"].iloc[0]).all():
        who = (
            "accuracy changes alike in every compared group"
            if hidden
            else f"accuracy {_change(worst)} in every compared group"
        )
    elif hidden:
        who = (
            f"accuracy falls most for {res.worst_group} and least for {res.best_group} (the "
            "changes are not shown: small counts)"
        )
    else:
        who = (
            f"accuracy {_change(worst)} for {res.worst_group} and {_change(best)} for "
            f"{res.best_group}"
        )
    unit = f"{resampled}s" if resampled else "rows"
    return (
        f"Under {check.perturbation} ({params}), {who}: a gap of {100 * res.value:.1f} points "
        f"(95% interval {100 * res.ci[0]:.1f} to {100 * res.ci[1]:.1f} points, resampling "
        f"{unit}); the policy allows {_points(check)}."
    )


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
    perturbed = _decisions_after(check, spec, ev)
    after = perturbed.decisions
    measured = {
        "mean_input_change": perturbed.mean_input_change,
        "inputs_changed": perturbed.inputs_changed,
        "decisions_changed": float(np.mean(after != ev.decisions)) if len(after) else 0.0,
        "min_input_change": MIN_INPUT_CHANGE,
    }
    if perturbed.mean_input_change < MIN_INPUT_CHANGE:
        params = ", ".join(f"{k}={v}" for k, v in check.params.items()) or "defaults"
        for view in spec.views(check):
            yield CheckResult(
                name=f"{name} [{view}]",
                view=view,
                status=Status.ERROR,
                value=None,
                ci=None,
                message=(
                    f"not tested: {check.perturbation} ({params}) changed the inputs by "
                    f"{perturbed.mean_input_change:.2%} on average ({perturbed.inputs_changed:.0%}"
                    f" of them at all), less than the {MIN_INPUT_CHANGE:.0%} a robustness check "
                    "needs; an unchanged input cannot show a drop."
                ),
                details={
                    "perturbation": check.perturbation,
                    "params": dict(check.params),
                    **measured,
                    "threshold_source": check.source,
                    "meaning": _MEANING,
                },
                **base,
            )
        return
    right_before, right_after = ev.decisions == labels, after == labels
    cluster_column = spec.data.cluster_column
    # Clips of one speaker are not independent: resample speakers within groups.
    clusters = ev.frame[cluster_column].to_numpy() if cluster_column else None
    for view in spec.views(check):
        res = paired_change(
            right_before,
            right_after,
            ev.frame[view.split("|")],
            n_boot=spec.n_boot,
            seed=ev.seed,
            confidence=spec.confidence,
            min_group_size=spec.data.min_group_size,
            clusters=clusters,
        )
        status = decide(res.value, res.ci, low=check.min, high=check.max, decide_on=check.decide_on)
        short = [
            g for g, ok in zip(res.per_group.group, res.per_group.sufficient, strict=True) if not ok
        ]
        if short and status is not Status.FAIL:
            status = Status.INSUFFICIENT
        params = ", ".join(f"{k}={v}" for k, v in check.params.items()) or "defaults"
        message = (
            _sentence(check, params, res, resampled=cluster_column)
            if np.isfinite(res.value)
            else "Fewer than two groups have enough rows"
            + (f" and {cluster_column}s" if cluster_column else "")
            + " to compare."
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
                    **({"clusters": int(r.clusters)} if clusters is not None else {}),
                }
                for r in res.per_group.itertuples(index=False)
            },
            details={
                "perturbation": check.perturbation,
                "params": dict(check.params),
                "worst_group": res.worst_group,
                "best_group": res.best_group,
                "insufficient_groups": short,
                "resampled": f"{cluster_column}s within groups" if cluster_column else "rows",
                **measured,
                "threshold_source": check.source,
                "meaning": _MEANING,
            },
            **base,
        )
