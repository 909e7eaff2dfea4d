"""One count table for every group metric.

Every rate the engine reports is a function of per-group confusion counts, so the data are
read once: the sensitive columns are factorized, combined into one intersection code per row,
and a single ``np.bincount`` counts the (intersection × true class × decided class) cells.
Every view of the groups (one attribute, or the intersection) is a sum over the other axes of
that table, never another pass over the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CountTable", "GroupCounts", "count_table", "group_key"]


def group_key(attributes: Sequence[str], levels: Sequence[object]) -> str:
    """Return the key of one group, e.g. ``'sex=female|age_band=<25'``."""
    return "|".join(f"{a}={v}" for a, v in zip(attributes, levels, strict=True))


@dataclass(frozen=True)
class GroupCounts:
    """The confusion counts of the groups of one view (one attribute or an intersection).

    Attributes
    ----------
    view : str
        The attributes of the view joined by ``'|'``, e.g. ``'sex'`` or ``'sex|age_band'``.
    keys : tuple of str
        One key per group, e.g. ``'sex=female'``. Only groups with at least one row.
    counts : ndarray of shape (n_groups, n_classes, n_classes)
        ``counts[g, t, p]`` is the number of rows of group ``g`` with true class ``t`` that
        were decided as class ``p``. For binary tables class 0 is negative, 1 positive.
    """

    view: str
    keys: tuple[str, ...]
    counts: np.ndarray

    @property
    def n(self) -> np.ndarray:
        """Rows per group."""
        return self.counts.sum(axis=(-2, -1))


@dataclass(frozen=True)
class CountTable:
    """Confusion counts for every intersection of the sensitive attributes.

    Attributes
    ----------
    attributes : tuple of str
        Sensitive column names, in the order given.
    levels : tuple of tuple
        The observed levels of each attribute, sorted.
    classes : tuple
        The class labels; for a binary table ``(negative, positive)`` where the negative class
        stands for every value other than the positive label.
    counts : ndarray of shape (*levels, n_classes, n_classes)
        One axis per attribute, then true class, then decided class.
    """

    attributes: tuple[str, ...]
    levels: tuple[tuple[object, ...], ...]
    classes: tuple[object, ...]
    counts: np.ndarray

    @property
    def binary(self) -> bool:
        """Whether this is a table of binary decisions."""
        return len(self.classes) == 2

    @property
    def n_rows(self) -> int:
        """Rows counted."""
        return int(self.counts.sum())

    def views(self) -> tuple[tuple[str, ...], ...]:
        """Each attribute alone, then (with two or more) their full intersection."""
        single = tuple((a,) for a in self.attributes)
        return single + ((self.attributes,) if len(self.attributes) > 1 else ())

    def _flatten(self, table: np.ndarray, attributes: tuple[str, ...]) -> np.ndarray:
        """Sum ``table`` to the attributes given (in their order) and flatten them to one axis."""
        lead = table.ndim - self.counts.ndim
        drop = tuple(lead + i for i, a in enumerate(self.attributes) if a not in attributes)
        summed = table.sum(axis=drop) if drop else table
        kept = [a for a in self.attributes if a in attributes]
        summed = np.moveaxis(
            summed,
            [lead + kept.index(a) for a in attributes],
            list(range(lead, lead + len(attributes))),
        )
        k = len(self.classes)
        return summed.reshape(*summed.shape[:lead], -1, k, k)

    def view(self, attributes: Sequence[str], counts: np.ndarray | None = None) -> GroupCounts:
        """Sum the table over every attribute not in ``attributes``.

        Parameters
        ----------
        attributes : sequence of str
            The attributes that define the groups of the view.
        counts : ndarray, optional
            A table of the same shape as :attr:`counts` with extra leading axes (bootstrap
            replicates); the view keeps those leading axes. Defaults to :attr:`counts`.
        """
        attributes = tuple(attributes)
        unknown = [a for a in attributes if a not in self.attributes]
        if unknown or not attributes:
            raise ValueError(
                f"The 'attributes' of a view must be a non-empty subset of {self.attributes}. "
                f"Got {attributes} instead."
            )
        own = self._flatten(self.counts, attributes)
        present = np.flatnonzero(own.sum(axis=(-2, -1)) > 0)
        flat = own if counts is None else self._flatten(counts, attributes)
        level_grid = [self.levels[self.attributes.index(a)] for a in attributes]
        cells = np.unravel_index(present, [len(lv) for lv in level_grid])
        keys = tuple(
            group_key(attributes, [lv[i] for lv, i in zip(level_grid, idx, strict=True)])
            for idx in zip(*cells, strict=True)
        )
        return GroupCounts(view="|".join(attributes), keys=keys, counts=flat[..., present, :, :])


def _as_frame(sensitive_features: object) -> pd.DataFrame:
    if isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features
    elif isinstance(sensitive_features, pd.Series):
        frame = sensitive_features.to_frame(name=sensitive_features.name or "group")
    elif isinstance(sensitive_features, Mapping):
        frame = pd.DataFrame(dict(sensitive_features))
    else:
        arr = np.asarray(sensitive_features)
        if arr.ndim == 1:
            frame = pd.DataFrame({"group": arr})
        elif arr.ndim == 2:
            frame = pd.DataFrame(arr, columns=[f"sf{i}" for i in range(arr.shape[1])])
        else:
            raise ValueError(
                "The 'sensitive_features' parameter must be a DataFrame, Series, mapping or a "
                f"1-D or 2-D array. Got an array of {arr.ndim} dimensions instead."
            )
    if frame.shape[1] == 0:
        raise ValueError("The 'sensitive_features' parameter must hold at least one column.")
    return frame


def _has_missing(values: np.ndarray | pd.Series) -> bool:
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return False
    if arr.dtype.kind in "fc":
        return bool(np.isnan(arr).any())
    return bool(pd.isna(values).any())


def _binary_codes(values: object, pos_label: object, name: str) -> np.ndarray:
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"The '{name}' parameter must be 1-D. Got shape {arr.shape} instead.")
    if _has_missing(arr):
        raise ValueError(
            f"The '{name}' parameter must not hold missing values. "
            f"Got {int(pd.isna(arr).sum())} missing values instead."
        )
    return arr == pos_label


def _class_codes(values: object, classes: Sequence[object], name: str) -> np.ndarray:
    codes = pd.Categorical(values, categories=list(classes)).codes
    bad = codes < 0
    if bad.any():
        seen = pd.unique(np.asarray(values)[bad])[:5]
        raise ValueError(
            f"The '{name}' parameter must hold only the classes {list(classes)}. "
            f"Got {list(seen)} instead."
        )
    return codes


def count_table(
    y_true: object,
    y_pred: object,
    sensitive_features: object,
    *,
    pos_label: object = 1,
    classes: Sequence[object] | None = None,
) -> CountTable:
    """Count the confusion cells of every intersection of the sensitive attributes in one pass.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_rows,)
        True outcomes and the system's decisions.
    sensitive_features : DataFrame, Series, mapping or array-like
        One column per sensitive attribute. Missing values are refused: map them to an explicit
        level (e.g. ``'unknown'``) first.
    pos_label : object, default=1
        The favourable outcome of a binary decision. Every other value counts as negative.
    classes : sequence, optional
        The class labels of a multiclass decision. When given, the table is
        ``len(classes) × len(classes)`` per group and ``pos_label`` is ignored.

    Returns
    -------
    CountTable
    """
    frame = _as_frame(sensitive_features)
    n = len(frame)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if len(values) != n:  # type: ignore[arg-type]
            raise ValueError(
                f"The '{name}' parameter must have one value per row of sensitive_features "
                f"({n}). Got {len(values)} instead."  # type: ignore[arg-type]
            )
    levels: list[tuple[object, ...]] = []
    flat = np.zeros(n, dtype=np.int64)
    for column in frame.columns:
        codes, uniques = pd.factorize(frame[column], sort=True, use_na_sentinel=True)
        if n and codes.min() < 0:
            raise ValueError(
                f"The sensitive feature {column!r} must not hold missing values. Got "
                f"{int((codes < 0).sum())} missing values instead; map them to an explicit "
                "level such as 'unknown'."
            )
        flat *= len(uniques)
        flat += codes
        levels.append(tuple(uniques.tolist()))
    if classes is None:
        cls: tuple[object, ...] = ("not " + str(pos_label), pos_label)
        flat <<= 2
        t = _binary_codes(y_true, pos_label, "y_true")
        flat += t
        flat += t
        del t
        flat += _binary_codes(y_pred, pos_label, "y_pred")
        k = 2
    else:
        cls = tuple(classes)
        k = len(cls)
        if k < 2:
            raise ValueError(f"The 'classes' parameter must name at least 2 classes. Got {k}.")
        flat *= k * k
        flat += _class_codes(y_true, cls, "y_true").astype(np.int64) * k
        flat += _class_codes(y_pred, cls, "y_pred")
    shape = tuple(len(lv) for lv in levels)
    counts = np.bincount(flat, minlength=int(np.prod(shape)) * k * k).reshape(*shape, k, k)
    return CountTable(
        attributes=tuple(str(c) for c in frame.columns),
        levels=tuple(levels),
        classes=cls,
        counts=counts,
    )
