"""Rates as functions of confusion counts.

A rate is a numerator and a denominator, each a sum of confusion cells. Because the functions
take counts with any leading axes, the same code serves the observed table ``(groups, 2, 2)``,
bootstrap replicates ``(replicates, groups, 2, 2)`` and one-vs-rest multiclass tables
``(groups, classes, 2, 2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "RATES",
    "Rate",
    "all_rate_parts",
    "get_rate",
    "one_vs_rest",
    "rate_parts",
    "rate_values",
]

# Cell positions in a binary table counts[..., true, decided]: 0 = negative, 1 = positive.
_CELLS = {"tn": (0, 0), "fp": (0, 1), "fn": (1, 0), "tp": (1, 1)}


@dataclass(frozen=True)
class Rate:
    """A group rate defined by confusion cells.

    Attributes
    ----------
    name : str
        Canonical name, as in fairlearn where fairlearn has it.
    numerator, denominator : tuple of str
        Confusion cells (``'tp'``, ``'fp'``, ``'tn'``, ``'fn'``) summed above and below.
    higher_is_better : bool or None
        Whether a higher value favours the group (``None`` for the base rate, which describes
        the data, not the decisions).
    meaning : str
        One plain-language sentence for reports.
    """

    name: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    higher_is_better: bool | None
    meaning: str

    def mask(self, cells: tuple[str, ...]) -> np.ndarray:
        m = np.zeros((2, 2))
        for c in cells:
            m[_CELLS[c]] = 1.0
        return m


_ALL = ("tp", "fp", "tn", "fn")
RATES: dict[str, Rate] = {
    r.name: r
    for r in (
        Rate(
            "selection_rate",
            ("tp", "fp"),
            _ALL,
            True,
            "Share of people who received the favourable decision.",
        ),
        Rate(
            "true_positive_rate",
            ("tp",),
            ("tp", "fn"),
            True,
            "Share of people who merited the favourable outcome and received it.",
        ),
        Rate(
            "false_positive_rate",
            ("fp",),
            ("fp", "tn"),
            False,
            "Share of people who did not merit the favourable outcome but received it.",
        ),
        Rate(
            "true_negative_rate",
            ("tn",),
            ("tn", "fp"),
            True,
            "Share of people without the favourable outcome who were correctly decided so.",
        ),
        Rate(
            "false_negative_rate",
            ("fn",),
            ("tp", "fn"),
            False,
            "Share of people who merited the favourable outcome but were refused it.",
        ),
        Rate(
            "precision",
            ("tp",),
            ("tp", "fp"),
            True,
            "Share of favourable decisions that were right (positive predictive value).",
        ),
        Rate(
            "negative_predictive_value",
            ("tn",),
            ("tn", "fn"),
            True,
            "Share of unfavourable decisions that were right.",
        ),
        Rate(
            "false_discovery_rate",
            ("fp",),
            ("tp", "fp"),
            False,
            "Share of favourable decisions that were wrong.",
        ),
        Rate(
            "false_omission_rate",
            ("fn",),
            ("tn", "fn"),
            False,
            "Share of unfavourable decisions that were wrong.",
        ),
        Rate("accuracy", ("tp", "tn"), _ALL, True, "Share of decisions that were right."),
        Rate("error_rate", ("fp", "fn"), _ALL, False, "Share of decisions that were wrong."),
        Rate(
            "base_rate",
            ("tp", "fn"),
            _ALL,
            None,
            "Share of people whose true outcome is the favourable one (describes the data).",
        ),
    )
}
_ALIASES = {
    "tpr": "true_positive_rate",
    "fpr": "false_positive_rate",
    "tnr": "true_negative_rate",
    "fnr": "false_negative_rate",
    "ppv": "precision",
    "positive_predictive_value": "precision",
    "npv": "negative_predictive_value",
    "fdr": "false_discovery_rate",
    "for": "false_omission_rate",
    "recall": "true_positive_rate",
}


def get_rate(name: str) -> Rate:
    """Return the rate called ``name`` (canonical name or alias such as ``'fpr'``)."""
    key = _ALIASES.get(name, name)
    if key not in RATES:
        raise ValueError(
            f"The 'metric' parameter must be one of {sorted(RATES)} or an alias "
            f"{sorted(_ALIASES)}. Got {name!r} instead."
        )
    return RATES[key]


def rate_parts(counts: np.ndarray, rate: Rate) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of ``rate`` for binary counts of shape ``(..., 2, 2)``."""
    num = np.tensordot(counts, rate.mask(rate.numerator), axes=([-2, -1], [0, 1]))
    den = np.tensordot(counts, rate.mask(rate.denominator), axes=([-2, -1], [0, 1]))
    return num, den


_NUM = np.stack([r.mask(r.numerator) for r in RATES.values()], axis=-1)  # (2, 2, R)
_DEN = np.stack([r.mask(r.denominator) for r in RATES.values()], axis=-1)


def all_rate_parts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerators and denominators of every rate in :data:`RATES` at once.

    ``counts`` of shape ``(..., 2, 2)`` give two arrays of shape ``(..., len(RATES))``.
    """
    return (
        np.tensordot(counts, _NUM, axes=([-2, -1], [0, 1])),
        np.tensordot(counts, _DEN, axes=([-2, -1], [0, 1])),
    )


def rate_values(counts: np.ndarray, rate: Rate) -> np.ndarray:
    """The rate itself, ``NaN`` where its denominator is zero."""
    num, den = rate_parts(counts, rate)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def one_vs_rest(counts: np.ndarray) -> np.ndarray:
    """Turn ``(..., K, K)`` multiclass counts into ``(..., K, 2, 2)`` one-vs-rest counts.

    For class ``c`` the positive outcome is "is class c" (true) and "sent to class c" (decided).
    """
    tp = np.diagonal(counts, axis1=-2, axis2=-1)
    true_c = counts.sum(axis=-1)
    decided_c = counts.sum(axis=-2)
    n = counts.sum(axis=(-2, -1))[..., None]
    fn = true_c - tp
    fp = decided_c - tp
    tn = n - tp - fn - fp
    out = np.stack([np.stack([tn, fp], axis=-1), np.stack([fn, tp], axis=-1)], axis=-2)
    return out
