"""Media audits whose answers are known: hand-made models and files (issue 19).

An image model that reads only the top rows, ONNX models with string classes or with none
declared, a data digest that covers every file, and decoding that counts its conversions.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.io import wavfile

from audits._provenance import data_digest
from audits._runner import _decide
from models_under_test import MediaBatches, ModelLoadError, load_audio, load_model, survey_media

SIZE = 32


@pytest.fixture
def top_row_images(tmp_path, monkeypatch):
    """80 images: group a light on top and dark below, group b the reverse; a model that
    decides from the top quarter of the rows only."""
    rows = []
    for i in range(80):
        group = "a" if i % 2 else "b"
        img = np.full((SIZE, SIZE), 0.1 if group == "a" else 0.9)
        img[: SIZE // 2] = 0.9 if group == "a" else 0.1
        img += np.random.default_rng(i).uniform(-0.05, 0.05, img.shape)
        (tmp_path / "img").mkdir(exist_ok=True)
        Image.fromarray(np.round(img * 255).astype(np.uint8)).save(tmp_path / f"img/{i:02d}.png")
        rows.append(
            {
                "path": f"img/{i:02d}.png",
                "group": group,
                "label": "light" if group == "a" else "dark",
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    (tmp_path / "fairgate_top_rows.py").write_text(
        textwrap.dedent("""
        import numpy as np

        def decide(images):
            top = images[:, : images.shape[1] // 4]
            return np.where(top.mean(axis=(1, 2)) > 0.5, "light", "dark")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _spec(folder, *checks):
    return {
        "name": "top-rows",
        "model": {"kind": "python", "uri": "fairgate_top_rows:decide"},
        "data": {
            "path": str(folder / "manifest.csv"),
            "label": "label",
            "positive_label": "light",
            "sensitive": ["group"],
            "media": {"column": "path", "kind": "image", "shape": [SIZE, SIZE]},
            "min_group_size": 20,
        },
        "checks": [
            {"type": "robustness", "perturbation": "occlusion", "max": 0.1, **c} for c in checks
        ],
    }


def test_top_occlusion_hurts_a_top_row_model_and_bottom_occlusion_does_not(
    top_row_images, write_spec, fairgate
):
    out = top_row_images / "out"
    spec = _spec(
        top_row_images,
        {"params": {"band": "top", "height": 0.3}, "name": "top"},
        {"params": {"band": "bottom", "height": 0.3}, "name": "bottom"},
    )
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    top, bottom = doc["checks"]
    assert code == 1 and top["status"] == "fail" and bottom["status"] == "pass"
    assert top["by_group"]["group=a"]["value"] == 1.0  # light tops covered: all wrong
    assert top["by_group"]["group=b"]["value"] == 0.0
    assert top["details"]["decisions_changed"] == 0.5
    # the bottom band changed the inputs as much, and no decision
    assert bottom["details"]["mean_input_change"] > 0.2
    assert bottom["details"]["decisions_changed"] == 0.0 and bottom["value"] == 0.0
    assert "the 80 files it names" in doc["provenance"]["data_sha256_covers"]
    # the sentences: a fall in points, and a tie that names no group twice
    assert "accuracy falls by 100.0 points (from 100% to 0%) for group=a" in top["message"]
    assert "gap of 100.0 points" in top["message"] and "at most 10.0 points" in top["message"]
    assert "accuracy does not change (100%) in every compared group" in bottom["message"]
    assert "group=a" not in bottom["message"] and "group=b" not in bottom["message"]
    html = (out / "report.html").read_text()
    assert "was not tested by this audit" not in html
    assert "perturbations named (occlusion)" in html
    table = html[html.index("Accuracy by group before and after occlusion") :]
    table = table[: table.index("</table>")]
    for cell in ("group a", "group b", "100.0%", "0.0%", "Drop (points)", ">40<"):
        assert cell in table, cell
    assert 'aria-label="accuracy drop by group' in html
    assert "What the perturbation did" in html and "50.0% of decisions changed" in html


def test_a_replaced_image_changes_the_data_digest(top_row_images):
    manifest = top_row_images / "manifest.csv"
    files = [str(top_row_images / p) for p in pd.read_csv(manifest).path]
    before, covers = data_digest(manifest, files)
    manifest_only = data_digest(manifest)[0]
    assert "80 files" in covers and before != manifest_only
    Image.fromarray(np.full((SIZE, SIZE), 128, np.uint8)).save(files[7])  # flat grey
    after, _ = data_digest(manifest, files)
    assert after != before
    assert data_digest(manifest)[0] == manifest_only  # the manifest alone cannot tell
    moved = str(top_row_images / "img" / "07b.png")
    (top_row_images / "img" / "07.png").rename(moved)  # same bytes under another name
    renamed, _ = data_digest(manifest, [*files[:7], moved, *files[8:]])
    assert renamed not in (before, after)


def _string_class_model(zipmap: bool):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)).astype(np.float32)
    y = np.where(x[:, 0] + 0.3 * rng.standard_normal(200) > 0, "low", "high")
    model = LogisticRegression().fit(x, y)
    onx = to_onnx(model, x[:1], options={id(model): {"zipmap": zipmap}}, target_opset=17)
    return model, x, onx


