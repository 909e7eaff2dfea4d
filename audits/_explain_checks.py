"""Explainability checks: direct use of protected features, proxies, reason codes, stability.

All four read the SHAP attributions the :class:`Evidence` computes once. A model without
``predict_proba`` cannot be explained: its checks are *skipped* ("needs probabilities"),
which blocks the release like any undecided check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from metrics import Attributions, percentile_interval
from reports import disclose
from reports._text import spreadsheet_cell

from ._checks import CheckResult, _bound_text, _num, _threshold, decide
from ._evidence import Evidence, importance_boot
from ._spec import (
    AuditSpec,
    ExplanationStabilityCheck,
    ProxyAttributionCheck,
    ReasonCodesCheck,
    SensitiveAttributionCheck,
)
from ._status import Status

__all__ = ["EXPLAIN_CHECKS"]

_EXACT_TOLERANCE = 1e-6  # additivity error allowed for exact (tree) explanations


_MEANINGS = {
    "sensitive_attribution": "How much of the model's reasoning (its SHAP attributions) rests "
    "directly on protected characteristics such as sex, age or nationality.",
    "proxy_attribution": "How much of the model's reasoning rests on other features that "
    "stand in for a protected characteristic (proxies).",
    "reason_codes": "Whether every refusal can be explained by reasons a caseworker can read, "
    "which add up to the model's output and are not protected characteristics.",
    "explanation_stability": "Whether the ranking of what matters to the model stays the same "
    "when the data are resampled or the reference sample changes.",
}


def _base(check: Any) -> dict[str, Any]:
    return {
        "name": check.name or check.type,
        "type": check.type,
        "metric": check.type,
        "disparity": "",
        "view": "model",
        "threshold": _threshold(check),
        "decide_on": check.decide_on,
    }


def _skipped(check: Any, why: str) -> CheckResult:
    return CheckResult(
        **_base(check), status=Status.SKIPPED, value=None, ci=None, message=f"skipped: {why}"
    )


def _needs_probabilities(fn: Callable[..., Iterator[CheckResult]]):
    """Skip (never pass) a check when the model gives no probabilities to explain."""

    @functools.wraps(fn)
    def wrapper(check: Any, spec: AuditSpec, gm: Any, ev: Evidence) -> Iterator[CheckResult]:
        if ev.attributions is None:
            yield _skipped(check, ev.no_proba_reason)
            return
        yield from fn(check, spec, gm, ev)

    return wrapper


def _share(imp: np.ndarray, columns: np.ndarray) -> np.ndarray:
    total = imp.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, imp[..., columns].sum(axis=-1) / total, 0.0)


def _provenance(att: Attributions, check: Any) -> dict[str, Any]:
    return {
        "meaning": _MEANINGS[check.type],
        "method": att.method,
        "explained": att.explained,
        "rows": len(att.values),
        "seconds": round(att.seconds, 3),
        "additivity_error": att.additivity_error,
    }


def importance_table(att: Attributions, boot: np.ndarray, top: int = 15) -> list[dict]:
    """Global importance with bootstrap intervals, largest first (aggregates only)."""
    mean = np.abs(att.values).mean(axis=0)
    lo, hi = percentile_interval(boot)
    order = np.argsort(-mean)[:top]
    return [
        {
            "feature": att.feature_names[i],
            "mean_abs_shap": float(mean[i]),
            "ci": [float(lo[i]), float(hi[i])],
        }
        for i in order
    ]


@_needs_probabilities
def sensitive_attribution(
    check: SensitiveAttributionCheck, spec: AuditSpec, gm: Any, ev: Evidence
) -> Iterator[CheckResult]:
    """Share of the total mean |SHAP| carried by the protected features themselves."""
    att = ev.attributions
    names = list(att.feature_names)
    protected = np.array([names.index(c) for c in spec.protected if c in names], dtype=int)
    boot = ev.importance_boot
    imp = np.abs(att.values).mean(axis=0)
    value = float(_share(imp, protected))
    lo, hi = percentile_interval(_share(boot, protected))
    status = decide(
        value, (float(lo), float(hi)), low=check.min, high=check.max, decide_on=check.decide_on
    )
    per_feature = {
        names[i]: {"value": float(_share(imp, np.array([i]))), "mean_abs_shap": float(imp[i])}
        for i in protected
    }
    used = [f for f, v in per_feature.items() if v["value"] > 0]
    yield CheckResult(
        **_base(check),
        status=status,
        value=value,
        ci=(float(lo), float(hi)),
        message=(
            f"The protected features carry {value:.1%} of the model's attributions "
            f"(95% interval {lo:.1%} to {hi:.1%}); the policy requires "
            f"{_bound_text(check)}. "
            + (
                f"Used directly: {', '.join(used)}."
                if used
                else "No protected feature is used directly."
            )
        ),
        by_group=per_feature,
        details={
            **_provenance(att, check),
            "protected_features": spec.protected,
            "importance": importance_table(att, boot),
            "threshold_source": check.source,
        },
    )


@_needs_probabilities
def proxy_attribution(
    check: ProxyAttributionCheck, spec: AuditSpec, gm: Any, ev: Evidence
) -> Iterator[CheckResult]:
    """Share of mean |SHAP| carried by features that encode a sensitive attribute strongly."""
    att = ev.attributions
    proxies = ev.proxies
    strength = proxies.table.groupby("feature").auc.max()
    names = list(att.feature_names)
    strong = [f for f, s in strength.items() if s >= check.strength_bound and f in names]
    cols = np.array([names.index(f) for f in strong], dtype=int)
    imp = np.abs(att.values).mean(axis=0)
    value = float(_share(imp, cols))
    lo, hi = percentile_interval(_share(ev.importance_boot, cols))
    status = decide(
        value, (float(lo), float(hi)), low=check.min, high=check.max, decide_on=check.decide_on
    )
    by_attribute = {}
    for attribute in spec.data.sensitive:
        top = proxies.strongest(attribute, 5)
        red = proxies.redundant.set_index("attribute").loc[attribute]
        by_attribute[attribute] = {
            "value": float(top.auc.iloc[0]) if len(top) else None,
            "strongest": [
                {
                    "feature": r.feature,
                    "auc": float(r.auc),
                    "balanced_accuracy": float(r.balanced_accuracy),
                    "mutual_information": float(r.mutual_information),
                    "attribution_share": float(_share(imp, np.array([names.index(r.feature)])))
                    if r.feature in names
                    else None,
                }
                for r in top.itertuples(index=False)
            ],
            "all_features_auc": float(red.auc),
            "all_features_balanced_accuracy": float(red.balanced_accuracy),
        }
    named = "; ".join(
        f"{a}: {v['strongest'][0]['feature']} (AUC {v['strongest'][0]['auc']:.2f})"
        for a, v in by_attribute.items()
        if v["strongest"]
    )
    yield CheckResult(
        **_base(check),
        status=status,
        value=value,
        ci=(float(lo), float(hi)),
        message=(
            f"Features that predict a sensitive attribute with ROC AUC of at least "
            f"{check.strength_bound:g} ({', '.join(strong) or 'none'}) carry {value:.1%} of "
            f"the model's attributions; the policy requires {_bound_text(check)}. "
            f"Strongest proxies: {named}."
        ),
        by_group=by_attribute,
        details={
            **_provenance(att, check),
            "strength_bound": check.strength_bound,
            "strong_proxies": strong,
            "threshold_source": check.source,
        },
    )


def _adverse_count(share: float, n: int) -> str:
    """``'123 '``, or nothing when the share and the count would give a count under 11."""
    return "" if disclose(rate=share, denominator=n).rate is None else f"{n} "


@_needs_probabilities
def reason_codes(
    check: ReasonCodesCheck, spec: AuditSpec, gm: Any, ev: Evidence
) -> Iterator[CheckResult]:
    """Every adverse decision needs ``k`` reasons that exist, add up and are not protected."""
    att = ev.attributions
    rows = ev.attributed_rows
    adverse = ev.decisions[rows] != spec.data.positive_label
    names = np.asarray(att.feature_names, dtype=object)
    protected = np.isin(names, spec.protected)
    values = att.values[adverse]
    order = np.argsort(values, axis=1, kind="stable")[:, : check.k]  # most adverse first
    top_values = np.take_along_axis(values, order, axis=1)
    exact = att.method.startswith("tree")
    row_error = np.abs(att.base_value + att.values.sum(axis=1) - att.output)[adverse]
    reconciles = row_error <= _EXACT_TOLERANCE if exact else np.ones(len(values), dtype=bool)
    valid = (top_values < 0).all(axis=1) & ~protected[order].any(axis=1) & reconciles
    n_adverse = int(adverse.sum())
    value = float(valid.mean()) if n_adverse else float("nan")
    status = decide(value, None, low=check.min, high=check.max, decide_on="estimate")
    top_reason = names[order[:, 0]] if n_adverse else np.array([], dtype=object)
    by_group: dict[str, dict[str, Any]] = {}
    frame = ev.frame.iloc[rows[adverse]]
    for attribute in spec.data.sensitive:
        for level, idx in frame.groupby(attribute, sort=True).indices.items():
            counts = pd.Series(top_reason[idx]).value_counts(normalize=True)
            by_group[f"{attribute}={level}"] = {
                "n": len(idx),
                "value": float(valid[idx].mean()),
                "top_reasons": {str(k): float(v) for k, v in counts.head(5).items()},
            }
    if check.per_person:
        reasons = pd.DataFrame({"row": rows[adverse]})
        for j in range(check.k):
            # a feature named "=..." is no formula in the spreadsheet that opens this file
            reasons[f"reason_{j + 1}"] = [spreadsheet_cell(n) for n in names[order[:, j]]]
            reasons[f"effect_{j + 1}"] = top_values[:, j]
        ev.private_files["PERSONAL-DATA_reason_codes.csv"] = reasons.to_csv(index=False).encode()
    yield CheckResult(
        **_base(check),
        status=status,
        value=_num(value),
        ci=None,
        message=(
            f"{value:.1%} of {_adverse_count(value, n_adverse)}adverse decisions explained "
            f"have {check.k} valid reasons (each pushing towards refusal, none protected, "
            f"adding up to the model output); the policy requires {_bound_text(check)}."
            if n_adverse
            else "No adverse decision among the rows explained."
        ),
        by_group=by_group,
        details={
            **_provenance(att, check),
            "k": check.k,
            "adverse_decisions": n_adverse,
            "additivity_tolerance": _EXACT_TOLERANCE if exact else None,
            "top_reasons": {
                str(k): float(v)
                for k, v in pd.Series(top_reason).value_counts(normalize=True).head(8).items()
            },
            "per_person_file": check.per_person,
            "threshold_source": check.source,
        },
    )


@_needs_probabilities
def explanation_stability(
    check: ExplanationStabilityCheck, spec: AuditSpec, gm: Any, ev: Evidence
) -> Iterator[CheckResult]:
    """Kendall's tau between the importance ranking and its resampled / re-backgrounded twins."""
    from scipy.stats import kendalltau

    att = ev.attributions
    imp = np.abs(att.values).mean(axis=0)
    boot = importance_boot(att, check.resamples, ev.seed + 7)
    taus = np.array([kendalltau(imp, b).statistic for b in boot])
    other = ev.attributions_with_background(ev.seed + 2)
    tau_bg = float(kendalltau(imp, np.abs(other.values).mean(axis=0)).statistic)
    tau_rows = float(np.nanmean(taus))
    value = min(tau_rows, tau_bg)
    lo, hi = percentile_interval(taus)
    status = decide(
        value, (float(lo), float(hi)), low=check.min, high=check.max, decide_on=check.decide_on
    )
    yield CheckResult(
        **_base(check),
        status=status,
        value=value,
        ci=(float(lo), float(hi)),
        message=(
            f"The importance ranking agrees with itself across row resamples (mean "
            f"Kendall tau {tau_rows:.2f}) and across two background samples (tau "
            f"{tau_bg:.2f}); the policy requires {_bound_text(check)}."
        ),
        details={
            **_provenance(att, check),
            "tau_resamples_mean": tau_rows,
            "tau_background": tau_bg,
            "resamples": check.resamples,
            "threshold_source": check.source,
        },
    )


EXPLAIN_CHECKS = {
    "sensitive_attribution": sensitive_attribution,
    "proxy_attribution": proxy_attribution,
    "reason_codes": reason_codes,
    "explanation_stability": explanation_stability,
}
