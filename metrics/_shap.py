"""SHAP attributions in the model's own input features, with the explainer chosen from the model.

* Tree ensembles (scikit-learn, xgboost, lightgbm), alone or at the end of a scikit-learn
  ``Pipeline`` whose ``ColumnTransformer`` one-hot encodes or passes columns through: exact
  interventional TreeSHAP of the probability of the favourable class. Attributions of the
  encoded columns are summed back to the input feature they came from (SHAP values add up).
* A soft-voting ensemble of such models: the weighted mean of its members' attributions (the
  vote is the weighted mean of their probabilities, and SHAP values are linear in the model).
* Anything else with ``predict_proba``, and multi-output tree models whose probabilities
  TreeSHAP cannot explain (multiclass gradient boosting): the model-agnostic permutation
  explainer on the probability of the favourable class, with a seeded background sample and a
  call budget.

``shap`` is imported here only, when explanations are asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Attributions", "explain"]

_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm")


@dataclass(frozen=True)
class Attributions:
    """SHAP values per row and input feature.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_features)
    base_value : float
        The expected model output over the background.
    output : ndarray of shape (n_rows,)
        The model output explained, for every row.
    feature_names : tuple of str
    method : str
        ``'tree'`` (exact), ``'tree-ensemble'`` (exact, weighted over members) or
        ``'permutation'`` (sampled).
    explained : str
        What the values explain, e.g. ``'probability of class 1'``.
    additivity_error : float
        ``max |base_value + sum(values) - output|`` over the rows.
    seconds : float
    """

    values: np.ndarray
    base_value: float
    output: np.ndarray
    feature_names: tuple[str, ...]
    method: str
    explained: str
    additivity_error: float
    seconds: float

    def importance(self) -> pd.Series:
        """Mean absolute attribution per feature, largest first."""
        return pd.Series(
            np.abs(self.values).mean(axis=0), index=list(self.feature_names)
        ).sort_values(ascending=False)


def _is_tree(model: object) -> bool:
    return type(model).__module__.startswith(_TREE_MODULES) and hasattr(model, "predict_proba")


def _unfreeze(model: object) -> object:
    inner = getattr(model, "estimator", None)
    return inner if type(model).__name__ == "FrozenEstimator" and inner is not None else model


def _column_map(prep: object, features: list[str]) -> np.ndarray | None:
    """Index of the input feature behind each output column of a ColumnTransformer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    if not isinstance(prep, ColumnTransformer):
        return None
    owners: list[int] = []
    for _, trans, cols in prep.transformers_:
        if trans == "drop" or len(cols) == 0:
            continue
        names = [features[c] if isinstance(c, int | np.integer) else c for c in cols]
        if isinstance(trans, OneHotEncoder):
            if trans.drop is not None:
                return None
            for name, cats in zip(names, trans.categories_, strict=True):
                owners += [features.index(name)] * len(cats)
        elif trans == "passthrough" or len(trans.get_feature_names_out(names)) == len(names):
            owners += [features.index(n) for n in names]
        else:
            return None
    return np.asarray(owners)


def _tree_parts(model: object, features: list[str]):
    """(transform, tree model, column owner map) for a tree model or a pipeline ending in one."""
    from sklearn.pipeline import Pipeline

    model = _unfreeze(model)
    if isinstance(model, Pipeline) and _is_tree(model.steps[-1][1]):
        prep = model[:-1]
        owners = _column_map(prep.steps[-1][1], features) if len(prep.steps) == 1 else None
        if owners is None:
            return None
        return (lambda X: np.asarray(prep.transform(X), dtype=float)), model.steps[-1][1], owners
    if _is_tree(model):
        return (lambda X: X.to_numpy(dtype=float)), model, np.arange(len(features))
    return None


def _tree_values(model, X, background, features, positive_index):
    parts = _tree_parts(model, features)
    if parts is None:
        return None
    import shap

    transform, tree, owners = parts
    explainer = shap.TreeExplainer(
        tree,
        data=transform(background),
        model_output="probability",
        feature_perturbation="interventional",
    )
    raw = np.asarray(explainer.shap_values(transform(X), check_additivity=False))
    base = np.asarray(explainer.expected_value, dtype=float).reshape(-1)
    if raw.ndim == 3:  # (rows, columns, classes)
        raw, base = raw[..., positive_index], base[positive_index]
    else:  # single output: probability of class 1
        raw, base = (raw, base[0]) if positive_index == 1 else (-raw, 1 - base[0])
    values = np.zeros((len(X), len(features)))
    np.add.at(values.T, owners, raw.T)
    return values, float(base)


