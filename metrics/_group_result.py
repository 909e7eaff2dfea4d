"""``GroupMetrics``: the result of :func:`group_metrics`, the group rates with counts and
intervals, and the means to compute any disparity between the groups of a view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._clusters import ClusterCounts, design_effect, view_replicates
from ._counts import CountTable, GroupCounts
from ._disparity import between_groups
from ._disparity_result import EQUALIZED_ODDS, DisparityResult, compare_groups, equalized_odds_of
from ._rates import RATES, Rate, all_rate_parts, get_rate, one_vs_rest, rate_parts
from ._simultaneous import range_interval

__all__ = ["GroupMetrics"]

_OVERALL = ("accuracy", "error_rate")  # multiclass rates over all classes at once


@dataclass(frozen=True)
class GroupMetrics:
    """Group rates with counts and intervals, and the means to compute any disparity.

    Use :func:`group_metrics` to build it. ``by_group`` is a long table with one row per view,
    group, (class,) and rate: ``value``, ``numerator``, ``denominator``, ``n``, Wilson
    ``ci_low``/``ci_high`` and ``sufficient``. This table ignores cluster ids (its Wilson
    intervals treat rows as independent and ``sufficient`` does not apply ``min_clusters``);
    :meth:`disparity` and :meth:`disparities` apply both.
    """

    table: CountTable
    by_group: pd.DataFrame
    scores: pd.DataFrame | None
    min_group_size: int
    min_denominator: int
    confidence: float
    n_boot: int
    seed: int
    clusters: ClusterCounts | None = field(default=None, repr=False)
    min_clusters: int = 3
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def replicates(self, view: str | None = None) -> np.ndarray:
        """Bootstrap replicates of the group counts of ``view``, shape (n_boot, groups, k, k).

        Each view is resampled on its own from the seed ``(seed, view)``; with clusters, whole
        clusters are redrawn within each group. Computed once per view.
        """
        return self._replicates(self._view(view))[0]

    def clusters_per_group(self, view: str | None = None) -> np.ndarray | None:
        """Clusters per group of ``view`` (``None`` without cluster ids)."""
        return None if self.clusters is None else self._replicates(self._view(view))[1]

    def _replicates(self, view: str) -> tuple[np.ndarray, np.ndarray | None]:
        if view not in self._cache:
            self._cache[view] = view_replicates(
                self.table,
                tuple(view.split("|")),
                n_boot=self.n_boot,
                seed=self.seed,
                clusters=self.clusters,
            )
        return self._cache[view]

    def _effective(self, view: str, num: np.ndarray, den: np.ndarray, parts: Any):
        """Counts for the intervals: the counts, or with clusters the counts over the design
        effect. ``parts`` maps replicate counts to (numerator, denominator)."""
        if self.clusters is None:
            return num, den
        boot, n_cl = self._replicates(view)
        deff = design_effect(num, den, *parts(boot), n_cl, confidence=self.confidence)
        return num / deff, den / deff

    @property
    def views(self) -> tuple[str, ...]:
        """The views: each sensitive attribute, then their intersection."""
        return tuple("|".join(v) for v in self.table.views())

    def groups(self, view: str | None = None) -> GroupCounts:
        """The confusion counts of the groups of ``view`` (default: the first attribute)."""
        return self.table.view(self._view(view).split("|"))

    def counts(self, view: str | None = None) -> pd.DataFrame:
        """Per group: ``n`` and, for binary decisions, ``tp``, ``fp``, ``tn``, ``fn``."""
        g = self.groups(view)
        frame = pd.DataFrame({"n": g.n}, index=pd.Index(g.keys, name="group"))
        if self.table.binary:
            frame["tp"], frame["fp"] = g.counts[:, 1, 1], g.counts[:, 0, 1]
            frame["tn"], frame["fn"] = g.counts[:, 0, 0], g.counts[:, 1, 0]
        return frame

    def _view(self, view: str | None) -> str:
        view = self.views[0] if view is None else view
        if view not in self.views:
            raise ValueError(f"The 'view' parameter must be one of {self.views}. Got {view!r}.")
        return view

    def _parts(self, counts: np.ndarray, rate: Rate, klass: object | None):
        if self.table.binary:
            return rate_parts(counts, rate)
        n = counts.sum(axis=(-2, -1))
        if klass is None:
            right = np.trace(counts, axis1=-2, axis2=-1)
            return (right if rate.name == "accuracy" else n - right), n
        c = self.table.classes.index(klass)
        return rate_parts(one_vs_rest(counts)[..., c, :, :], rate)

    def disparity(
        self,
        metric: str,
        *,
        view: str | None = None,
        kind: str = "difference",
        reference: str | None = None,
        exclude: Sequence[str] = (),
        klass: object | None = None,
    ) -> DisparityResult:
        """Disparity of ``metric`` over the groups of ``view``.

        Parameters
        ----------
        metric : str
            A rate name (see ``RATES``) or ``'equalized_odds'`` (the worse of the true and
            false positive rate disparities, as in fairlearn).
        view : str, optional
            ``'sex'``, ``'sex|age_band'``, ...; defaults to the first attribute.
        kind : {'difference', 'ratio'}
        reference : str, optional
            ``None`` compares all groups (max − min, min / max); ``'largest'``,
            ``'most_favoured'`` or a group key compares each group with that group.
        exclude : sequence of str
            Group keys to leave out (the caller records why).
        klass : object, optional
            For multiclass decisions, the class of a one-vs-rest rate; ``None`` reports the
            class with the worst disparity.
        """
        view = self._view(view)
        rate = None if metric == EQUALIZED_ODDS else get_rate(metric)
        name = EQUALIZED_ODDS if rate is None else rate.name
        if not self.table.binary and klass is None and name not in _OVERALL:
            # Every class in full (value, interval, groups), then the worst class as a whole.
            per_class = [
                self.disparity(
                    metric, view=view, kind=kind, reference=reference, exclude=exclude, klass=c
                )
                for c in self.table.classes
            ]
            scored = [r for r in per_class if np.isfinite(r.value)]
            if not scored:
                return per_class[0]
            pick = max if kind == "difference" else min
            return pick(scored, key=lambda r: r.value)
        if rate is None:
            return self._equalized_odds(view, kind, reference, exclude, klass)
        return self._rate_disparity(
            view, rate, kind, reference, exclude, klass, confidence=self.confidence
        )

    def _rate_disparity(
        self, view, rate, kind, reference, exclude, klass, *, confidence
    ) -> DisparityResult:
        observed = self.table.view(view.split("|"))
        num, den = self._parts(observed.counts, rate, klass)
        eff_num, eff_den = self._effective(
            view, num, den, lambda boot: self._parts(boot, rate, klass)
        )
        keys = np.asarray(observed.keys, dtype=object)
        ok, short, out = self._eligibility(view, keys, observed.n, den, exclude)
        return compare_groups(
            view=view,
            rate=rate,
            kind=kind,
            reference=reference,
            klass=klass,
            observed=observed,
            num=num,
            den=den,
            eff_num=eff_num,
            eff_den=eff_den,
            ok=ok,
            short=short,
            out=out,
            confidence=confidence,
            group_confidence=self.confidence,
        )

    def disparities(self, kinds: Sequence[str] = ("difference", "ratio")) -> pd.DataFrame:
        """Every rate's disparity between groups, for every view, with simultaneous intervals.

        Vectorized over rates. Groups with too little evidence for a rate are left out of that
        rate's disparity and counted in ``n_insufficient``. Binary decisions only (use
        :meth:`disparity` for multiclass).
        """
        if not self.table.binary:
            raise ValueError("disparities() needs binary decisions; use disparity(klass=...).")
        rates = list(RATES.values())
        frames = []
        for attrs in self.table.views():
            view = "|".join(attrs)
            obs = self.table.view(attrs)
            num, den = all_rate_parts(obs.counts)  # (groups, rates)
            eff_num, eff_den = self._effective(view, num, den, all_rate_parts)
            ok = self._sufficient(view, obs.n[:, None], den)
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(ok, num / np.where(den > 0, den, 1), np.nan)
            enough = ok.sum(axis=0) >= 2
            for kind in kinds:
                est = np.where(enough, between_groups(value.T, kind), np.nan)
                lo, hi = range_interval(eff_num.T, eff_den.T, ok.T, kind, self.confidence)
                frames.append(
                    pd.DataFrame(
                        {
                            "view": view,
                            "metric": [r.name for r in rates],
                            "kind": kind,
                            "value": est,
                            "ci_low": np.where(enough, lo, np.nan),
                            "ci_high": np.where(enough, hi, np.nan),
                            "n_compared": ok.sum(axis=0),
                            "n_insufficient": (~ok).sum(axis=0),
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)

    def _sufficient(self, view: str, n: np.ndarray, den: np.ndarray) -> np.ndarray:
        """Enough evidence: rows, cases in the denominator (never 0: an undefined rate is not
        a rate), and with cluster ids enough clusters."""
        enough = (n >= self.min_group_size) & (den >= self.min_denominator) & (den > 0)
        n_cl = self.clusters_per_group(view)
        if n_cl is not None:
            enough &= (n_cl >= self.min_clusters).reshape(-1, *([1] * (np.ndim(den) - 1)))
        return enough

    def _eligibility(self, view, keys, n, den, exclude):
        excluded = np.isin(np.asarray(keys), np.asarray(list(exclude), dtype=object))
        enough = self._sufficient(view, n, den)
        return ~excluded & enough, ~excluded & ~enough, excluded

    def _equalized_odds(self, view, kind, reference, exclude, klass=None) -> DisparityResult:
        """The worse of the TPR and FPR disparities. Each side's interval is at Šidák's level
        ``sqrt(confidence)``, so both hold at once with probability ``confidence``, and the
        worse of two quantities lies between the worse of their lower and of their upper
        bounds. For multiclass decisions both sides are of the one class ``klass``, so value,
        interval and class come from one computation."""
        side_conf = float(np.sqrt(self.confidence))
        sides = [
            self._rate_disparity(
                view, get_rate(m), kind, reference, exclude, klass, confidence=side_conf
            )
            for m in ("true_positive_rate", "false_positive_rate")
        ]
        return equalized_odds_of(sides, view=view, kind=kind, klass=klass)
