"""Build the reference credit-scoring models under test from the Statlog German Credit data.

Run ``python -m models_under_test.credit_scoring.build [--out DIR]``. Everything is seeded, so
the same code and library versions rebuild the committed files (a test checks it).

* ``data/audit.csv``: 600 of the 1,000 applicants (a 60 % split stratified by sex, age band and
  outcome), never seen in training, so that the audit measures the model on new applicants and
  every sex × age-band group keeps at least 30 people.
* ``v1/model.skops``: gradient boosting on every attribute, sex (through ``personal_status``)
  and age included, trained the naive way.
* ``v2/model.skops``: the remediated model. It is given no protected attribute (sex, personal
  status, age, nationality), and it is trained with fairlearn's ``ExponentiatedGradient``
  under a true-positive-rate parity constraint (equal opportunity: creditworthy applicants
  are approved alike) over the sex × age-band groups, which are used in training only. The
  reduction yields a weighted mixture of gradient-boosting pipelines; v2 is that mixture as a
  deterministic soft-voting ensemble (scikit-learn ``VotingClassifier`` of frozen members),
  so it has ``predict_proba`` and loads with skops without fairlearn.
* ``v3/model.skops``: a "points for stability" scorecard. A logistic regression on v2's
  features (no protected attribute; one-hot levels, standardised numbers), to which the
  scorecard's designers then add points for stability: for the years at the current address
  (``residence_since``, +0.6 on the logit per standard deviation) and for a telephone on file
  (+0.8). Both are cheap for an applicant to change and say little about repayment: the
  ``manipulability`` check is there to catch exactly this.
"""

from __future__ import annotations

import argparse
import json
import os
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SEED = 0
AUDIT_SHARE = 0.6
LABEL = "good_credit"

_COLUMNS = [
    ("checking_status", "status"),
    ("duration_months", None),
    ("credit_history", "credit_history"),
    ("purpose", "purpose"),
    ("credit_amount", None),
    ("savings", "savings"),
    ("employment_since", "present_employment"),
    ("installment_rate", None),
    ("personal_status", "status_sex"),
    ("other_debtors", "other_debtors"),
    ("residence_since", None),
    ("property", "property"),
    ("age", None),
    ("other_installment_plans", "installment_plans"),
    ("housing", "housing"),
    ("existing_credits", None),
    ("job", "job"),
    ("dependents", None),
    ("telephone", "telephone"),
    ("foreign_worker", "foreign_worker"),
    (LABEL, "credit"),
]
PROTECTED = ["sex", "personal_status", "age", "age_band", "foreign_worker"]


def _text(value: object) -> str:
    if isinstance(value, bool):  # the code book has true/false for telephone, foreign_worker
        return "yes" if value else "no"
    return str(value).strip()


def load_applicants(path: Path = DATA / "german.data") -> pd.DataFrame:
    """Decode the symbolic Statlog file into readable columns, with ``sex`` and ``age_band``."""
    raw = pd.read_csv(path, sep=" ", header=None, dtype=str)
    maps = json.loads((DATA / "values_maps.json").read_text())
    frame = pd.DataFrame()
    for i, (name, code_book) in enumerate(_COLUMNS):
        col = raw[i]
        if code_book is None:
            frame[name] = col.astype(int)
        elif name == LABEL:
            frame[name] = (col == "1").astype(int)  # 1 = good credit, the favourable outcome
        else:
            frame[name] = col.map(lambda v, m=maps[code_book]: _text(m[v]))
    frame["sex"] = np.where(raw[8].isin(["A92", "A95"]), "female", "male")
    frame["age_band"] = pd.cut(
        frame["age"], [0, 24, 34, 200], labels=["<25", "25-34", "35+"]
    ).astype(str)
    return frame


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified held-out split: (train, audit)."""
    from sklearn.model_selection import train_test_split

    strata = frame["sex"] + "|" + frame["age_band"] + "|" + frame[LABEL].astype(str)
    train, audit = train_test_split(
        frame, test_size=AUDIT_SHARE, stratify=strata, random_state=SEED
    )
    return train.sort_index(), audit.sort_index()


def _pipeline(features: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = [
        c
        for c in features.columns
        if features[c].dtype == object or str(features[c].dtype) in ("str", "string")
    ]
    numeric = [c for c in features.columns if c not in categorical]
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ("num", "passthrough", numeric),
        ],
        remainder="drop",
    )
    model = GradientBoostingClassifier(
        n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=SEED
    )
    return Pipeline([("prepare", prep), ("model", model)])


def train_v1(train: pd.DataFrame):
    """Naive model: every attribute, protected ones included."""
    features = train.drop(columns=[LABEL, "sex", "age_band"])
    return _pipeline(features).fit(features, train[LABEL])


def train_v2(train: pd.DataFrame):
    """Remediated model: no protected attribute; equal opportunity over sex × age band."""
    from fairlearn.reductions import ExponentiatedGradient, TruePositiveRateParity
    from sklearn.ensemble import VotingClassifier
    from sklearn.frozen import FrozenEstimator

    features = train.drop(columns=[LABEL, *PROTECTED])
    groups = train["sex"] + "|" + train["age_band"]
    reduction = ExponentiatedGradient(
        _pipeline(features),
        constraints=TruePositiveRateParity(difference_bound=0.01),
        eps=0.01,
        max_iter=40,
        sample_weight_name="model__sample_weight",
    )
    reduction.fit(features, train[LABEL], sensitive_features=groups)
    weights = reduction.weights_.to_numpy()
    members = [
        (f"member{i}", FrozenEstimator(p))
        for i, (p, w) in enumerate(zip(reduction.predictors_, weights, strict=True))
        if w > 1e-6
    ]
    return VotingClassifier(members, voting="soft", weights=weights[weights > 1e-6]).fit(
        features, train[LABEL]
    )


#: The scorecard's points for stability (logit per standard deviation, or for the level).
STABILITY_POINTS = {"num__residence_since": 0.6, "cat__telephone_yes": 0.8}


def train_v3(train: pd.DataFrame):
    """Scorecard: logistic regression without protected attributes, plus stability points."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = train.drop(columns=[LABEL, *PROTECTED])
    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    numeric = [c for c in features.columns if c not in categorical]
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ("num", StandardScaler(), numeric),
        ],
        remainder="drop",
    )
    model = LogisticRegression(C=0.5, max_iter=2000)
    scorecard = Pipeline([("prepare", prep), ("model", model)]).fit(features, train[LABEL])
    names = list(scorecard[:-1].get_feature_names_out())
    for name, points in STABILITY_POINTS.items():
        model.coef_[0, names.index(name)] += points
    return scorecard


def build(out: Path = HERE) -> dict[str, Path]:
    """Write ``data/audit.csv`` and ``v1``, ``v2``, ``v3/model.skops`` below ``out``."""
    import skops.io as sio

    train, audit = split(load_applicants())
    written = {}
    (out / "data").mkdir(parents=True, exist_ok=True)
    written["audit"] = out / "data" / "audit.csv"
    audit.to_csv(written["audit"], index=False, lineterminator="\n")
    for version, trainer in (("v1", train_v1), ("v2", train_v2), ("v3", train_v3)):
        (out / version).mkdir(parents=True, exist_ok=True)
        written[version] = out / version / "model.skops"
        sio.dump(
            trainer(train), written[version], compression=zipfile.ZIP_DEFLATED, compresslevel=9
        )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    args = parser.parse_args()
    for name, path in build(args.out).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
