"""The voice-menu audits: real and synthesised speech, held-out speakers, honest results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from models_under_test import MediaBatches, load_model
from models_under_test.voice_menu import build as voice
from models_under_test.voice_menu.features import N_FEATURES, mfcc_summary

from .conftest import ROOT

VOICE = ROOT / "models_under_test" / "voice_menu"
PREPROCESS = "models_under_test.voice_menu.features:mfcc_summary"


def test_audit_speakers_were_never_heard_in_training():
    real_train, synth_train, audit = voice.splits()
    heard = set(real_train.speaker) | set(synth_train.speaker)
    assert not heard & set(audit.speaker)
    assert {"theo", "lucas"} <= set(audit.speaker)
    assert set(audit.accent) >= set(voice.AUDIT_ACCENTS)
    assert not set(synth_train.accent) & set(voice.AUDIT_ACCENTS)


def test_features_of_tiny_generated_clips():
    t = np.arange(8000) / 8000
    low = np.sin(2 * np.pi * 300 * t) * (t < 0.5)
    high = np.sin(2 * np.pi * 2500 * t) * (t < 0.5)
    feats = mfcc_summary(np.stack([low, high, low]).astype(np.float32))
    assert feats.shape == (3, N_FEATURES) and np.isfinite(feats).all()
    np.testing.assert_array_equal(feats[0], feats[2])
    assert not np.allclose(feats[0], feats[1])


def test_onnx_with_preprocessing_equals_the_in_memory_model():
    audit = pd.read_csv(VOICE / "data" / "audit.csv").iloc[::7]
    waves = MediaBatches(
        tuple(str(VOICE / "data" / p) for p in audit.path), "audio", (8000,), 8000
    )[:]
    real_train, _, _ = voice.splits()
    in_memory = voice.train(real_train)
    onnx = load_model("onnx", uri=str(VOICE / "v1" / "model.onnx"), preprocess=PREPROCESS)
    np.testing.assert_array_equal(onnx.predict(waves), in_memory.predict(mfcc_summary(waves)))
    committed = (VOICE / "v1" / "model.onnx").read_bytes()
    assert voice.to_onnx(in_memory) == committed  # the build reproduces the committed model


def test_voice_audits_report_what_they_find(fairgate, in_repo, tmp_path):
    docs = {}
    for version in ("v1", "v2"):
        out = tmp_path / version
        code, _, _ = fairgate(
            "run",
            ROOT / "audits" / "specs" / f"voice_menu_{version}.yaml",
            "--out",
            out,
            "--no-mlflow",
            "-q",
        )
        docs[version] = (code, json.loads((out / "results.json").read_text()), out)
    code, doc, out = docs["v1"]
    voices = next(c for c in doc["checks"] if c["name"] == "error_rate difference [voice]")
    # Trained only on male voices, v1 misroutes female callers more: the gate says so.
    assert code == 1 and voices["status"] == "fail"
    assert voices["details"]["worst_group"] == "voice=female"
    assert doc["groups"]["voice=female"]["n"] >= 300
    html = (out / "report.html").read_text()
    told_apart = html[html.index("cannot be told apart") :].split("</li>")[0]
    # The group is named; its speaker count (a count of people under 11) is not shown.
    assert "accent DEU/German" in told_apart and "(1)" not in told_apart
    assert doc["data"]["clusters"]["rates_resample"] == "clusters"
    assert "the intervals resample whole speakers within groups" in html
    noise = next(c for c in doc["checks"] if c["name"] == "robustness noise [voice]")
    assert noise["details"]["resampled"] == "speakers within groups"
    assert noise["by_group"]["voice=older"]["clusters"] == 4
    assert noise["details"]["mean_input_change"] > 0.3  # 10 dB: noise RMS is 32 % of the signal
    assert "was not tested by this audit" not in html
    assert docs["v2"][1]["data"]["clusters"]["per_group"]["accent=USA"] == 1
