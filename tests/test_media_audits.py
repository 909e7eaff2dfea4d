"""Image audits: media adapters, ONNX against the in-memory model, perturbations, robustness."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from metrics import paired_change
from models_under_test import MediaBatches, file_sha256, load_audio, load_model, perturb
from models_under_test.emotion_distress import build as emotion

from .conftest import ROOT

EMOTION = ROOT / "models_under_test" / "emotion_distress"


@pytest.fixture
def tiny_images(tmp_path):
    """Twelve 64 x 64 images: 'dark' ones at grey 0.3, 'light' ones at grey 0.8."""
    rows = []
    for i in range(120):
        tone = "dark" if i % 2 else "light"
        level = 0.3 if tone == "dark" else 0.8
        path = tmp_path / f"img_{i:03d}.png"
        Image.fromarray(np.full((64, 64), round(level * 255), np.uint8)).save(path)
        rows.append({"path": str(path), "tone": tone, "label": "bright"})
    manifest = pd.DataFrame(rows)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    return manifest


def test_media_batches_decode_images_and_audio(tiny_images, tmp_path):
    from scipy.io import wavfile

    batches = MediaBatches(tuple(tiny_images.path), "image", (64, 64))
    first = batches[0:3]
    assert first.shape == (3, 64, 64) and first.dtype == np.float32
    assert first[0].mean() == pytest.approx(204 / 255)  # light
    wav = tmp_path / "tone.wav"
    wavfile.write(wav, 8000, (np.sin(np.arange(4000) / 5) * 16000).astype(np.int16))
    wave = load_audio(wav, 8000, 6000)
    assert wave.shape == (6000,) and abs(wave).max() <= 1 and (wave[4000:] == 0).all()


def test_onnx_and_in_memory_models_decide_alike():
    manifest = pd.read_csv(EMOTION / "data" / "manifest.csv").head(400)
    images = MediaBatches(tuple(EMOTION / "data" / p for p in manifest.path), "image", (64, 64))[:]
    traits = emotion.sample_traits(
        emotion.TRAIN_ROWS, np.random.default_rng(2), frown_share=0.3, dim_share=0.3
    )
    in_memory = emotion.train(traits, emotion.augment(emotion.faces(traits, seed=12), 0.3, 2))
    onnx = load_model("onnx", uri=str(EMOTION / "v2" / "model.onnx"))
    np.testing.assert_array_equal(
        onnx.predict(images), in_memory.predict(images.reshape(len(images), -1))
    )
    assert onnx.predict_proba(images).shape == (400, 2)


def test_perturbations_are_seeded_and_shape_preserving():
    rng = np.random.default_rng(0)
    images = rng.random((4, 64, 64)).astype(np.float32)
    a = perturb("occlusion", images, rng=np.random.default_rng(5))
    b = perturb("occlusion", images, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, images) and a.shape == images.shape
    assert perturb("brightness", images, rng=rng, params={"factor": 0.5}).max() <= 0.5
    waves = rng.standard_normal((2, 8000)).astype(np.float32)
    phone = perturb("telephone", waves, rng=rng)
    spectrum = np.abs(np.fft.rfft(phone[0]))
    freqs = np.fft.rfftfreq(8000, 1 / 8000)
    assert spectrum[freqs < 100].mean() < 0.05 * spectrum[(freqs > 500) & (freqs < 3000)].mean()
    noisy = perturb("noise", waves, rng=rng, params={"snr_db": 10})
    snr = 10 * np.log10((waves**2).mean() / ((noisy - waves) ** 2).mean())
    assert snr == pytest.approx(10, abs=0.5)


def _rule_spec(manifest_path, factor):
    return {
        "name": "brightness-rule",
        "model": {"kind": "python", "uri": "fairgate_brightness_rule:decide"},
        "data": {
            "path": str(manifest_path),
            "label": "label",
            "sensitive": ["tone"],
            "media": {"column": "path", "kind": "image", "shape": [64, 64]},
            "positive_label": "bright",
            "min_group_size": 20,
        },
        "checks": [
            {
                "type": "robustness",
                "perturbation": "brightness",
                "params": {"factor": factor},
                "max": 0.05,
            }
        ],
    }


@pytest.fixture
def brightness_rule(tmp_path, monkeypatch):
    (tmp_path / "fairgate_brightness_rule.py").write_text(
        textwrap.dedent("""
        import numpy as np

        def decide(images):
            # 'bright' when the mean grey level is above 0.2: dark images fall under it
            # once the light is dimmed, light ones do not.
            return np.where(images.mean(axis=(1, 2)) > 0.2, "bright", "dark")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_planted_group_degradation_is_caught(
    tiny_images, tmp_path, brightness_rule, write_spec, fairgate
):
    out = tmp_path / "out"
    code, _, _ = fairgate(
        "run",
        write_spec(_rule_spec(tmp_path / "manifest.csv", 0.6)),
        "--out",
        out,
        "--no-mlflow",
        "-q",
    )
    check = json.loads((out / "results.json").read_text())["checks"][0]
    assert check["status"] == "fail" and code == 1
    assert check["details"]["worst_group"] == "tone=dark"
    assert check["by_group"]["tone=dark"]["value"] == 1.0  # every dark image now wrong
    assert check["by_group"]["tone=light"]["value"] == 0.0
    assert check["value"] == 1.0
    # what the perturbation did: grey levels fell by 40 %, half the decisions changed
    assert check["details"]["mean_input_change"] == pytest.approx(0.4, abs=1e-3)
    assert check["details"]["inputs_changed"] == 1.0
    assert check["details"]["decisions_changed"] == 0.5


