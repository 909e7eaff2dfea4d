"""Disparities as exact rational numbers of the counts, for deciding at a threshold.

Rates are ratios of integers, so a disparity is a rational number. In floating point
``(32/100) / (40/100)`` is ``0.7999999999999999`` and ``42/100 − 32/100`` is
``0.10000000000000003``: a policy of ``min: 0.8`` or ``max: 0.1`` would wrongly fail them. The
gate compares :class:`fractions.Fraction` values instead; the floats are only displayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

__all__ = ["exact_disparity", "exact_threshold"]


def _pair_ratio(a: Fraction, b: Fraction) -> Fraction | None:
    """``min / max``; ``None`` for 0 to 0 (undefined, see :mod:`metrics._disparity`)."""
    low, high = min(a, b), max(a, b)
    return None if high == 0 else low / high


def exact_disparity(
    num: np.ndarray, den: np.ndarray, idx: Sequence[int], reference: int | None, kind: str
) -> Fraction | None:
    """The disparity of the rates ``num[i] / den[i]`` over ``idx``, exactly.

    ``None`` when a count is not an integer (nothing exact to compute), fewer than two
    groups take part, or a ratio is 0 to 0 (undefined). Same definitions as
    :mod:`metrics._disparity`.
    """
    if len(idx) < 2:
        return None
    rates = {}
    for i in idx:
        n, d = float(num[i]), float(den[i])
        if d <= 0 or not (n.is_integer() and d.is_integer()):
            return None
        rates[int(i)] = Fraction(int(n), int(d))
    values = list(rates.values())
    if reference is None:
        if kind == "difference":
            return max(values) - min(values)
        return _pair_ratio(min(values), max(values))
    ref = rates[int(reference)]
    if kind == "difference":
        return max(abs(v - ref) for v in values)
    pairs = [r for r in (_pair_ratio(v, ref) for v in values) if r is not None]
    return min(pairs) if pairs else None


def exact_threshold(bound: float) -> Fraction:
    """The threshold the policy wrote: ``0.8`` is 4/5, not the nearest binary float."""
    return Fraction(repr(float(bound)))
