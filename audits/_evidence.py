"""What the checks look at: the data, the decisions, the model, and lazily computed evidence
(SHAP attributions, proxy strengths) shared by every check that needs it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from metrics import Attributions, GroupMetrics, ProxyStrength, explain, proxy_strength
from models_under_test import ModelAdapter

from ._progress import progress
from ._spec import AuditSpec
from ._spec_rules import same_value

__all__ = ["Evidence", "feature_rows", "importance_boot"]

_PILOT_ROWS = 20
_CHUNK_ROWS = 250
_IMPORTANCE_BOOT = 1000


def feature_rows(features: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a feature table, or of decoded media batches."""
    if isinstance(features, pd.DataFrame):
        return features.iloc[start:stop]
    return features[start:stop]


def importance_boot(att: Attributions, resamples: int, seed: int) -> np.ndarray:
    """Mean |SHAP| per feature under each bootstrap replicate of the rows: (replicates, F).

    A replicate weighs the rows by one multinomial draw (rows as cells), seeded.
    """
    n = len(att.values)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    return (weights / n) @ np.abs(att.values)


@dataclass
class Evidence:
    """The audit's inputs and shared intermediate results, built once per audit."""

    spec: AuditSpec
    frame: pd.DataFrame
    features: pd.DataFrame
    decisions: np.ndarray
    adapter: ModelAdapter | None
    gm: GroupMetrics | None
    seed: int
    #: Draw progress bars (on a terminal, not in CI or when quiet).
    show: bool = False
    #: Each row's score (the favourable class's probability), when the model gives one.
    scores: np.ndarray | None = None
    #: Files for the output folder (plots), by name.
    files: dict[str, bytes] = field(default_factory=dict)
    #: Files holding personal data (per-person reason codes): never logged or reported.
    private_files: dict[str, bytes] = field(default_factory=dict)

    @property
    def explainable(self) -> bool:
        """Whether the model gives probabilities, and says which column is favourable."""
        has_proba = self.adapter is not None and self.adapter.has_proba
        return has_proba and self._positive_index() is not None

    @property
    def proba_classes(self) -> list[Any] | None:
        """The classes of the probability columns: the model's own, or the spec's."""
        if self.adapter is None:
            return None
        return self.adapter.classes or getattr(self.spec.model, "proba_classes", None)

    @property
    def no_proba_reason(self) -> str:
        """Why nothing can be computed from probabilities (for a *skipped* message)."""
        if self.adapter is not None and self.adapter.decision_column is not None:
            return "needs probabilities: a decision log has no model to explain or score."
        if self.adapter is None or not self.adapter.has_proba:
            return "needs probabilities (the model has no predict_proba)."
        return (
            "needs probabilities of a known class: the model does not say which class each "
            "predict_proba column is, so the favourable class's column is unknown. Set "
            "model.proba_classes in the spec (the classes in column order, e.g. [0, 1])."
        )

    def _model(self) -> Any:
        inner = getattr(self.adapter, "estimator", None)
        return inner if callable(getattr(inner, "predict_proba", None)) else self.adapter

    def _positive_index(self) -> int | None:
        """The favourable class's column of predict_proba (never guessed: ``None``)."""
        positive = self.spec.data.positive_label
        found = (i for i, c in enumerate(self.proba_classes or []) if same_value(c, positive))
        return next(found, None)

    @cached_property
    def explained_rows(self) -> np.ndarray:
        """Indices of the rows explained: all, or a seeded sample of ``explain.rows``."""
        n, rows = len(self.features), self.spec.explain.rows
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(n, size=rows, replace=False)) if n > rows else np.arange(n)

    def background(self, seed: int) -> pd.DataFrame:
        """A seeded sample of ``explain.background`` rows standing for "feature absent"."""
        n, size = len(self.features), self.spec.explain.background
        rng = np.random.default_rng(seed)
        take = rng.choice(n, size=min(size, n), replace=False)
        return self.features.iloc[np.sort(take)]

    def _explain(self, background_seed: int, rows: np.ndarray) -> Attributions:
        """Explain ``rows`` in chunks, with a progress bar on a terminal."""
        settings = self.spec.explain
        background = self.background(background_seed)
        parts = []
        with progress("Explaining", len(rows), enabled=self.show) as advance:
            for start in range(0, len(rows), _CHUNK_ROWS):
                chunk = rows[start : start + _CHUNK_ROWS]
                parts.append(
                    explain(
                        self._model(),
                        self.features.iloc[chunk],
                        background=background,
                        positive_index=self._positive_index(),
                        method=settings.method,
                        max_evals=settings.max_evals,
                        seed=self.seed,
                    )
                )
                advance(len(chunk))
        if len(parts) == 1:
            return parts[0]
        return replace(
            parts[0],
            values=np.vstack([p.values for p in parts]),
            output=np.concatenate([p.output for p in parts]),
            additivity_error=max(p.additivity_error for p in parts),
            seconds=sum(p.seconds for p in parts),
        )

    def _within_budget(self, rows: np.ndarray, background_seed: int) -> np.ndarray:
        """Cut the rows so that a sampled explainer stays within the time budget."""
        start = time.perf_counter()
        pilot = self._explain(background_seed, rows[:_PILOT_ROWS])
        if pilot.method.startswith("tree") or len(rows) <= _PILOT_ROWS:
            return rows
        per_row = (time.perf_counter() - start) / min(len(rows), _PILOT_ROWS)
        fit = max(_PILOT_ROWS, int(self.spec.explain.time_budget_s / max(per_row, 1e-9)))
        return rows[:fit]

    @cached_property
    def _attributed(self) -> tuple[np.ndarray, Attributions | None]:
        """The rows explained (after any cut to the time budget) and their attributions."""
        if not self.explainable:
            return self.explained_rows, None
        rows = self._within_budget(self.explained_rows, self.seed + 1)
        return rows, self._explain(self.seed + 1, rows)

    @property
    def attributions(self) -> Attributions | None:
        """SHAP attributions of the explained rows (``None`` without probabilities)."""
        return self._attributed[1]

    @property
    def attributed_rows(self) -> np.ndarray:
        """The rows behind :attr:`attributions`."""
        return self._attributed[0]

    @property
    def attributions_computed(self) -> bool:
        """Whether a check has asked for attributions (charts are drawn only then)."""
        return "_attributed" in self.__dict__ and self.attributions is not None

    @cached_property
    def importance_boot(self) -> np.ndarray:
        """Mean |SHAP| per feature under 1,000 bootstrap replicates of the rows, computed once
        for the checks and charts that report importance intervals."""
        return importance_boot(self.attributions, _IMPORTANCE_BOOT, self.seed)

    def attributions_with_background(self, background_seed: int) -> Attributions | None:
        """The same rows explained against another background sample."""
        if self.attributions is None:
            return None
        return self._explain(background_seed, self.attributed_rows)

    @cached_property
    def proxies(self) -> ProxyStrength:
        """Proxy strength of every non-protected feature for each sensitive attribute."""
        candidates = self.features.drop(
            columns=[c for c in self.spec.protected if c in self.features.columns]
        )
        return proxy_strength(candidates, self.frame[self.spec.data.sensitive], seed=self.seed)
