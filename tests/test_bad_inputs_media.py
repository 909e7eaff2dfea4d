"""Hostile media specs: `fairgate validate` refuses them (exit 4), naming the problem, before
any run could stop on a raw error (issue 19, item 9; the issue-10 corpus)."""

from __future__ import annotations

import copy

import pytest
import yaml

from .bad_inputs_support import assert_no_release, write_yaml
from .conftest import ROOT

SPECS = ROOT / "audits" / "specs"


def _image() -> dict:
    return yaml.safe_load((SPECS / "emotion_distress_v1.yaml").read_text())


def _audio() -> dict:
    return yaml.safe_load((SPECS / "voice_menu_v1.yaml").read_text())


def _robustness(perturbation: str, **params) -> dict:
    return {"type": "robustness", "perturbation": perturbation, "params": params, "max": 0.1}


CASES = {
    "occlusion on audio": (_audio, _robustness("occlusion"), ["occlusion", "image", "audio"]),
    "blur on audio": (_audio, _robustness("blur", sigma=1), ["blur", "applies to image"]),
    "speed on images": (_image, _robustness("speed", factor=0.9), ["speed", "applies to audio"]),
    "misspelled setting": (_image, _robustness("brightness", factr=0.6), ["factr", "factor"]),
    "band centre": (_image, _robustness("occlusion", band="centre"), ["band", "centre", "eyes"]),
    "blur of sigma -1": (_image, _robustness("blur", sigma=-1), ["sigma", "greater than 0"]),
    "blur of sigma 0": (_image, _robustness("blur", sigma=0), ["sigma", "greater than 0"]),
    "speed factor 1": (_audio, _robustness("speed", factor=1.0), ["factor", "differ from 1"]),
    "contrast factor 1": (_image, _robustness("contrast", factor=1), ["differ from 1"]),
    "brightness factor 0": (_image, _robustness("brightness", factor=0), ["factor"]),
    "noise of 200 dB": (_audio, _robustness("noise", snr_db=200), ["snr_db", "60"]),
    "telephone at another rate": (
        _audio,
        _robustness("telephone", sample_rate=16000),
        ["sample_rate", "8000", "16000"],
    ),
    "telephone band upside down": (
        _audio,
        _robustness("telephone", low_hz=3400, high_hz=300),
        ["low_hz", "below high_hz"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_perturbations_are_validated_by_name_and_media_kind(case, fairgate, in_repo, tmp_path):
    make, check, words = CASES[case]
    spec = make()
    spec["checks"].append(check)
    code, out, err = fairgate("validate", write_yaml(tmp_path / "spec.yaml", spec))
    assert code == 4, out + err
    for word in words:
        assert word.lower() in (out + err).lower(), f"{word!r} not in:\n{out + err}"
    assert_no_release(tmp_path)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: s["data"]["media"].update(shape=[64]), ["shape", "[height, width]", "[64]"]),
        (lambda s: s["data"]["media"].update(shape=[64, 0]), ["shape"]),
        (lambda s: s["data"]["media"].update(resize="maybe"), ["resize"]),
        (lambda s: s["data"].pop("media"), ["robustness", "data.media"]),
    ],
    ids=["image shape [64]", "zero width", "resize not a bool", "robustness on a table"],
)
def test_media_settings_are_validated(change, words, fairgate, in_repo, tmp_path):
    spec = copy.deepcopy(_image())
    change(spec)
    code, out, err = fairgate("validate", write_yaml(tmp_path / "spec.yaml", spec))
    assert code == 4, out + err
    for word in words:
        assert word.lower() in (out + err).lower(), f"{word!r} not in:\n{out + err}"
    assert_no_release(tmp_path)


def test_audio_shape_has_one_dimension(fairgate, in_repo, tmp_path):
    spec = _audio()
    spec["data"]["media"]["shape"] = [8000, 2]
    code, out, err = fairgate("validate", write_yaml(tmp_path / "spec.yaml", spec))
    assert code == 4 and "[samples]" in out + err