@pytest.mark.parametrize("zipmap", [True, False])
def test_onnx_string_classes_give_the_favourable_column(tmp_path, zipmap):
    model, x, onx = _string_class_model(zipmap)
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    adapter = load_model("onnx", uri=str(path))
    assert adapter.classes == ["high", "low"] == list(model.classes_)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1]})
    decided = _decide(adapter, frame, frame, positive_label="high", show=False)
    # "high" is the first column: column 1 would be the probability of "low"
    np.testing.assert_allclose(decided.scores, model.predict_proba(x)[:, 0], atol=1e-5)
    with pytest.raises(ModelLoadError, match="proba_classes must match"):
        load_model("onnx", uri=str(path), proba_classes=["low", "high"])


def _undeclared_model(tmp_path, metadata=None):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Softmax", ["X"], ["probabilities"], axis=1),
            helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
        ],
        "undeclared",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, metadata)
    path = tmp_path / "undeclared.onnx"
    onnx.save(model, path)
    return path


def test_onnx_without_declared_classes_guesses_no_column(tmp_path):
    path = _undeclared_model(tmp_path)
    x = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]], dtype=np.float32)
    frame = pd.DataFrame(x, columns=["a", "b"])
    unknown = load_model("onnx", uri=str(path))
    assert unknown.classes is None
    assert _decide(unknown, frame, frame, positive_label=1, show=False).scores is None
    stated = load_model("onnx", uri=str(path), proba_classes=[1, 0])  # column 0 is class 1
    scores = _decide(stated, frame, frame, positive_label=1, show=False).scores
    np.testing.assert_allclose(scores, np.exp(x[:, 0]) / np.exp(x).sum(axis=1), rtol=1e-5)
    meta = load_model("onnx", uri=str(_undeclared_model(tmp_path, {"classes": "[1, 0]"})))
    assert meta.classes == [1, 0]


