"""Disparity of a group rate: between all groups, or each group against a reference.

Functions here take rate values with any leading axes (bootstrap replicates) and the groups on
the last axis, so the point estimate and every replicate go through the same code.

Definitions
-----------
``difference``
    Between groups: largest minus smallest rate. Against a reference: the largest absolute
    gap between a group and the reference.
``ratio``
    Between groups: smallest over largest rate, in [0, 1]. Against a reference: the smallest
    ``min(g, ref) / max(g, ref)``; with the most favoured group as reference and the selection
    rate this is the impact ratio of the four-fifths rule and NYC Local Law 144. A ratio of
    0 to 0 is undefined (NaN, as in fairlearn's ``demographic_parity_ratio``): nobody in the
    compared groups received the outcome, which says nothing about their equality, so it can
    never pass a bound. Against a reference, a 0-to-0 pair is left out of the worst comparison
    (a zero reference against a group with a positive rate is still 0).

Max − min over many groups is biased upwards in small samples (the extremes of noisy estimates
are further apart than the true rates). The intervals of :mod:`metrics._simultaneous` bound
the true disparity without that bias, so ``decide_on: interval`` is not affected by it.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["DISPARITY_KINDS", "against_reference", "between_groups"]

DISPARITY_KINDS = ("difference", "ratio")


def _check_kind(kind: str) -> None:
    if kind not in DISPARITY_KINDS:
        raise ValueError(
            f"The 'kind' parameter must be one of {DISPARITY_KINDS}. Got {kind!r} instead."
        )


def _ratio(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``low / high``, NaN where ``high`` is 0 (0 to 0: undefined) or NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(high > 0, low / np.where(high > 0, high, 1.0), np.nan)


def between_groups(values: np.ndarray, kind: str) -> np.ndarray:
    """Disparity over the last axis of ``values`` (NaN groups ignored)."""
    _check_kind(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        high = np.nanmax(values, axis=-1)
        low = np.nanmin(values, axis=-1)
    return high - low if kind == "difference" else _ratio(low, high)


def against_reference(
    values: np.ndarray, reference: int, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each group against the group at index ``reference`` on the last axis.

    Returns
    -------
    overall : ndarray
        The worst comparison: largest absolute difference, or smallest ratio.
    per_group : ndarray
        Per group: signed difference ``g - ref`` or ratio ``min(g, ref) / max(g, ref)``; the
        reference itself gets 0 or 1.
    """
    _check_kind(kind)
    ref = values[..., reference : reference + 1]
    if kind == "difference":
        per_group = values - ref
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            overall = np.nanmax(np.abs(per_group), axis=-1)
    else:
        per_group = _ratio(np.minimum(values, ref), np.maximum(values, ref))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            overall = np.nanmin(per_group, axis=-1)
    return overall, per_group
