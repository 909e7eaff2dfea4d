"""Group metrics of a score (a credit score, a distress probability).

Per group: mean score, ROC AUC, Brier score, expected calibration error (equal-width bins) and
the NYC Local Law 144 *scoring rate*, the share of the group scoring above the overall median.
Intervals are analytic: Student t for the mean and the Brier score, Hanley & McNeil (1982) for
the AUC, Wilson for the scoring rate; the calibration error has none (reported as NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._counts import _as_frame, group_key
from ._intervals import wilson_interval

__all__ = ["SCORE_METRICS", "expected_calibration_error", "score_metrics"]

SCORE_METRICS = ("mean_score", "roc_auc", "brier_score", "calibration_error", "scoring_rate")


def expected_calibration_error(y: np.ndarray, s: np.ndarray, *, bins: int = 10) -> float:
    """Share-weighted mean gap between mean score and outcome rate in equal-width bins."""
    if len(s) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    b = np.clip(np.digitize(s, edges[1:-1], right=True), 0, bins - 1)
    n = np.bincount(b, minlength=bins)
    gap = np.abs(
        np.bincount(b, weights=s, minlength=bins) - np.bincount(b, weights=y, minlength=bins)
    )
    return float(gap.sum() / n.sum())


def _t_interval(x: np.ndarray, confidence: float) -> tuple[float, float, float]:
    from scipy import stats

    m = float(np.mean(x)) if len(x) else float("nan")
    if len(x) < 2:
        return m, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x))
    return m, m - half, m + half


def _auc(y: np.ndarray, s: np.ndarray, confidence: float) -> tuple[float, float, float]:
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan"), float("nan"), float("nan")
    a = float(roc_auc_score(y, s))
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return a, max(0.0, a - z * se), min(1.0, a + z * se)


def score_metrics(
    y_true: np.ndarray,
    scores: object,
    sensitive_features: object,
    *,
    views: Sequence[tuple[str, ...]],
    bins: int = 10,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Score metrics per group of each view, as a long table.

    Parameters
    ----------
    y_true : ndarray of bool
        Whether each row's true outcome is the favourable one.
    scores : array-like of float in [0, 1]
    sensitive_features : DataFrame, Series, mapping or array-like
    views : sequence of tuple of str
        The attribute combinations to group by.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(y_true, dtype=bool)
    if s.shape != y.shape:
        raise ValueError(
            f"The 'scores' parameter must have shape {y.shape}. Got {s.shape} instead."
        )
    if np.isnan(s).any():
        raise ValueError(f"The 'scores' parameter must not hold NaN. Got {int(np.isnan(s).sum())}.")
    frame = _as_frame(sensitive_features)
    above = s > np.median(s)
    rows = []
    for attrs in views:
        codes = frame.groupby(list(attrs), sort=True, observed=True).ngroup().to_numpy()
        keys = frame.loc[:, list(attrs)].drop_duplicates().sort_values(list(attrs))
        for g, levels in enumerate(keys.itertuples(index=False)):
            m = codes == g
            key, yg, sg, n = group_key(attrs, levels), y[m], s[m], int(m.sum())
            low, high = wilson_interval(above[m].sum(), n, confidence=confidence)
            values = {
                "mean_score": _t_interval(sg, confidence),
                "roc_auc": _auc(yg, sg, confidence),
                "brier_score": _t_interval((sg - yg) ** 2, confidence),
                "calibration_error": (
                    expected_calibration_error(yg, sg, bins=bins),
                    float("nan"),
                    float("nan"),
                ),
                "scoring_rate": (float(above[m].mean()), float(low), float(high)),
            }
            for metric, (v, lo, hi) in values.items():
                rows.append(
                    {
                        "view": "|".join(attrs),
                        "group": key,
                        "metric": metric,
                        "value": v,
                        "n": n,
                        "ci_low": lo,
                        "ci_high": hi,
                    }
                )
    return pd.DataFrame(rows)