def test_decoding_counts_every_conversion(tmp_path):
    rgb = np.zeros((40, 48, 3), np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    Image.fromarray(rgb).save(tmp_path / "red.jpg")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "ok.png")
    images = MediaBatches(
        tuple(str(tmp_path / n) for n in ("red.png", "red.jpg", "ok.png")), "image", (32, 32)
    )
    assert survey_media(images) == {
        "converted from RGB to grey levels": 2,
        "lossy JPEG files": 1,
        "resized to 32 x 32": 2,
    }
    t = np.arange(800) / 8000
    tone = np.sin(2 * np.pi * 440 * t)
    wavfile.write(tmp_path / "u8.wav", 8000, np.round(128 + 127 * tone).astype(np.uint8))
    wavfile.write(tmp_path / "stereo.wav", 8000, (np.c_[tone, -tone] * 16000).astype(np.int16))
    wavfile.write(tmp_path / "long.wav", 8000, (np.tile(tone, 20) * 16000).astype(np.int16))
    wavfile.write(tmp_path / "empty.wav", 8000, np.zeros(0, np.int16))
    names = ("u8.wav", "stereo.wav", "long.wav", "empty.wav")
    audio = MediaBatches(tuple(str(tmp_path / n) for n in names), "audio", (8000,), 8000)
    assert survey_media(audio) == {
        "8-bit samples rescaled to [-1, 1]": 1,
        "cut to 8000 samples": 1,
        "empty clips scored as silence": 1,
        "padded with silence to 8000 samples": 2,
        "stereo averaged to mono": 1,
    }
    wave = load_audio(tmp_path / "u8.wav", 8000, 8000)
    assert -1 <= wave.min() < -0.95 and 0.95 < wave.max() <= 1  # not 0..255
    assert np.abs(load_audio(tmp_path / "stereo.wav", 8000, 8000)).max() < 1e-6  # averaged
    assert not load_audio(tmp_path / "empty.wav", 8000, 8000).any()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("resize", ["07.png", "resize is false"]),
        ("not_wav", ["07.png", "not a readable image"]),
        ("missing", ["do not exist", "07.png", "manifest's folder"]),
    ],
)
def test_media_files_that_cannot_be_used_stop_the_data_stage(
    top_row_images, write_spec, fairgate, change, words
):
    spec = _spec(top_row_images, {"params": {"band": "top"}})
    if change == "resize":
        Image.fromarray(np.zeros((20, 20), np.uint8)).save(top_row_images / "img/07.png")
        spec["data"]["media"]["resize"] = False
    elif change == "not_wav":
        (top_row_images / "img/07.png").write_text("not an image")
        words = ["07.png", "cannot be read"]
    else:
        (top_row_images / "img/07.png").unlink()
    out = top_row_images / "out"
    code, _, _ = fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    doc = json.loads((out / "results.json").read_text())
    assert code == 2 and doc["errors"][0]["stage"] == "validate"
    assert all(w in doc["errors"][0]["message"] for w in words), doc["errors"][0]["message"]
    assert doc["provenance"]["data_sha256_covers"] == "the data file"


def test_a_non_wav_file_is_named(tmp_path):
    (tmp_path / "clip.mp3").write_bytes(b"ID3\x03\x00" + bytes(100))
    audio = MediaBatches((str(tmp_path / "clip.mp3"),), "audio", (8000,), 8000)
    with pytest.raises(ValueError, match=r"clip\.mp3.*not a readable WAV"):
        survey_media(audio)


def test_cluster_bootstrap_covers_the_drop_where_the_clip_bootstrap_does_not():
    """Few speakers, many clips each: speakers differ in accuracy and in how much the
    perturbation hurts them. The clip bootstrap's 95 % intervals miss the true drop far more
    often than 5 %; resampling speakers within groups keeps (at least) 93 % coverage."""
    from metrics import paired_change

    speakers, clips, runs = 15, 40, 300
    rng = np.random.default_rng(1)
    truth = 0.8 * 0.4  # E[right before] × E[share lost], drawn independently per speaker
    groups = pd.DataFrame({"g": np.repeat(["a", "b"], speakers * clips)})
    covered = {"clip": 0, "cluster": 0}
    for run in range(runs):
        right = rng.uniform(0.6, 1.0, 2 * speakers)
        lost = rng.uniform(0.0, 0.8, 2 * speakers)
        who = np.repeat(np.arange(2 * speakers), clips)
        before = rng.random(len(who)) < right[who]
        after = before & ~(rng.random(len(who)) < lost[who])
        for kind, clusters in (("clip", None), ("cluster", who)):
            table = paired_change(
                before, after, groups, n_boot=1000, seed=run, clusters=clusters
            ).per_group
            covered[kind] += int(((table.ci_low <= truth) & (truth <= table.ci_high)).sum())
    coverage = {k: v / (2 * runs) for k, v in covered.items()}
    print(f"coverage of the 95% interval of a group's drop: {coverage}")
    assert coverage["clip"] < 0.90
    assert coverage["cluster"] >= 0.93


