"""How strongly each feature encodes a sensitive attribute (is it a proxy?).

For every feature and sensitive attribute, a small classifier predicts the attribute from that
feature alone, out of fold: for a categorical feature, the attribute's (smoothed) level
frequencies among the training folds' rows with the same value; for a numeric one, a depth-3
tree. Its strength is the out-of-fold ROC AUC (one-vs-rest
macro average for attributes with more than two levels; 0.5 is chance, 1 a perfect proxy),
with balanced accuracy and mutual information as second views. The *redundant encoding* view
predicts the attribute from all features together (gradient boosting).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ProxyStrength", "proxy_strength"]


@dataclass(frozen=True)
class ProxyStrength:
    """Proxy strengths.

    Attributes
    ----------
    table : DataFrame
        One row per feature and attribute: ``feature``, ``attribute``, ``auc``,
        ``balanced_accuracy``, ``mutual_information`` (nats), sorted strongest first.
    redundant : DataFrame
        One row per attribute: ``auc`` and ``balanced_accuracy`` of all features together.
    """

    table: pd.DataFrame
    redundant: pd.DataFrame

    def strongest(self, attribute: str, k: int = 3) -> pd.DataFrame:
        """The ``k`` strongest proxies of ``attribute``."""
        return self.table[self.table.attribute == attribute].head(k)


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _scores(target: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    if len(classes) == 2:
        auc = roc_auc_score(target, proba[:, 1])
    else:
        auc = roc_auc_score(target, proba, multi_class="ovr", average="macro", labels=classes)
    return float(auc), float(balanced_accuracy_score(target, classes[proba.argmax(axis=1)]))


def _frequency_proba(
    codes: np.ndarray,
    target: np.ndarray,
    n_classes: int,
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Out-of-fold P(class | value) from the training folds, with add-one smoothing."""
    n_values = int(codes.max()) + 1
    proba = np.zeros((len(codes), n_classes))
    for train, test in splits:
        table = np.ones((n_values, n_classes))
        np.add.at(table, (codes[train], target[train]), 1.0)
        proba[test] = (table / table.sum(axis=1, keepdims=True))[codes[test]]
    return proba


def _all_model(features: pd.DataFrame, seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    text = [c for c in features.columns if not _is_numeric(features[c])]
    prep = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), text)],
        remainder="passthrough",
    )
    mask = [True] * len(text) + [False] * (features.shape[1] - len(text))
    return make_pipeline(
        prep,
        HistGradientBoostingClassifier(
            max_iter=100, max_depth=3, categorical_features=mask, random_state=seed
        ),
    )


def proxy_strength(
    features: pd.DataFrame, sensitive: pd.DataFrame, *, seed: int = 0, folds: int = 5
) -> ProxyStrength:
    """Measure how well each feature, and all together, predict each sensitive attribute.

    Parameters
    ----------
    features : DataFrame
        Candidate proxies (the model's inputs, without the protected columns themselves).
    sensitive : DataFrame
        The sensitive attributes, one column each.
    seed : int
        Seed of the folds and the classifiers.
    folds : int
        Stratified cross-validation folds.
    """
    from sklearn.feature_selection import mutual_info_classif
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.tree import DecisionTreeClassifier
    from threadpoolctl import threadpool_limits

    rows, redundant = [], []
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for attribute in sensitive.columns:
        target = sensitive[attribute].astype(str).to_numpy()
        classes, target_codes = np.unique(target, return_inverse=True)
        splits = list(cv.split(features, target))
        for feature in features.columns:
            col = features[feature]
            numeric = _is_numeric(col)
            if numeric:
                values = col.to_numpy(dtype=float).reshape(-1, 1)
                tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=20, random_state=seed)
                proba = cross_val_predict(tree, values, target, cv=splits, method="predict_proba")
                mi = mutual_info_classif(
                    values, target, discrete_features=False, random_state=seed
                )[0]
            else:
                codes = pd.factorize(col)[0]
                proba = _frequency_proba(codes, target_codes, len(classes), splits)
                mi = mutual_info_classif(
                    codes.reshape(-1, 1), target, discrete_features=True, random_state=seed
                )[0]
            auc, bacc = _scores(target, proba, classes)
            rows.append(
                {
                    "feature": feature,
                    "attribute": attribute,
                    "auc": auc,
                    "balanced_accuracy": bacc,
                    "mutual_information": float(mi),
                }
            )
        # One OpenMP thread: on small machines the threads' hand-offs cost 10x the work here.
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            proba = cross_val_predict(
                _all_model(features, seed), features, target, cv=splits, method="predict_proba"
            )
        auc, bacc = _scores(target, proba, classes)
        redundant.append({"attribute": attribute, "auc": auc, "balanced_accuracy": bacc})
    table = pd.DataFrame(rows).sort_values(["attribute", "auc"], ascending=[True, False])
    return ProxyStrength(table=table.reset_index(drop=True), redundant=pd.DataFrame(redundant))
