"""The gaming checks ``manipulability`` and ``counterfactual_flip`` (``recourse`` is in
:mod:`audits._recourse_check`; what they share in :mod:`audits._gaming_common`).

Each check yields one result over everyone (view ``all``: the share, with its count and
Wilson interval, and the groups of every view in ``by_group``) and, when the spec bounds the
disparity, one result per view (the gap between the groups' shares with its simultaneous
interval). A decision log or media audit has no model to query with changed inputs: the
checks are then skipped, which blocks a release like any other check that did not run.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from metrics import counterfactual_flips, manipulation_search, typical_values, wilson_interval
from reports import disclose

from ._checks import CheckResult, _num
from ._evidence import Evidence
from ._gaming_common import (
    BATCH_ROWS,
    by_view,
    favourable,
    finish,
    not_queryable,
    option_values,
    require_columns,
    share_result,
    skipped,
)
from ._gaming_spec import CounterfactualFlipCheck, ManipulabilityCheck
from ._progress import progress
from ._spec import AuditSpec

__all__ = ["GAMING_CHECKS", "counterfactual_flip", "manipulability"]


def manipulability(
    check: ManipulabilityCheck, spec: AuditSpec, gm: Any, ev: Evidence
) -> Iterator[CheckResult]:
    """Share of adverse decisions that gaming the manipulable features turns favourable."""
    reason = not_queryable(spec, ev)
    if reason:
        yield from skipped(check, spec, "manipulable_share", reason)
        return
    names = list(check.manipulable_features)
    require_columns(ev.features, names, "manipulable_features")
    decide_rows = favourable(ev.adapter, spec.data.positive_label)
    adverse = ~decide_rows(ev.features) if len(ev.features) else np.zeros(0, bool)
    rows = ev.features.loc[adverse].reset_index(drop=True)
    options = {
        f: option_values(s, ev.features[f], ev.seed) for f, s in check.manipulable_features.items()
    }
    total = len(rows) * sum(
        np.prod([len(options[f]) for f in combo])
        for k in range(1, check.max_changes + 1)
        for combo in combinations(names, k)
    )
    with progress("Gaming the manipulable features", int(total), enabled=ev.show) as advance:
        res = manipulation_search(
            decide_rows,
            rows,
            options=options,
            max_changes=check.max_changes,
            discrete=[f for f, s in check.manipulable_features.items() if s.values is not None],
            batch_rows=BATCH_ROWS,
            advance=advance,
        )
    n = len(rows)
    top = []
    for change, count in res.top:
        lo, hi = wilson_interval(np.array([count]), np.array([n]), confidence=spec.confidence)
        top.append(
            {"change": change, "count": count, "share": count / n, "ci": [_num(lo[0]), _num(hi[0])]}
        )
    groups = ev.frame.loc[adverse, spec.data.sensitive].reset_index(drop=True)
    views = by_view(res.flipped, groups, spec, check)
    what = "can be turned into approvals" if len(names) else ""
    what += f" by changing up to {check.max_changes} features among {', '.join(names)}"
    overall = share_result(
        check,
        spec,
        metric="manipulable_share",
        hits=res.flipped,
        people="adverse decisions",
        what=what,
        by_group={},
        details={
            "manipulable_features": names,
            "max_changes": check.max_changes,
            "candidates": res.candidates,
            "per_person": res.per_row,
            "top_manipulations": top,
            "threshold_source": check.source,
        },
    )
    if top and disclose(numerator=top[0]["count"], denominator=n).numerator:
        best = top[0]
        overall = CheckResult(
            **{
                **overall.__dict__,
                "message": overall.message
                + f" Most effective: {best['change']} flips {100 * best['share']:.0f}% of them.",
            }
        )
    yield from finish(
        check,
        spec,
        overall,
        views,
        metric="manipulable_share",
        people="adverse decisions",
        share_of="adverse decisions that gaming turns favourable",
    )


def counterfactual_flip(
    check: CounterfactualFlipCheck, spec: AuditSpec, gm: Any, ev: Evidence
) -> Iterator[CheckResult]:
    """Share of decisions that change when the attribute (and proxies) take another group's
    values."""
    reason = not_queryable(spec, ev)
    if reason:
        yield from skipped(check, spec, "counterfactual_changes", reason)
        return
    require_columns(ev.features, list(check.proxies), "proxies")
    attribute = check.attribute
    set_attribute = attribute in ev.features.columns
    if not set_attribute and not check.proxies:
        yield from skipped(
            check,
            spec,
            "counterfactual_changes",
            f"the model is not given {attribute!r} and no proxies are named: nothing to flip.",
        )
        return
    current = ev.frame[attribute].to_numpy()
    typical = typical_values(ev.features.assign(**{attribute: current}), attribute, check.proxies)
    targets = {
        level: {**({attribute: level} if set_attribute else {}), **typical.get(level, {})}
        for level in sorted(pd.unique(current), key=str)
    }
    with progress(
        f"Flipping {attribute}", len(ev.features) * max(len(targets) - 1, 1), enabled=ev.show
    ) as advance:
        res = counterfactual_flips(
            ev.adapter.predict,
            ev.features,
            current=current,
            targets=targets,
            batch_rows=BATCH_ROWS,
            advance=advance,
        )
    flipped = ([attribute] if set_attribute else []) + list(check.proxies)
    groups = ev.frame[spec.data.sensitive].reset_index(drop=True)
    views = by_view(res.changed, groups, spec, check)
    overall = share_result(
        check,
        spec,
        metric="counterfactual_changes",
        hits=res.changed,
        people="decisions",
        what=f"change when {' and '.join(flipped)} are set as for another {attribute}",
        by_group={},
        details={
            "attribute": attribute,
            "flipped_columns": flipped,
            "proxies": list(check.proxies),
            "attribute_given_to_model": set_attribute,
            "proxy_values": {
                str(k): {c: str(v) for c, v in vals.items()} for k, vals in typical.items()
            },
            "candidates": res.candidates,
            "threshold_source": check.source,
        },
    )
    yield from finish(
        check,
        spec,
        overall,
        views,
        metric="counterfactual_changes",
        people="decisions",
        share_of="decisions that change",
    )


GAMING_CHECKS = {"manipulability": manipulability, "counterfactual_flip": counterfactual_flip}
