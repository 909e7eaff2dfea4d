"""``group_metrics``: every group rate, its interval and every disparity from one count table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from ._clusters import ClusterCounts, cluster_counts, design_effect, view_replicates
from ._counts import CountTable, GroupCounts, _as_frame, count_table
from ._disparity import against_reference, between_groups
from ._exact import exact_disparity
from ._intervals import (
    holm,
    minimum_detectable_difference,
    two_proportion_pvalue,
    wilson_interval,
)
from ._rates import RATES, Rate, all_rate_parts, get_rate, one_vs_rest, rate_parts
from ._scores import score_inputs, score_metrics
from ._simultaneous import range_interval, reference_interval

__all__ = ["DisparityResult", "GroupMetrics", "group_metrics"]

EQUALIZED_ODDS = "equalized_odds"
_OVERALL = ("accuracy", "error_rate")  # multiclass rates over all classes at once


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
        return self._compare(
            view,
            rate,
            kind,
            reference,
            exclude,
            klass,
            observed,
            num,
            den,
            eff_num,
            eff_den,
            confidence=confidence,
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

    def _compare(
        self,
        view,
        rate,
        kind,
        reference,
        exclude,
        klass,
        observed,
        num,
        den,
        eff_num,
        eff_den,
        *,
        confidence,
    ) -> DisparityResult:
        keys = np.asarray(observed.keys, dtype=object)
        n = observed.n
        ok, short, out = self._eligibility(view, keys, n, den, exclude)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        low, high = wilson_interval(eff_num, eff_den, confidence=self.confidence)
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
            ref = self._reference(reference, keys, n, idx, best)
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
                eff_den[worst], eff_den[other], pooled, confidence=self.confidence
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

    @staticmethod
    def _reference(reference, keys, n, idx, best) -> int | None:
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

    def _equalized_odds(self, view, kind, reference, exclude, klass=None) -> DisparityResult:
        """The worse of the TPR and FPR disparities. Each side's interval is at Šidák's level
        ``sqrt(confidence)``, so both hold at once with probability ``confidence``, and the
        worse of two quantities lies between the worse of their lower and of their upper
        bounds. For multiclass decisions both sides are of the one class ``klass``, so value,
        interval and class come from one computation."""
        side_conf = float(np.sqrt(self.confidence))
        pick = max if kind == "difference" else min

        sides = [
            self._rate_disparity(
                view, get_rate(m), kind, reference, exclude, klass, confidence=side_conf
            )
            for m in ("true_positive_rate", "false_positive_rate")
        ]
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


def _by_group(
    table: CountTable, min_group_size: int, min_denominator: int, confidence: float
) -> pd.DataFrame:
    names = list(RATES)
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("view", "group", "class", "metric", "num", "den", "n")
    }

    def add(
        g: GroupCounts, klass: object, metric: list[str], num: np.ndarray, den: np.ndarray
    ) -> None:  # num, den: (groups, rates)
        n_g, n_r = num.shape
        cols["view"].append(np.full(n_g * n_r, g.view, dtype=object))
        cols["group"].append(np.repeat(np.asarray(g.keys, dtype=object), n_r))
        cols["class"].append(np.full(n_g * n_r, klass, dtype=object))
        cols["metric"].append(np.tile(np.asarray(metric, dtype=object), n_g))
        cols["num"].append(num.reshape(-1))
        cols["den"].append(den.reshape(-1))
        cols["n"].append(np.repeat(g.n, n_r))

    for attrs in table.views():
        g = table.view(attrs)
        if table.binary:
            add(g, None, names, *all_rate_parts(g.counts))
            continue
        right = np.trace(g.counts, axis1=-2, axis2=-1)
        add(
            g,
            None,
            ["accuracy", "error_rate"],
            np.stack([right, g.n - right], axis=1),
            np.stack([g.n, g.n], axis=1),
        )
        num, den = all_rate_parts(one_vs_rest(g.counts))  # (groups, classes, rates)
        for c, klass in enumerate(table.classes):
            add(g, klass, names, num[:, c], den[:, c])
    flat = {k: np.concatenate(v) for k, v in cols.items()}
    num, den, n = flat["num"], flat["den"], flat["n"]
    low, high = wilson_interval(num, den, confidence=confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    out = pd.DataFrame(
        {
            "view": flat["view"],
            "group": flat["group"],
            "class": flat["class"],
            "metric": flat["metric"],
            "value": value,
            "numerator": num.astype(np.int64),
            "denominator": den.astype(np.int64),
            "n": n,
            "ci_low": low,
            "ci_high": high,
            "sufficient": (n >= min_group_size) & (den >= min_denominator) & (den > 0),
        }
    )
    return out.drop(columns="class") if table.binary else out


def group_metrics(
    y_true: object,
    y_pred: object,
    sensitive_features: object,
    *,
    scores: object | None = None,
    pos_label: object = 1,
    classes: Sequence[object] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
    min_denominator: int = 5,
    score_bins: int = 10,
    score_classes: Sequence[object] | None = None,
    clusters: object | None = None,
    min_clusters: int = 3,
) -> GroupMetrics:
    """Compute every group rate, with counts and intervals, from one pass over the data.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_rows,)
        True outcomes and decisions.
    sensitive_features : DataFrame, Series, mapping or array-like
        One column per sensitive attribute; each attribute is a view, and so is their
        intersection.
    scores : array-like of shape (n_rows,) or (n_rows, n_score_classes), optional
        For the score metrics: the probability of the favourable outcome (binary decisions),
        or of each class of ``score_classes`` (multiclass, scored one-vs-rest per class).
    pos_label : object, default=1
        The favourable outcome (binary decisions).
    classes : sequence, optional
        Class labels of multiclass decisions; rates are then one-vs-rest per class.
    n_boot : int, default=1000
        Bootstrap replicates per view (:meth:`GroupMetrics.replicates`); with ``clusters``
        they give each group rate's design effect. Disparity intervals are simultaneous Wilson
        (MOVER) intervals, see :mod:`metrics._simultaneous`.
    seed : int, default=0
        Seed of the bootstrap; each view draws from ``(seed, view)``, so the same inputs and
        seed give the same results, and a view's numbers do not depend on the other views.
    confidence : float, default=0.95
        Level of every interval.
    min_group_size, min_denominator : int
        A group rate is *insufficient* below either bound and is left out of disparities.
        A rate whose denominator is 0 is undefined (``NaN``) and insufficient whatever
        ``min_denominator`` says.
    score_bins : int, default=10
        Equal-width bins of the expected calibration error.
    score_classes : sequence, optional
        The class of each column of 2-D ``scores`` (default: ``classes``); classes of the
        decisions without a column get no score metrics.
    clusters : array-like of shape (n_rows,), optional
        A cluster id per row (e.g. the speaker of a recording) when rows of one cluster are
        alike. The bootstrap then redraws whole clusters within each group, and each group
        rate's counts are divided by its design effect (cluster-bootstrap variance over
        binomial variance) before its intervals; p-values and disparity intervals widen
        accordingly.
    min_clusters : int, default=3
        With ``clusters``, a group with fewer clusters is insufficient evidence.

    Returns
    -------
    GroupMetrics
    """
    table = count_table(y_true, y_pred, sensitive_features, pos_label=pos_label, classes=classes)
    if n_boot < 1:
        raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {n_boot} instead.")
    cells = None
    if clusters is not None:
        if min_clusters < 2:
            raise ValueError(
                f"The 'min_clusters' parameter must be at least 2. Got {min_clusters} instead."
            )
        cells = cluster_counts(
            y_true,
            y_pred,
            _as_frame(sensitive_features),
            clusters,
            table,
            pos_label=pos_label,
            classes=classes,
        )
    score_frame = None
    if scores is not None:
        outcomes, score_matrix, scored = score_inputs(
            y_true, scores, table, pos_label, score_classes
        )
        score_frame = score_metrics(
            outcomes,
            score_matrix,
            sensitive_features,
            views=table.views(),
            classes=scored,
            bins=score_bins,
            confidence=confidence,
            min_group_size=min_group_size,
            min_denominator=min_denominator,
            n_boot=n_boot,
            seed=seed,
        )
    return GroupMetrics(
        table=table,
        by_group=_by_group(table, min_group_size, min_denominator, confidence),
        scores=score_frame,
        min_group_size=min_group_size,
        min_denominator=min_denominator,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        clusters=cells,
        min_clusters=min_clusters,
    )
