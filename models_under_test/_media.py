"""Images and audio named by a manifest, decoded batch by batch.

A manifest is a table whose ``column`` holds file paths (relative to ``root``). The model sees
decoded arrays: images as float32 arrays of the stated ``shape`` with values in [0, 1]
(grey levels), audio as float32 waveforms in [-1, 1] at their ``sample_rate``, cut or padded to
``length`` samples. Only the batch being scored is in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MediaBatches", "load_audio", "load_image"]


def load_image(path: str | Path, shape: Sequence[int]) -> np.ndarray:
    """A grey-level image as float32 in [0, 1], resized to ``shape`` (height, width)."""
    from PIL import Image

    with Image.open(path) as img:
        grey = img.convert("L")
        if grey.size != (shape[1], shape[0]):
            grey = grey.resize((shape[1], shape[0]))
        return np.asarray(grey, dtype=np.float32) / 255.0


def load_audio(path: str | Path, sample_rate: int, length: int) -> np.ndarray:
    """A mono waveform as float32 in [-1, 1], cut or zero-padded to ``length`` samples."""
    from scipy.io import wavfile

    rate, data = wavfile.read(path)
    if rate != sample_rate:
        raise ValueError(f"{path} is sampled at {rate} Hz, not the declared {sample_rate} Hz.")
    wave = data.astype(np.float32)
    if data.dtype.kind == "i":
        wave /= float(np.iinfo(data.dtype).max)
    if wave.ndim > 1:
        wave = wave.mean(axis=1)
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(wave))] = wave[:length]
    return out


@dataclass(frozen=True)
class MediaBatches:
    """Rows of a manifest, decoded on demand: ``batches[a:b]`` is an array of rows a..b."""

    paths: tuple[str, ...]
    kind: str
    shape: tuple[int, ...]
    sample_rate: int | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, path: str) -> np.ndarray:
        if self.kind == "image":
            return load_image(path, self.shape)
        return load_audio(path, int(self.sample_rate or 0), int(self.shape[0]))

    def __getitem__(self, rows: slice | Sequence[int] | np.ndarray) -> np.ndarray:
        picked = self.paths[rows] if isinstance(rows, slice) else [self.paths[i] for i in rows]
        if not picked:
            return np.zeros((0, *self.shape), dtype=np.float32)
        return np.stack([self.decode(p) for p in picked])
