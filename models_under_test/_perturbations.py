"""Seeded input perturbations for robustness checks, by name (an explicit registry).

Images are float32 grey levels in [0, 1] of shape (n, height, width); audio is float32
waveforms of shape (n, samples). Every perturbation takes the batch, its parameters and a
``numpy.random.Generator`` and returns a new batch of the same shape; none changes its input.

Each perturbation's parameters are a pydantic model (:data:`PERTURBATION_PARAMS`, unknown
keys refused) whose bounds say what the perturbation means: a factor of 1 or a blur of
sigma 0 changes nothing and is refused. :data:`PERTURBATION_KINDS` says which media kind
each perturbation applies to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "PERTURBATIONS",
    "PERTURBATION_KINDS",
    "PERTURBATION_PARAMS",
    "input_change",
    "perturb",
]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Factor(_Params):
    @model_validator(mode="after")
    def _not_one(self) -> _Factor:
        if self.factor == 1:  # type: ignore[attr-defined]
            raise ValueError("factor must differ from 1 (a factor of 1 changes nothing). Got 1.")
        return self


class BrightnessParams(_Factor):
    """``factor`` > 0, not 1: every grey level times it (0.6 = poor lighting)."""

    factor: Annotated[float, Field(gt=0, le=5)] = 0.6


class ContrastParams(_Factor):
    """``factor`` in [0, 5], not 1: grey levels pulled towards the mean (0 = flat)."""

    factor: Annotated[float, Field(ge=0, le=5)] = 0.5


class BlurParams(_Params):
    """``sigma`` in (0, 20] pixels."""

    sigma: Annotated[float, Field(gt=0, le=20)] = 1.5


class OcclusionParams(_Params):
    """A dark band over the ``eyes``, the ``mouth``, or the ``top`` or ``bottom`` rows."""

    band: Literal["eyes", "mouth", "top", "bottom"] = "eyes"
    height: Annotated[float, Field(gt=0, lt=1)] = 0.18


class NoiseParams(_Params):
    """``snr_db`` in [-10, 60] decibels (60 dB is already inaudible on a phone line)."""

    snr_db: Annotated[float, Field(ge=-10, le=60)] = 10.0


class TelephoneParams(_Params):
    """The band ``low_hz`` to ``high_hz``; ``sample_rate`` must be the data's (default)."""

    sample_rate: Annotated[int, Field(gt=0)] | None = None
    low_hz: Annotated[float, Field(gt=0)] = 300.0
    high_hz: Annotated[float, Field(gt=0)] = 3400.0

    @model_validator(mode="after")
    def _band(self) -> TelephoneParams:
        if self.low_hz >= self.high_hz:
            raise ValueError(
                f"low_hz must be below high_hz. Got {self.low_hz:g} and {self.high_hz:g} instead."
            )
        return self


class SpeedParams(_Factor):
    """``factor`` in [0.5, 2], not 1: slower (< 1) or faster speech."""

    factor: Annotated[float, Field(ge=0.5, le=2)] = 0.85


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


_BAND_CENTRES = {"eyes": 0.40, "mouth": 0.72}


def occlusion(
    x: np.ndarray, rng: np.random.Generator, *, band: str = "eyes", height: float = 0.18
) -> np.ndarray:
    """Glasses or a mask: a dark band over the ``eyes`` or the ``mouth``, jittered per image
    by up to two rows; ``top`` and ``bottom`` cover the first or last ``height`` of the rows."""
    out = x.copy()
    h = x.shape[1]
    rows = max(int(h * height), 1)
    for i in range(len(out)):
        if band == "top":
            top = 0
        elif band == "bottom":
            top = h - rows
        else:
            top = int(h * (_BAND_CENTRES[band] - height / 2) + rng.integers(-2, 3))
        out[i, max(top, 0) : top + rows, :] = 0.05
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
    sample_rate: int | None = 8000,
    low_hz: float = 300.0,
    high_hz: float = 3400.0,
) -> np.ndarray:
    """The telephone band: a 4th-order Butterworth band-pass from ``low_hz`` to ``high_hz``."""
    from scipy.signal import butter, sosfiltfilt

    nyquist = (sample_rate or 8000) / 2
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

#: Each perturbation's parameter model (bounds by meaning; unknown keys refused).
PERTURBATION_PARAMS: dict[str, type[BaseModel]] = {
    "brightness": BrightnessParams,
    "contrast": ContrastParams,
    "blur": BlurParams,
    "occlusion": OcclusionParams,
    "noise": NoiseParams,
    "telephone": TelephoneParams,
    "speed": SpeedParams,
}

#: The media kind each perturbation applies to.
PERTURBATION_KINDS: dict[str, str] = {
    "brightness": "image",
    "contrast": "image",
    "blur": "image",
    "occlusion": "image",
    "noise": "audio",
    "telephone": "audio",
    "speed": "audio",
}


def perturb(
    name: str, batch: np.ndarray, *, rng: np.random.Generator, params: dict[str, Any] | None = None
) -> np.ndarray:
    """Apply the perturbation ``name`` with ``params`` to ``batch`` (a new array).

    The parameters are validated by :data:`PERTURBATION_PARAMS` first (a ``ValueError``
    names the problem).
    """
    if name not in PERTURBATIONS:
        raise ValueError(
            f"The 'name' parameter must be one of {sorted(PERTURBATIONS)}. Got {name!r} instead."
        )
    checked = PERTURBATION_PARAMS[name].model_validate(params or {}).model_dump()
    checked = {k: v for k, v in checked.items() if v is not None}
    return PERTURBATIONS[name](np.asarray(batch, dtype=np.float32), rng, **checked)


def input_change(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the RMS of the change relative to the RMS of the input, and whether it changed.

    A row whose input is all zeros gets the RMS of the change itself (in input units).
    """
    b = np.asarray(before, dtype=np.float64).reshape(len(before), -1)
    a = np.asarray(after, dtype=np.float64).reshape(len(after), -1)
    diff = np.sqrt(np.mean((a - b) ** 2, axis=1))
    scale = np.sqrt(np.mean(b**2, axis=1))
    relative = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)
    return relative, np.abs(a - b).max(axis=1, initial=0.0) > 1e-6