def test_a_perturbation_that_changes_no_input_is_an_error(
    tiny_images, tmp_path, brightness_rule, write_spec, fairgate
):
    # Contrast pulls grey levels towards each image's mean: flat images do not change, so
    # the check tested nothing and must not pass.
    spec = _rule_spec(tmp_path / "manifest.csv", 0.6)
    spec["checks"][0].update(perturbation="contrast", params={"factor": 0.5})
    out = tmp_path / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    check = json.loads((out / "results.json").read_text())["checks"][0]
    assert code == 2 and check["status"] == "error"
    assert check["details"]["mean_input_change"] < 1e-6
    assert check["details"]["inputs_changed"] == 0.0
    assert "changed the inputs by 0.00%" in check["message"]


def test_paired_change_by_hand():
    before = np.array([True] * 40 + [True] * 40)
    after = np.array([True] * 30 + [False] * 10 + [True] * 40)
    groups = pd.DataFrame({"g": ["a"] * 40 + ["b"] * 40})
    res = paired_change(before, after, groups, n_boot=500, seed=1, min_group_size=10)
    table = res.per_group.set_index("group")
    assert table.loc["g=a", "drop"] == 0.25 and table.loc["g=b", "drop"] == 0.0
    assert res.value == 0.25 and res.worst_group == "g=a"
    assert res.ci[0] <= 0.25 <= res.ci[1]


def test_distress_audits_v1_blocked_for_resting_frowners_v2_released(fairgate, in_repo, tmp_path):
    docs = {}
    for version in ("v1", "v2"):
        out = tmp_path / version
        code, _, _ = fairgate(
            "run",
            ROOT / "audits" / "specs" / f"emotion_distress_{version}.yaml",
            "--out",
            out,
            "--no-mlflow",
            "-q",
        )
        docs[version] = (code, json.loads((out / "results.json").read_text()))
    (c1, d1), (c2, d2) = docs["v1"], docs["v2"]
    frown = next(
        c for c in d1["checks"] if c["name"] == "false_positive_rate difference [resting_frown]"
    )
    assert c1 == 1 and frown["status"] == "fail"
    assert frown["by_group"]["resting_frown=True"]["value"] > 0.15
    assert c2 == 0 and all(c["status"] == "pass" for c in d2["checks"])
    html = (tmp_path / "v1" / "report.html").read_text()
    assert "synthetic" in html


def test_distress_build_reproduces_committed_files(tmp_path):
    written = emotion.build(tmp_path)
    committed = EMOTION / "data" / "manifest.csv"
    assert written["manifest"].read_text() == committed.read_text()
    for name in ("face_0000.png", "face_0777.png"):
        assert (tmp_path / "data" / "images" / name).read_bytes() == (
            EMOTION / "data" / "images" / name
        ).read_bytes()
    images = MediaBatches(
        tuple(sorted(map(str, (EMOTION / "data" / "images").glob("*.png")))), "image", (64, 64)
    )[0:300]
    for version in ("v1", "v2"):
        rebuilt = load_model("onnx", uri=str(written[version]))
        ours = load_model("onnx", uri=str(EMOTION / version / "model.onnx"))
        np.testing.assert_array_equal(rebuilt.predict(images), ours.predict(images))


def test_mlflow_pyfunc_model_on_images(tiny_images, tmp_path, write_spec, fairgate):
    import mlflow.pyfunc

    class Brightness(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            images = np.asarray(model_input)
            return np.where(images.mean(axis=(1, 2)) > 0.2, "bright", "dark")

    path = tmp_path / "pyfunc_model"
    mlflow.pyfunc.save_model(str(path), python_model=Brightness())
    spec = _rule_spec(tmp_path / "manifest.csv", 0.6)
    # A cloudpickled python_model runs code when loaded: trusted and pinned.
    spec["model"] = {
        "kind": "mlflow",
        "uri": str(path),
        "trusted": True,
        "sha256": file_sha256(path),
    }
    out = tmp_path / "out"
    code, _, err = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    assert (out / "results.json").exists(), err
    doc = json.loads((out / "results.json").read_text())
    assert doc["errors"] == [] and doc["model"]["kind"] == "mlflow"
    assert doc["checks"][0]["details"]["worst_group"] == "tone=dark" and code == 1
