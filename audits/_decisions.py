"""The decide stage: every row's decision (and probabilities) from the model, in batches, and
what they must be before they are audited: probabilities that are probabilities, a known
column for the favourable class, decision codes that are labels.

Each function raises :class:`~models_under_test.PredictionError` (the audit ends with the
verdict ``error``, exit code 2) naming what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models_under_test import ModelAdapter, PredictionError
from reports import count_of, count_text

from ._data import BATCH_ROWS
from ._evidence import feature_rows
from ._progress import progress
from ._spec_rules import describe_values, same_value, type_hint

__all__ = ["Decided", "check_probabilities", "map_decision_codes", "proba_columns"]

#: How far a row of probabilities may sum from 1 (float32 models round).
SUM_TOLERANCE = 1e-3


def check_probabilities(values: np.ndarray, what: str) -> None:
    """Every value finite and in [0, 1]; every row of a matrix summing to 1."""
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        shown = values[bad][:5].tolist()
        raise PredictionError(
            f"{what} holds {count_of(int(bad.sum()), bad.size)} values that are not "
            "probabilities (missing, or "
            f"outside [0, 1]), e.g. {shown}: refused."
        )
    if values.ndim == 2 and values.shape[1] > 1:
        sums = values.sum(axis=1)
        off = np.abs(sums - 1) > SUM_TOLERANCE
        if off.any():
            raise PredictionError(
                f"{what}: {count_of(int(off.sum()), len(sums))} rows of probabilities do not "
                "sum to 1 "
                f"(e.g. {float(sums[off][0]):.4g}): they are not one probability per class."
            )


def proba_columns(
    adapter: ModelAdapter,
    proba: np.ndarray,
    positive_label: Any,
    declared: Sequence[Any] | None,
) -> list[Any] | None:
    """The class of each probability column, or ``None`` when nobody says it.

    The model's own classes win; the spec's ``proba_classes`` must then agree with them. A
    binary model's classes must include the favourable label; a multiclass model's need not
    (its score metrics are one-vs-rest per class).
    """
    what = f"The {adapter.kind} model {adapter.uri!r}'s predict_proba"
    if proba.ndim != 2:
        raise PredictionError(
            f"{what} must return one column per class (rows × classes). Got an array of "
            f"shape {proba.shape} instead."
        )
    check_probabilities(proba, what)
    own = adapter.classes
    if (
        own is not None
        and declared is not None
        and (
            len(own) != len(declared)
            or not all(same_value(a, b) for a, b in zip(own, declared, strict=False))
        )
    ):
        raise PredictionError(
            f"model.proba_classes {list(declared)!r} disagrees with the model's own classes "
            f"{list(own)!r}."
        )
    classes = list(own) if own is not None else (list(declared) if declared else None)
    if classes is None:
        return None
    if len(classes) != proba.shape[1]:
        raise PredictionError(
            f"{what} returned {proba.shape[1]} columns, but the classes are {classes!r} "
            f"({len(classes)}): one column per class is expected."
        )
    if len(classes) <= 2 and not any(same_value(c, positive_label) for c in classes):
        raise PredictionError(
            f"data.positive_label {positive_label!r} is not among the model's classes "
            f"{describe_values(classes)}: the favourable class's probability cannot be found."
        )
    return classes


def map_decision_codes(
    decisions: np.ndarray, mapping: Mapping[Any, Any], column: str
) -> np.ndarray:
    """A decision log's codes → label values; a code the mapping does not list is refused."""
    codes = pd.unique(pd.Series(decisions).dropna())
    keys = list(mapping)
    unmapped = [c for c in codes if not any(same_value(c, k) for k in keys)]
    if unmapped:
        raise PredictionError(
            f"The decision column {column!r} holds codes {describe_values(unmapped)} that "
            f"model.decision_values does not map (it maps {describe_values(keys)})."
        )
    lookup = {}
    for code in codes:
        key = next(k for k in keys if same_value(code, k))
        lookup[code] = mapping[key]
    return pd.Series(decisions, dtype=object).map(lookup).infer_objects().to_numpy()