def _ensemble_values(model, X, background, features, positive_index):
    members = getattr(model, "estimators_", None)
    if type(model).__name__ != "VotingClassifier" or getattr(model, "voting", "") != "soft":
        return None
    weights = np.asarray(
        model.weights if model.weights is not None else np.ones(len(members)), dtype=float
    )
    weights = weights / weights.sum()
    total, base = np.zeros((len(X), len(features))), 0.0
    for member, w in zip(members, weights, strict=True):
        part = _tree_values(member, X, background, features, positive_index)
        if part is None:
            return None
        total += w * part[0]
        base += w * part[1]
    return total, base


def explain(
    model: object,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame,
    positive_index: int = 1,
    method: str = "auto",
    max_evals: int | None = None,
    seed: int = 0,
) -> Attributions:
    """Attribute the probability of the favourable class to the input features of ``X``.

    Parameters
    ----------
    model : object
        A fitted model with ``predict_proba``.
    X : DataFrame
        Rows to explain, in the model's input features.
    background : DataFrame
        Rows standing for "feature absent" (interventional expectation).
    positive_index : int
        Column of ``predict_proba`` holding the favourable class.
    method : {'auto', 'tree', 'permutation'}
    max_evals : int, optional
        Model calls per row for the permutation explainer (default ``2 * n_features + 1``
        rounded up to a full permutation cycle).
    seed : int
        Seed of the permutation explainer.
    """
    if not callable(getattr(model, "predict_proba", None)):
        raise ValueError("The 'model' parameter must have predict_proba to be explained.")
    features = [str(c) for c in X.columns]
    start = time.perf_counter()
    found, used = None, "permutation"
    if method in ("auto", "tree"):
        from shap.utils._exceptions import InvalidModelError

        try:
            found = _ensemble_values(model, X, background, features, positive_index)
            used = "tree-ensemble"
            if found is None:
                found, used = _tree_values(model, X, background, features, positive_index), "tree"
        except (InvalidModelError, NotImplementedError) as err:
            # e.g. multiclass gradient boosting: TreeSHAP explains only its raw margins, not
            # the probability of one class; the permutation explainer can.
            if method == "tree":
                raise ValueError(
                    f"The model {type(model).__name__} has no exact tree explainer of the "
                    f"probability of one class: {err}"
                ) from err
            found = None
        if found is None and method == "tree":
            raise ValueError(f"The model {type(model).__name__} has no exact tree explainer.")
    if found is None:
        found, used = (
            _permutation_values(model, X, background, features, positive_index, max_evals, seed),
            "permutation",
        )
    values, base = found
    output = np.asarray(model.predict_proba(X), dtype=float)[:, positive_index]
    error = float(np.max(np.abs(base + values.sum(axis=1) - output))) if len(X) else 0.0
    return Attributions(
        values=values,
        base_value=base,
        output=output,
        feature_names=tuple(features),
        method=used,
        explained=f"probability of class index {positive_index}",
        additivity_error=error,
        seconds=time.perf_counter() - start,
    )


def _permutation_values(model, X, background, features, positive_index, max_evals, seed):
    import shap

    # shap's tabular masker compares values numerically: code text columns as integers and
    # decode them again before calling the model.
    both = pd.concat([X, background], ignore_index=True)
    decoders: dict[str, np.ndarray] = {}
    coded = pd.DataFrame(index=both.index)
    for col in features:
        if pd.api.types.is_numeric_dtype(both[col]) and not pd.api.types.is_bool_dtype(both[col]):
            coded[col] = both[col].astype(float)
        else:
            codes, uniques = pd.factorize(both[col])
            coded[col], decoders[col] = codes.astype(float), np.asarray(uniques, dtype=object)
    matrix = coded.to_numpy(dtype=float)
    rows, back = matrix[: len(X)], matrix[len(X) :]

    def f(values: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(values, columns=features)
        for col, uniques in decoders.items():
            frame[col] = uniques[frame[col].to_numpy(dtype=int)]
        frame = frame.astype(X.dtypes.to_dict())
        return np.asarray(model.predict_proba(frame), dtype=float)[:, positive_index]

    masker = shap.maskers.Independent(back, max_samples=len(back))
    explainer = shap.PermutationExplainer(f, masker, seed=seed)
    evals = max(max_evals or 0, 2 * len(features) + 1)
    out = explainer(rows, max_evals=evals, silent=True)
    return np.asarray(out.values, dtype=float), float(np.mean(out.base_values))
