"""A seeded, procedural generator of small grey-level faces for the distress detector.

No openly licensed face data with demographic labels is available here, so faces are drawn
from parameters: skin tone, age marks (forehead lines), glasses, lighting, the expression
(calm or distressed) and a *resting frown*, a trait of some calm people whose brows are
drawn together at rest. Distress shows in the mouth (corners down), the eyes (wide) and the
brows (drawn together); a resting frown shows only in the brows. These are synthetic images:
they stand for nobody, and results on them describe the model's behaviour on this generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SIZE", "TONES", "FaceTraits", "draw_face", "sample_traits"]

SIZE = 64
TONES = {"light": 0.82, "medium": 0.62, "dark": 0.40}


@dataclass(frozen=True)
class FaceTraits:
    """The parameters of one face."""

    skin_tone: str
    age: str  # "younger" or "older"
    glasses: bool
    lighting: str  # "normal" or "dim"
    expression: str  # "calm" or "distressed"
    resting_frown: bool


_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


def _line(
    img: np.ndarray, x0: float, y0: float, x1: float, y1: float, value: float, width: float = 1.2
) -> None:
    """Draw a segment by distance to it (anti-aliased)."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((_X - x0) * dx + (_Y - y0) * dy) / (dx * dx + dy * dy + 1e-9), 0, 1)
    dist = np.hypot(_X - (x0 + t * dx), _Y - (y0 + t * dy))
    alpha = np.clip(width - dist, 0, 1)
    img[:] = img * (1 - alpha) + value * alpha


def draw_face(traits: FaceTraits, rng: np.random.Generator) -> np.ndarray:
    """Draw one face as float32 grey levels in [0, 1], shape (64, 64)."""
    skin = TONES[traits.skin_tone] + rng.normal(0, 0.03)
    img = np.full((SIZE, SIZE), 0.95, dtype=np.float32)  # light background
    cx, cy = SIZE / 2 + rng.normal(0, 1.0), SIZE / 2 + 2 + rng.normal(0, 1.0)
    rx, ry = 21 + rng.normal(0, 1.0), 27 + rng.normal(0, 1.0)
    face = ((_X - cx) / rx) ** 2 + ((_Y - cy) / ry) ** 2 <= 1
    img[face] = skin
    dark = max(skin - 0.35, 0.02)
    eye_y = cy - 6 + rng.normal(0, 0.5)
    distressed = traits.expression == "distressed"
    eye_r = 3.2 if distressed else 2.3
    for side in (-1, 1):
        ex = cx + side * 8.5
        eye = ((_X - ex) / eye_r) ** 2 + ((_Y - eye_y) / (eye_r * 0.8)) ** 2 <= 1
        img[eye] = dark
        # Brows: drawn together (inner ends low) for distress and for a resting frown.
        frown = distressed or traits.resting_frown
        inner_drop = (3.0 if frown else 0.0) + rng.normal(0, 0.4)
        _line(
            img,
            ex - side * 1.5,
            eye_y - 6 + inner_drop,
            ex + side * 5.0,
            eye_y - 7.5,
            dark,
            width=1.6,
        )
        if traits.glasses:
            ring = np.abs(np.hypot(_X - ex, _Y - eye_y) - 5.0) < 0.9
            img[ring] = 0.1
    if traits.glasses:
        _line(img, cx - 3.5, eye_y, cx + 3.5, eye_y, 0.1, width=1.0)
    # Mouth: corners down for distress, a straight or slightly smiling line at rest.
    mouth_y = cy + 12 + rng.normal(0, 0.5)
    corner = (4.0 if distressed else -1.0) + rng.normal(0, 0.5)
    _line(img, cx - 7, mouth_y + corner, cx, mouth_y, dark, width=1.4)
    _line(img, cx, mouth_y, cx + 7, mouth_y + corner, dark, width=1.4)
    if traits.age == "older":
        for k in range(3):
            y = cy - 17 + 2.5 * k
            _line(img, cx - 9, y, cx + 9, y + rng.normal(0, 0.3), skin - 0.12, width=0.7)
    if traits.lighting == "dim":
        img = img * 0.55
        img = img.mean() + (img - img.mean()) * 0.8
    img = img + rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def sample_traits(
    n: int,
    rng: np.random.Generator,
    *,
    frown_share: float,
    dim_share: float,
    distress_share: float = 0.4,
) -> pd.DataFrame:
    """Draw ``n`` faces' traits: ``frown_share`` of calm faces frown at rest."""
    expression = np.where(rng.random(n) < distress_share, "distressed", "calm")
    return pd.DataFrame(
        {
            "skin_tone": rng.choice(list(TONES), n),
            "age": rng.choice(["younger", "older"], n),
            "glasses": rng.random(n) < 0.25,
            "lighting": np.where(rng.random(n) < dim_share, "dim", "normal"),
            "expression": expression,
            "resting_frown": np.where(expression == "calm", rng.random(n) < frown_share, False),
        }
    )
