"""``DisparityResult``: one rate's disparity across the groups of one view, and how it is
computed from the groups' counts (range or comparison with a reference group, simultaneous
interval, per-group p-values, minimum detectable difference, equalized odds as the worse side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

from ._counts import GroupCounts
from ._disparity import against_reference, between_groups
from ._exact import exact_disparity
from ._intervals import holm, minimum_detectable_difference, two_proportion_pvalue, wilson_interval
from ._rates import Rate
from ._simultaneous import range_interval, reference_interval

__all__ = ["EQUALIZED_ODDS", "DisparityResult", "compare_groups", "equalized_odds_of"]

EQUALIZED_ODDS = "equalized_odds"


@dataclass(frozen=True)
class DisparityResult:
    """The disparity of one rate across the groups of one view.

    Attributes
    ----------
    view, metric, kind : str
        Which groups, which rate, ``'difference'`` or ``'ratio'``.
    value : float
        The disparity (``NaN`` when fewer than two groups could be compared).
    ci : tuple of float
        Simultaneous interval of the disparity (see :mod:`metrics._simultaneous`): it holds
        the true disparity with probability at least ``confidence``, also when the true rates
        are equal.
    reference : str or None
        The reference group, when groups were compared with one.
    compared, insufficient, excluded : tuple of str
        Groups compared; groups left out because their evidence is too small (fewer rows than
        ``min_group_size`` or a denominator under ``min_denominator``); groups the caller
        left out.
    worst_group, best_group : str or None
        The least and most favoured compared groups.
    mdd : float
        Minimum detectable difference (95 % confidence, 80 % power) between those two groups.
    klass : object or None
        For multiclass decisions, the class whose disparity is reported (the worst one).
    per_group : DataFrame
        Per group: ``n``, ``numerator``, ``denominator``, ``value``, ``ci_low``, ``ci_high``,
        ``status``, ``vs_reference``, ``p_value`` and Holm-adjusted ``p_holm`` (each compared
        group against the reference, or against the most favoured group; Holm corrects over
        the groups of this one view and metric).
    exact : Fraction or None
        The disparity as an exact rational number of the counts (``value`` is its float), for
        deciding at a threshold without rounding error.
    """

    view: str
    metric: str
    kind: str
    value: float
    ci: tuple[float, float]
    reference: str | None
    compared: tuple[str, ...]
    insufficient: tuple[str, ...]
    excluded: tuple[str, ...]
    worst_group: str | None
    best_group: str | None
    mdd: float
    klass: object | None
    per_group: pd.DataFrame = field(repr=False)
    exact: Fraction | None = field(default=None, repr=False)


def compare_groups(
    *,
    view: str,
    rate: Rate,
    kind: str,
    reference: str | None,
    klass: object | None,
    observed: GroupCounts,
    num: np.ndarray,
    den: np.ndarray,
    eff_num: np.ndarray,
    eff_den: np.ndarray,
    ok: np.ndarray,
    short: np.ndarray,
    out: np.ndarray,
    confidence: float,
    group_confidence: float,
) -> DisparityResult:
    """The disparity of ``rate`` over the groups of one view, from their counts.

    Parameters
    ----------
    view : str
        The view (``'sex'``, ``'sex|age_band'``, ...).
    rate : Rate
        The rate compared.
    kind : {'difference', 'ratio'}
    reference : str, optional
        ``None`` compares all groups; ``'largest'``, ``'most_favoured'`` or a group key
        compares each group with that group.
    klass : object, optional
        For multiclass decisions, the class of the one-vs-rest rate.
    observed : GroupCounts
        The groups of ``view``.
    num, den : ndarray of shape (groups,)
        Numerator and denominator of the rate per group.
    eff_num, eff_den : ndarray of shape (groups,)
        The counts for the intervals (over the design effect with cluster ids).
    ok, short, out : ndarray of bool, shape (groups,)
        Groups compared; groups with too little evidence; groups the caller left out.
    confidence : float
        Level of the disparity's interval.
    group_confidence : float
        Level of each group's Wilson interval and of the minimum detectable difference.

    Returns
    -------
    DisparityResult
    """
    keys = np.asarray(observed.keys, dtype=object)
    n = observed.n
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    low, high = wilson_interval(eff_num, eff_den, confidence=group_confidence)
    idx = np.flatnonzero(ok)
    better = -1.0 if rate.higher_is_better is False else 1.0
    best = worst = None
    ref_key = None
    exact = None
    vs_ref = np.full(len(keys), np.nan)
    d_val, d_ci = float("nan"), (float("nan"), float("nan"))
    if len(idx) >= 2:
        v = value[idx]
        best = int(idx[np.argmax(better * v)])
        worst = int(idx[np.argmin(better * v)])
        ref = reference_index(reference, keys=keys, n=n, idx=idx, best=best)
        if ref is None:
            d_val = float(between_groups(v, kind))
            ref_cmp = best
        else:
            pos = int(np.flatnonzero(idx == ref)[0])
            overall, per = against_reference(v, pos, kind)
            d_val, vs_ref[idx] = float(overall), per
            ref_key, ref_cmp = str(keys[ref]), ref
            if kind == "difference":
                worst = int(idx[np.argmax(np.abs(per))])
            else:
                worst = int(idx[np.argmin(per)])
        if ref is None or reference == "most_favoured":
            # Against the most favoured group the worst comparison *is* the range.
            lo, hi = range_interval(
                eff_num[idx], eff_den[idx], np.ones(len(idx), bool), kind, confidence
            )
        else:
            lo, hi = reference_interval(eff_num, eff_den, ok, ref, kind, confidence)
        d_ci = (float(lo), float(hi))
        exact = exact_disparity(num, den, idx, ref, kind)
    elif reference not in (None, "largest", "most_favoured"):
        ref_cmp = None
        ref_key = str(reference)
    else:
        ref_cmp = None
    pvals = np.full(len(keys), np.nan)
    if ref_cmp is not None:
        for i in idx:
            if i != ref_cmp:
                pvals[i] = two_proportion_pvalue(
                    eff_num[i], eff_den[i], eff_num[ref_cmp], eff_den[ref_cmp]
                )
    status = np.where(out, "excluded", np.where(short, "insufficient", "compared"))
    if ref_key is not None and ref_key in observed.keys:
        status[observed.keys.index(ref_key)] = "reference"
    per_group = pd.DataFrame(
        {
            "group": keys,
            "n": n,
            "numerator": num,
            "denominator": den,
            "value": value,
            "ci_low": low,
            "ci_high": high,
            "status": status,
            "vs_reference": vs_ref,
            "p_value": pvals,
            "p_holm": holm(pvals),
        }
    )
    mdd = float("nan")
    if best is not None and worst is not None:
        other = ref_cmp if ref_cmp is not None else best
        pooled = (num[worst] + num[other]) / max(den[worst] + den[other], 1)
        mdd = minimum_detectable_difference(
            eff_den[worst], eff_den[other], pooled, confidence=group_confidence
        )
    return DisparityResult(
        view=view,
        metric=rate.name,
        kind=kind,
        value=d_val,
        ci=d_ci,
        reference=ref_key,
        compared=tuple(keys[ok]),
        insufficient=tuple(keys[short]),
        excluded=tuple(keys[out]),
        worst_group=None if worst is None else str(keys[worst]),
        best_group=None if best is None else str(keys[best]),
        mdd=mdd,
        klass=klass,
        per_group=per_group,
        exact=exact,
    )


def reference_index(
    reference: str | None, *, keys: np.ndarray, n: np.ndarray, idx: np.ndarray, best: int
) -> int | None:
    """The index of the reference group, ``None`` to compare all groups with each other.

    Parameters
    ----------
    reference : str, optional
        ``None``, ``'largest'``, ``'most_favoured'`` or a group key.
    keys, n : ndarray of shape (groups,)
        The group keys and their rows.
    idx : ndarray of int
        The indices of the compared groups.
    best : int
        The index of the most favoured compared group.

    Returns
    -------
    int or None

    Raises
    ------
    ValueError
        If ``reference`` is no group key, or its group is not compared.
    """
    if reference is None:
        return None
    if reference == "most_favoured":
        return best
    if reference == "largest":
        return int(idx[np.argmax(n[idx])])
    hits = np.flatnonzero(keys == reference)
    if len(hits) == 0:
        raise ValueError(
            f"The 'reference' parameter must be 'largest', 'most_favoured' or a group key "
            f"among {list(keys)}. Got {reference!r} instead."
        )
    if hits[0] not in idx:
        raise ValueError(
            f"The reference group {reference!r} has too little evidence to compare with."
        )
    return int(hits[0])


def equalized_odds_of(
    sides: Sequence[DisparityResult], *, view: str, kind: str, klass: object | None
) -> DisparityResult:
    """The worse of the true and false positive rate disparities ``sides``.

    Parameters
    ----------
    sides : sequence of two DisparityResult
        The true positive rate's and the false positive rate's disparity, each with its
        interval at Šidák's level (see :meth:`GroupMetrics.disparity`).
    view : str
        The view of both sides.
    kind : {'difference', 'ratio'}
    klass : object, optional
        For multiclass decisions, the one class of both sides.

    Returns
    -------
    DisparityResult
    """
    pick = max if kind == "difference" else min
    worse = pick(
        sides,
        key=lambda r: (
            r.value if np.isfinite(r.value) else -np.inf if kind == "difference" else np.inf
        ),
    )
    both = all(np.isfinite(s.value) for s in sides)
    value = pick(sides[0].value, sides[1].value) if both else float("nan")
    ci = (
        (pick(sides[0].ci[0], sides[1].ci[0]), pick(sides[0].ci[1], sides[1].ci[1]))
        if both
        else (float("nan"), float("nan"))
    )
    exact = (
        pick(sides[0].exact, sides[1].exact)
        if both and all(s.exact is not None for s in sides)
        else None
    )
    both_compared = tuple(k for k in sides[0].compared if k in sides[1].compared)
    return DisparityResult(
        view=view,
        metric=EQUALIZED_ODDS,
        kind=kind,
        value=float(value),
        ci=(float(ci[0]), float(ci[1])),
        reference=worse.reference,
        compared=both_compared,
        insufficient=tuple(sorted(set(sides[0].insufficient) | set(sides[1].insufficient))),
        excluded=worse.excluded,
        worst_group=worse.worst_group,
        best_group=worse.best_group,
        mdd=max(s.mdd for s in sides),
        klass=klass,
        per_group=worse.per_group.assign(metric=worse.metric),
        exact=exact,
    )
