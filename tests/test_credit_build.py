"""The build script reproduces the committed audit data and models from its fixed seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import skops.io as sio

from models_under_test.credit_scoring import build

from .conftest import CREDIT


def _load(path):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def test_build_reproduces_committed_files(tmp_path):
    written = build.build(tmp_path)
    assert written["audit"].read_bytes() == (CREDIT / "data" / "audit.csv").read_bytes()
    audit = pd.read_csv(CREDIT / "data" / "audit.csv")
    features = audit.drop(columns=build.LABEL)
    for version in ("v1", "v2", "v3"):
        rebuilt, committed = _load(written[version]), _load(CREDIT / version / "model.skops")
        np.testing.assert_array_equal(rebuilt.predict(features), committed.predict(features))
        np.testing.assert_allclose(
            rebuilt.predict_proba(features), committed.predict_proba(features), rtol=0, atol=1e-12
        )


def test_data_facts_match_the_source():
    """Known facts of the Statlog file (from the data set's README) survive the decoding."""
    frame = build.load_applicants()
    assert len(frame) == 1000
    assert frame[build.LABEL].mean() == 0.7
    assert round(frame.loc[frame.sex == "female", build.LABEL].mean(), 4) == 0.6484
    assert round(frame.loc[frame.age < 25, build.LABEL].mean(), 4) == 0.5906


def test_v2_does_not_see_protected_attributes():
    features = pd.read_csv(CREDIT / "data" / "audit.csv").drop(columns=build.LABEL)
    model = _load(CREDIT / "v2" / "model.skops")
    base = model.predict_proba(features)
    shuffled = features.copy()
    rng = np.random.default_rng(0)
    for column in build.PROTECTED:
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
    np.testing.assert_array_equal(model.predict_proba(shuffled), base)
    v1 = _load(CREDIT / "v1" / "model.skops")
    assert not np.array_equal(v1.predict_proba(shuffled), v1.predict_proba(features))
