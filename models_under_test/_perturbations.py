"""Seeded input perturbations for robustness checks, by name (an explicit registry).

Images are float32 grey levels in [0, 1] of shape (n, height, width); audio is float32
waveforms of shape (n, samples). Every perturbation takes the batch, its parameters and a
``numpy.random.Generator`` and returns a new batch of the same shape; none changes its input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["PERTURBATIONS", "perturb"]


def brightness(x: np.ndarray, rng: np.random.Generator, *, factor: float = 0.6) -> np.ndarray:
    """Poor lighting: every grey level times ``factor``."""
    return np.clip(x * factor, 0.0, 1.0).astype(np.float32)


def contrast(x: np.ndarray, rng: np.random.Generator, *, factor: float = 0.5) -> np.ndarray:
    """Flat lighting: grey levels pulled towards each image's mean by ``factor``."""
    mean = x.mean(axis=tuple(range(1, x.ndim)), keepdims=True)
    return np.clip(mean + (x - mean) * factor, 0.0, 1.0).astype(np.float32)


def blur(x: np.ndarray, rng: np.random.Generator, *, sigma: float = 1.5) -> np.ndarray:
    """Out of focus: a Gaussian blur of ``sigma`` pixels."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma=(0, sigma, sigma)).astype(np.float32)


def occlusion(
    x: np.ndarray, rng: np.random.Generator, *, band: str = "eyes", height: float = 0.18
) -> np.ndarray:
    """Glasses or a mask: a dark band over the ``eyes`` or the ``mouth``, jittered per image."""
    out = x.copy()
    h = x.shape[1]
    centre = {"eyes": 0.40, "mouth": 0.72}[band]
    for i in range(len(out)):
        top = int(h * (centre - height / 2) + rng.integers(-2, 3))
        out[i, max(top, 0) : top + int(h * height), :] = 0.05
    return out


def noise(x: np.ndarray, rng: np.random.Generator, *, snr_db: float = 10.0) -> np.ndarray:
    """Additive white noise at a signal-to-noise ratio of ``snr_db`` decibels."""
    power = np.mean(x.astype(np.float64) ** 2, axis=1, keepdims=True)
    scale = np.sqrt(power / 10 ** (snr_db / 10))
    return (x + rng.standard_normal(x.shape) * scale).astype(np.float32)


def telephone(
    x: np.ndarray,
    rng: np.random.Generator,
    *,
    sample_rate: int = 8000,
    low_hz: float = 300.0,
    high_hz: float = 3400.0,
) -> np.ndarray:
    """The telephone band: a 4th-order Butterworth band-pass from ``low_hz`` to ``high_hz``."""
    from scipy.signal import butter, sosfiltfilt

    nyquist = sample_rate / 2
    sos = butter(4, [low_hz / nyquist, min(high_hz / nyquist, 0.99)], btype="band", output="sos")
    return sosfiltfilt(sos, x, axis=1).astype(np.float32)


def speed(x: np.ndarray, rng: np.random.Generator, *, factor: float = 0.85) -> np.ndarray:
    """Slower (``factor`` < 1) or faster speech, by resampling, cut or padded to length."""
    n = x.shape[1]
    source = np.arange(n) * factor
    out = np.zeros_like(x)
    keep = source < n - 1
    for i in range(len(x)):
        out[i, keep] = np.interp(source[keep], np.arange(n), x[i])
    return out


PERTURBATIONS: dict[str, Callable[..., np.ndarray]] = {
    "brightness": brightness,
    "contrast": contrast,
    "blur": blur,
    "occlusion": occlusion,
    "noise": noise,
    "telephone": telephone,
    "speed": speed,
}


def perturb(
    name: str, batch: np.ndarray, *, rng: np.random.Generator, params: dict[str, Any] | None = None
) -> np.ndarray:
    """Apply the perturbation ``name`` with ``params`` to ``batch`` (a new array)."""
    if name not in PERTURBATIONS:
        raise ValueError(
            f"The 'name' parameter must be one of {sorted(PERTURBATIONS)}. Got {name!r} instead."
        )
    return PERTURBATIONS[name](np.asarray(batch, dtype=np.float32), rng, **(params or {}))