def test_groups_with_one_or_two_clusters_are_insufficient():
    from metrics import paired_change

    before = np.ones(300, bool)
    after = np.r_[np.zeros(100, bool), np.ones(200, bool)]
    groups = pd.DataFrame({"g": ["a"] * 100 + ["b"] * 200})
    speakers = np.r_[np.repeat([0, 1], 50), np.repeat(np.arange(2, 12), 20)]
    res = paired_change(before, after, groups, n_boot=200, clusters=speakers)
    table = res.per_group.set_index("group")
    assert table.loc["g=a", "clusters"] == 2 and not table.loc["g=a", "sufficient"]
    assert table.loc["g=b", "clusters"] == 10 and table.loc["g=b", "sufficient"]
    assert np.isnan(res.value)  # one judged group: no disparity


def test_a_gain_reads_as_a_rise_in_points():
    from audits._robustness_check import _sentence
    from audits._spec import RobustnessCheck
    from metrics import paired_change

    # 80 per group: a 25-point change is 20 inputs, a count the disclosure rule may show.
    before = np.r_[np.ones(80, bool), np.r_[np.ones(60, bool), np.zeros(20, bool)]]
    after = np.r_[np.r_[np.ones(60, bool), np.zeros(20, bool)], np.ones(80, bool)]
    groups = pd.DataFrame({"g": ["a"] * 80 + ["b"] * 80})
    res = paired_change(before, after, groups, n_boot=200, min_group_size=10)
    check = RobustnessCheck(type="robustness", perturbation="noise", max=0.1)
    text = _sentence(check, "snr_db=10", res, resampled="speaker")
    assert "falls by 25.0 points (from 100% to 75%) for g=a" in text
    assert "rises by 25.0 points (from 75% to 100%) for g=b" in text
    assert "gap of 50.0 points" in text and "resampling speakers" in text
    assert "-" not in text.split(":")[0]  # no negative drop


def test_changes_that_give_away_a_small_count_are_not_stated():
    from audits._robustness_check import _sentence
    from audits._spec import RobustnessCheck
    from metrics import paired_change

    before = np.r_[np.ones(40, bool), np.r_[np.ones(30, bool), np.zeros(10, bool)]]
    after = np.r_[np.r_[np.ones(30, bool), np.zeros(10, bool)], np.ones(40, bool)]
    res = paired_change(
        before, after, pd.DataFrame({"g": ["a"] * 40 + ["b"] * 40}), n_boot=200, min_group_size=10
    )
    check = RobustnessCheck(type="robustness", perturbation="noise", max=0.1)
    text = _sentence(check, "snr_db=10", res, resampled=None)
    assert "25.0 points (from" not in text and "not shown: small counts" in text


def test_the_report_counts_in_the_spec_units_and_words(top_row_images, write_spec, fairgate):
    from reports import render_html

    spec = _spec(top_row_images, {"params": {"band": "top"}})
    spec["data"].update(unit="image", positive_meaning="the light is switched on")
    spec["checks"].append({"metric": "selection_rate", "disparity": "difference", "max": 0.1})
    out = top_row_images / "out"
    fairgate("run", write_spec(spec), "--out", out, "--no-mlflow", "-q")
    html = render_html(json.loads((out / "results.json").read_text()))
    assert "80 images;" in html and "groups under 20 images are not judged" in html
    assert "rate at which the light is switched on differs by 100.0 points" in html.lower()
    assert ">Images</th>" in html and ">People</th>" not in html
    assert "Rate at which the light is switched on, in each group. The disparity" in html
    assert "favourable" not in html
