"""Build the voice-menu models, the synthesised voices and the audit manifest.

Run ``python -m models_under_test.voice_menu.build [--out DIR] [--synthesise]``.

A phone line asks callers to say a digit; each digit is a service. Real speech: the Free
Spoken Digit Dataset (``data/fsdd/``, six male speakers, CC BY-SA 4.0). Voices the real data
lack are synthesised with Debian's ``espeak-ng`` in eight English accents and voice variants
(male, female, older; normal and slow speech): ``--synthesise`` (re)creates ``data/synth/``
(needs espeak-ng); the committed clips make the rest reproducible without it.

Speakers are held out: the models never hear ``theo`` (USA) or ``lucas`` (DEU), nor the
synthetic accents and voices kept for the audit, because a model tested on its own training
speakers is at its ceiling and says nothing about a new caller.

* ``v1``: trained on the four other real speakers only (all male).
* ``v2``: the same, plus synthetic voices from four accents and two voices (male ``m3``,
  female ``f2``); the audit uses four other accents and voices v2 never heard (``f5``,
  ``grandpa``) as well.

Both: MFCC summaries (``features.py``, the preprocessing step) into standardised logistic
regression, exported to ONNX.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
LENGTH = 8000  # one second at 8 kHz
SERVICES = [
    "operator",
    "permits",
    "taxes",
    "benefits",
    "housing",
    "parking",
    "waste",
    "licences",
    "schools",
    "health",
]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
REAL_ACCENT = {
    "jackson": "USA",
    "theo": "USA",
    "nicolas": "BEL/French",
    "yweweler": "DEU/German",
    "lucas": "DEU/German",
    "george": "GRC/Greek",
}
HELD_OUT_SPEAKERS = ("theo", "lucas")
TRAIN_ACCENTS = ("en-us", "en-gb", "en-029", "en-gb-scotland")
AUDIT_ACCENTS = ("en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
TRAIN_VOICES = ("m3", "f2")
AUDIT_VOICES = ("m3", "f2", "f5", "grandpa")
VOICE_GROUP = {"m3": "male", "f2": "female", "f5": "female", "grandpa": "older"}
SPEEDS = {"normal": 165, "slow": 115}
REPEATS = 2


def real_clips() -> pd.DataFrame:
    rows = []
    for path in sorted((DATA / "fsdd").glob("*.wav")):
        digit, speaker, _ = path.stem.split("_")
        rows.append(
            {
                "path": f"models_under_test/voice_menu/data/fsdd/{path.name}",
                "service": SERVICES[int(digit)],
                "speaker": speaker,
                "accent": REAL_ACCENT[speaker],
                "voice": "male",
                "speech": "normal",
                "source": "recorded",
            }
        )
    return pd.DataFrame(rows)


def synthesise(out: Path) -> None:
    """Speak every digit with espeak-ng in every accent, voice, speed and repetition."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    folder = out / "synth"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for accent in (*TRAIN_ACCENTS, *AUDIT_ACCENTS):
            for voice in sorted(set(TRAIN_VOICES) | set(AUDIT_VOICES)):
                for speech, wpm in SPEEDS.items():
                    for rep in range(REPEATS):
                        for digit, word in enumerate(WORDS):
                            raw = Path(tmp) / "x.wav"
                            subprocess.run(
                                [
                                    "espeak-ng",
                                    "-v",
                                    f"{accent}+{voice}",
                                    "-s",
                                    str(wpm + 8 * rep),
                                    "-p",
                                    str(45 + 10 * rep),
                                    "-w",
                                    str(raw),
                                    word,
                                ],
                                check=True,
                            )
                            rate, wave = wavfile.read(raw)
                            wave = resample_poly(wave.astype(np.float64), 8000, rate)
                            name = f"{digit}_{accent}_{voice}_{speech}_{rep}.wav"
                            wavfile.write(
                                folder / name, 8000, np.clip(wave, -32768, 32767).astype(np.int16)
                            )


def synthetic_clips() -> pd.DataFrame:
    rows = []
    for path in sorted((DATA / "synth").glob("*.wav")):
        digit, accent, voice, speech, _ = path.stem.split("_")
        rows.append(
            {
                "path": f"models_under_test/voice_menu/data/synth/{path.name}",
                "service": SERVICES[int(digit)],
                "speaker": f"espeak:{accent}+{voice}",
                "accent": accent,
                "voice": VOICE_GROUP[voice],
                "speech": speech,
                "source": "synthetic",
                "variant": voice,
            }
        )
    return pd.DataFrame(rows)


def splits() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(real training clips, synthetic training clips, audit clips)."""
    real, synth = real_clips(), synthetic_clips()
    held = real.speaker.isin(HELD_OUT_SPEAKERS)
    synth_train = synth[synth.accent.isin(TRAIN_ACCENTS) & synth.variant.isin(TRAIN_VOICES)]
    synth_audit = synth[synth.accent.isin(AUDIT_ACCENTS) & synth.variant.isin(AUDIT_VOICES)]
    audit = pd.concat([real[held], synth_audit.drop(columns="variant")], ignore_index=True)
    return real[~held], synth_train.drop(columns="variant"), audit


def _features(manifest: pd.DataFrame) -> np.ndarray:
    from models_under_test import MediaBatches

    from .features import mfcc_summary

    root = HERE.parents[1]
    waves = MediaBatches(tuple(str(root / p) for p in manifest.path), "audio", (LENGTH,), 8000)
    return mfcc_summary(waves[:])


def train(manifest: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=3000))
    return model.fit(_features(manifest), manifest.service)


def to_onnx(model) -> bytes:
    from skl2onnx import to_onnx as convert

    from .features import N_FEATURES

    onx = convert(
        model,
        np.zeros((1, N_FEATURES), dtype=np.float32),
        options={id(model.steps[-1][1]): {"zipmap": False}},
        target_opset=17,
    )
    return onx.SerializeToString()


def build(out: Path = HERE, *, synth: bool = False) -> dict[str, Path]:
    """Write ``data/audit.csv`` and the two ONNX models below ``out``."""
    if synth:
        synthesise(out / "data")
    real_train, synth_train, audit = splits()
    written = {"audit": out / "data" / "audit.csv"}
    written["audit"].parent.mkdir(parents=True, exist_ok=True)
    # The manifest's paths are relative to its own folder (as fairgate resolves them).
    relative = audit.path.str.removeprefix("models_under_test/voice_menu/data/")
    audit.assign(path=relative).to_csv(written["audit"], index=False, lineterminator="\n")
    for version, training in (
        ("v1", real_train),
        ("v2", pd.concat([real_train, synth_train], ignore_index=True)),
    ):
        (out / version).mkdir(parents=True, exist_ok=True)
        written[version] = out / version / "model.onnx"
        written[version].write_bytes(to_onnx(train(training)))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    parser.add_argument(
        "--synthesise",
        action="store_true",
        help="re-create the synthetic clips with espeak-ng first",
    )
    args = parser.parse_args()
    for name, path in build(args.out, synth=args.synthesise).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
