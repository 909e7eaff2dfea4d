"""Build the service-window distress detector models and their audit images.

Run ``python -m models_under_test.emotion_distress.build [--out DIR]``. Seeded throughout.

* ``data/images/*.png`` and ``data/manifest.csv``: 1,200 generated faces for the audit, with
  30 % of calm faces frowning at rest and 30 % in dim light, so that every group is large.
* ``v1/model.onnx``: the naive model. Trained on faces where a resting frown is rare (2 % of
  calm faces) and the light is always normal; it learns that drawn brows mean distress.
* ``v2/model.onnx``: the careful model. Trained with resting frowners common (30 % of calm
  faces), with dim light (30 %) and with the eyes covered on 30 % of faces, so that the
  mouth, not the brows alone, decides.

Both are a scikit-learn pipeline (PCA on the 4,096 grey levels, then logistic regression)
exported to ONNX, the safe format to ship a model in.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from .faces import SIZE, FaceTraits, draw_face, sample_traits

HERE = Path(__file__).resolve().parent
AUDIT_ROWS = 1200
TRAIN_ROWS = 2400


def faces(traits: pd.DataFrame, seed: int) -> np.ndarray:
    """Draw every face of ``traits`` with one seeded generator."""
    rng = np.random.default_rng(seed)
    return np.stack([draw_face(FaceTraits(**row), rng) for row in traits.to_dict("records")])


def augment(images: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Cover the eyes (glasses, a hand) on a seeded ``share`` of the training faces."""
    from models_under_test._perturbations import occlusion

    rng = np.random.default_rng(seed + 20)
    picked = rng.random(len(images)) < share
    out = images.copy()
    out[picked] = occlusion(images[picked], rng, band="eyes")
    return out


def train(traits: pd.DataFrame, images: np.ndarray):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        PCA(n_components=40, random_state=0), LogisticRegression(C=1.0, max_iter=2000)
    )
    return model.fit(images.reshape(len(images), -1), traits["expression"])


def to_onnx(model) -> bytes:
    from skl2onnx import to_onnx as convert

    sample = np.zeros((1, SIZE * SIZE), dtype=np.float32)
    onx = convert(
        model, sample, options={id(model.steps[-1][1]): {"zipmap": False}}, target_opset=17
    )
    return onx.SerializeToString()


def build(out: Path = HERE) -> dict[str, Path]:
    """Write the audit images and manifest and both ONNX models below ``out``."""
    from PIL import Image

    written: dict[str, Path] = {}
    audit = sample_traits(AUDIT_ROWS, np.random.default_rng(100), frown_share=0.3, dim_share=0.3)
    images = faces(audit, seed=101)
    folder = out / "data" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"face_{i:04d}.png"
        Image.fromarray((img * 255).round().astype(np.uint8)).save(path, optimize=True)
        paths.append(f"images/{path.name}")  # relative to the manifest's folder
    manifest = audit.assign(path=paths)[["path", *audit.columns]]
    written["manifest"] = out / "data" / "manifest.csv"
    manifest.to_csv(written["manifest"], index=False, lineterminator="\n")
    recipes = {
        "v1": dict(frown_share=0.02, dim_share=0.0, seed=1, occluded=0.0),
        "v2": dict(frown_share=0.3, dim_share=0.3, seed=2, occluded=0.3),
    }
    for version, recipe in recipes.items():
        seed, occluded = recipe.pop("seed"), recipe.pop("occluded")
        traits = sample_traits(TRAIN_ROWS, np.random.default_rng(seed), **recipe)
        model = train(traits, augment(faces(traits, seed=seed + 10), occluded, seed))
        (out / version).mkdir(parents=True, exist_ok=True)
        written[version] = out / version / "model.onnx"
        written[version].write_bytes(to_onnx(model))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    for name, path in build(parser.parse_args().out).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