@dataclass(frozen=True)
class Decided:
    """What the model decided: one decision per row, and its probabilities when it has them.

    ``proba`` is the full matrix (rows × ``proba_classes``); ``scores`` is the probability of
    the favourable class (binary decisions), ``None`` when it is not known.
    """

    decisions: np.ndarray
    scores: np.ndarray | None = None
    proba: np.ndarray | None = None
    proba_classes: list[Any] | None = None


def _decide(
    adapter: ModelAdapter,
    frame: pd.DataFrame,
    features: Any,
    *,
    positive_label: Any,
    show: bool,
    batch_rows: int = BATCH_ROWS,
    proba_classes: list[Any] | None = None,
    decision_values: dict[Any, Any] | None = None,
) -> Decided:
    """Decisions for every row, and the probability of the favourable class when available.

    ``proba_classes`` (the spec's) names the probability columns of a model that does not
    say its classes; ``decision_values`` maps a decision log's codes to label values.
    """
    if adapter.decision_column is not None:
        decisions = frame[adapter.decision_column].to_numpy()
        if decision_values:
            decisions = map_decision_codes(decisions, decision_values, adapter.decision_column)
        score_col = getattr(adapter, "score_column", None)
        scores = _numbers(frame[score_col], score_col) if score_col else None
        if scores is not None:
            check_probabilities(scores, f"The score column {score_col!r}")
        return Decided(decisions, scores)
    parts, probas = [], []
    with progress("Scoring", len(features), enabled=show) as advance:
        for start in range(0, len(features), batch_rows):
            batch = feature_rows(features, start, start + batch_rows)
            parts.append(np.asarray(adapter.predict(batch)).reshape(-1))
            if adapter.has_proba:
                probas.append(np.asarray(adapter.predict_proba(batch)))
            # Checked batch by batch: one short and one long batch would shift the rows.
            _same_rows(adapter, len(batch), parts[-1], probas[-1] if probas else None)
            advance(len(batch))
    decisions = np.concatenate(parts) if parts else np.array([])
    if len(decisions) != len(frame):
        raise PredictionError(
            f"The model returned {count_text(len(decisions))} decisions for "
            f"{count_text(len(frame))} rows."
        )
    if not probas:
        return Decided(decisions)
    proba = np.concatenate(probas)
    classes = proba_columns(adapter, proba, positive_label, proba_classes)
    if classes is None:  # unknown columns: no scores (never column 1 by default)
        return Decided(decisions, None, proba, None)
    column = next((i for i, c in enumerate(classes) if same_value(c, positive_label)), None)
    scores = None if column is None or len(classes) > 2 else proba[:, column]
    return Decided(decisions, scores, proba, classes)


def _numbers(column: pd.Series, name: str) -> np.ndarray:
    """A score column as floats; text that is not a number is refused, naming the column."""
    try:
        return column.to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        bad = pd.to_numeric(column, errors="coerce").isna() & column.notna()
        raise PredictionError(
            f"The score column {name!r} holds {count_text(int(bad.sum()))} values that are not "
            f"numbers: scores must be probabilities in [0, 1]."
        ) from err


def _same_rows(adapter: ModelAdapter, rows: int, decided: np.ndarray, proba: Any) -> None:
    """One decision (and one row of probabilities) for each row of a batch."""
    counts = {"decisions": len(decided)}
    if proba is not None and proba.ndim:  # a shapeless answer: proba_columns says so
        counts["rows of probabilities"] = proba.shape[0]
    for what, count in counts.items():
        if count != rows:
            raise PredictionError(
                f"The {adapter.kind} model {adapter.uri!r} returned {count_text(count)} {what} "
                f"for a batch of {count_text(rows)} rows."
            )


def _check_decisions(decisions: np.ndarray, labels: pd.Series) -> list[Any]:
    if pd.isna(decisions).any():
        raise PredictionError(
            f"{count_text(pd.isna(decisions).sum())} decisions are missing (NaN)."
        )
    known = set(pd.unique(labels).tolist())
    seen = set(pd.unique(decisions).tolist())
    stray = sorted((d for d in seen if not any(same_value(d, k) for k in known)), key=repr)
    if stray:
        raise PredictionError(
            f"The decisions hold values {describe_values(stray)} that are not among the "
            f"label's values {describe_values(known)}: decisions and labels must be coded "
            f"alike (a decision log can map its codes with model.decision_values)."
            f"{type_hint(stray[0], known)}"
        )
    return sorted(known | seen, key=str)
