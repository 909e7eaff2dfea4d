"""Images and audio named by a manifest, decoded batch by batch.

A manifest is a table whose ``column`` holds file paths. The model sees decoded arrays:
images as float32 arrays of the stated ``shape`` with values in [0, 1] (grey levels), audio
as float32 mono waveforms in [-1, 1] at their ``sample_rate``, cut or padded to ``length``
samples. Only the batch being scored is in memory.

Conversions are never silent: :func:`survey_media` reads every file's header once, refuses a
file that cannot be read or that needs a conversion the caller forbids, and counts each kind
of conversion (colour to grey, resizing, stereo to mono, cut, padded, empty, 8-bit samples).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MediaBatches", "MediaError", "load_audio", "load_image", "survey_media"]


class MediaError(ValueError):
    """A media file cannot be read, or would need a conversion that was forbidden."""


def load_image(path: str | Path, shape: Sequence[int], *, resize: bool = True) -> np.ndarray:
    """A grey-level image as float32 in [0, 1], resized to ``shape`` (height, width)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            grey = img.convert("L")
    except (OSError, UnidentifiedImageError) as err:
        raise MediaError(f"The image {str(path)!r} cannot be read: {err}") from err
    if grey.size != (shape[1], shape[0]):
        if not resize:
            raise MediaError(
                f"The image {str(path)!r} is {grey.size[1]} x {grey.size[0]} pixels, not the "
                f"declared {shape[0]} x {shape[1]}, and data.media.resize is false."
            )
        grey = grey.resize((shape[1], shape[0]))
    return np.asarray(grey, dtype=np.float32) / 255.0


def _read_wav(path: str | Path) -> tuple[int, np.ndarray]:
    from scipy.io import wavfile

    try:
        return wavfile.read(path)
    except (OSError, ValueError, EOFError) as err:
        raise MediaError(f"The audio file {str(path)!r} is not a readable WAV file: {err}") from err


def _to_float(data: np.ndarray) -> np.ndarray:
    """PCM samples to float32 in [-1, 1]: 8-bit WAV is unsigned (centred on 128)."""
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    wave = data.astype(np.float32)
    if data.dtype.kind == "i":
        wave /= float(np.iinfo(data.dtype).max)
    return wave


def load_audio(
    path: str | Path, sample_rate: int, length: int, *, downmix: bool = True, cut: bool = True
) -> np.ndarray:
    """A mono waveform as float32 in [-1, 1], cut or zero-padded to ``length`` samples."""
    rate, data = _read_wav(path)
    if rate != sample_rate:
        raise MediaError(
            f"The audio file {str(path)!r} is sampled at {rate} Hz, not the declared "
            f"{sample_rate} Hz."
        )
    wave = _to_float(data)
    if wave.ndim > 1:
        if not downmix and wave.shape[1] > 1:
            raise MediaError(
                f"The audio file {str(path)!r} has {wave.shape[1]} channels and "
                "data.media.downmix is false."
            )
        wave = wave.mean(axis=1)
    if len(wave) > length and not cut:
        raise MediaError(
            f"The audio file {str(path)!r} has {len(wave)} samples, more than the declared "
            f"{length}, and data.media.cut is false."
        )
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(wave))] = wave[:length]
    return out


def _image_conversions(path: str, shape: Sequence[int], resize: bool) -> list[str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            mode, size, fmt = img.mode, img.size, img.format
    except (OSError, UnidentifiedImageError) as err:
        raise MediaError(f"The image {path!r} cannot be read: {err}") from err
    found = []
    if mode != "L":
        found.append(f"converted from {mode} to grey levels")
    if fmt == "JPEG":
        found.append("lossy JPEG files")
    if size != (shape[1], shape[0]):
        if not resize:
            raise MediaError(
                f"The image {path!r} is {size[1]} x {size[0]} pixels, not the declared "
                f"{shape[0]} x {shape[1]}, and data.media.resize is false."
            )
        found.append(f"resized to {shape[0]} x {shape[1]}")
    return found


def _audio_conversions(
    path: str, sample_rate: int, length: int, downmix: bool, cut: bool
) -> list[str]:
    rate, data = _read_wav(path)
    if rate != sample_rate:
        raise MediaError(
            f"The audio file {path!r} is sampled at {rate} Hz, not the declared {sample_rate} Hz."
        )
    found = []
    if data.dtype == np.uint8:
        found.append("8-bit samples rescaled to [-1, 1]")
    if data.ndim > 1 and data.shape[1] > 1:
        if not downmix:
            raise MediaError(
                f"The audio file {path!r} has {data.shape[1]} channels and data.media.downmix "
                "is false."
            )
        found.append("stereo averaged to mono")
    n = len(data)
    if n == 0:
        found.append("empty clips scored as silence")
    elif n > length:
        if not cut:
            raise MediaError(
                f"The audio file {path!r} has {n} samples, more than the declared {length}, "
                "and data.media.cut is false."
            )
        found.append(f"cut to {length} samples")
    elif n < length:
        found.append(f"padded with silence to {length} samples")
    return found


@dataclass(frozen=True)
class MediaBatches:
    """Rows of a manifest, decoded on demand: ``batches[a:b]`` is an array of rows a..b."""

    paths: tuple[str, ...]
    kind: str
    shape: tuple[int, ...]
    sample_rate: int | None = None
    resize: bool = True
    downmix: bool = True
    cut: bool = True
    #: Files per kind of conversion (see :func:`survey_media`), when surveyed.
    conversions: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, path: str) -> np.ndarray:
        if self.kind == "image":
            return load_image(path, self.shape, resize=self.resize)
        return load_audio(
            path,
            int(self.sample_rate or 0),
            int(self.shape[0]),
            downmix=self.downmix,
            cut=self.cut,
        )

    def __getitem__(self, rows: slice | Sequence[int] | np.ndarray) -> np.ndarray:
        picked = self.paths[rows] if isinstance(rows, slice) else [self.paths[i] for i in rows]
        if not picked:
            return np.zeros((0, *self.shape), dtype=np.float32)
        return np.stack([self.decode(p) for p in picked])


def survey_media(batches: MediaBatches) -> dict[str, int]:
    """Open every file once (headers for images): how many files needed each conversion.

    Raises
    ------
    MediaError
        Naming the first file that cannot be read, has another sample rate, or needs a
        conversion that ``batches`` forbids.
    """
    counts: Counter[str] = Counter()
    for path in batches.paths:
        if batches.kind == "image":
            found = _image_conversions(path, batches.shape, batches.resize)
        else:
            found = _audio_conversions(
                path, int(batches.sample_rate or 0), batches.shape[0], batches.downmix, batches.cut
            )
        counts.update(found)
    return dict(sorted(counts.items()))
