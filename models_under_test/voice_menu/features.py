"""Audio features of the voice-menu model: MFCC summaries of a waveform, in numpy only.

``mfcc_summary(waves)`` turns waveforms (n, samples) at 8 kHz into fixed vectors: 13 MFCCs
per 32 ms frame (10 ms hop, 26 mel bands up to 4 kHz, log energy, DCT), over the voiced frames
(energy above 1 % of the clip's loudest frame): their mean and standard deviation, and the
means of four equal time segments. It is the model's preprocessing step: the ONNX classifier
takes these vectors.
"""

from __future__ import annotations

import numpy as np

__all__ = ["N_FEATURES", "SAMPLE_RATE", "mfcc_summary"]

SAMPLE_RATE = 8000
_FRAME, _HOP, _BANDS, _COEFS, _SEGMENTS = 256, 80, 26, 13, 4
N_FEATURES = _COEFS * (2 + _SEGMENTS)


def _mel_filters() -> np.ndarray:
    def mel(f):
        return 2595 * np.log10(1 + f / 700)

    def hz(m):
        return 700 * (10 ** (m / 2595) - 1)

    points = hz(np.linspace(mel(60), mel(SAMPLE_RATE / 2), _BANDS + 2))
    bins = np.floor((_FRAME + 1) * points / SAMPLE_RATE).astype(int)
    filters = np.zeros((_BANDS, _FRAME // 2 + 1))
    for b in range(_BANDS):
        lo, mid, hi = bins[b], bins[b + 1], bins[b + 2]
        filters[b, lo:mid] = (np.arange(lo, mid) - lo) / max(mid - lo, 1)
        filters[b, mid:hi] = (hi - np.arange(mid, hi)) / max(hi - mid, 1)
    return filters


_FILTERS = _mel_filters()
_DCT = np.cos(np.pi / _BANDS * (np.arange(_BANDS)[None, :] + 0.5) * np.arange(_COEFS)[:, None])
_WINDOW = np.hanning(_FRAME)


def _one(wave: np.ndarray) -> np.ndarray:
    n_frames = 1 + max(len(wave) - _FRAME, 0) // _HOP
    idx = np.arange(_FRAME)[None, :] + _HOP * np.arange(n_frames)[:, None]
    frames = wave[idx] * _WINDOW
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = power.sum(axis=1)
    voiced = energy > 0.01 * energy.max() if energy.max() > 0 else np.ones(n_frames, bool)
    mfcc = (np.log(power @ _FILTERS.T + 1e-10) @ _DCT.T)[voiced]
    segments = np.array_split(mfcc, _SEGMENTS)
    parts = [mfcc.mean(axis=0), mfcc.std(axis=0)] + [
        s.mean(axis=0) if len(s) else mfcc.mean(axis=0) for s in segments
    ]
    return np.concatenate(parts).astype(np.float32)


def mfcc_summary(waves: np.ndarray) -> np.ndarray:
    """Feature vectors (n, N_FEATURES) of waveforms (n, samples) at 8 kHz."""
    waves = np.asarray(waves, dtype=np.float64)
    return np.stack([_one(w) for w in waves])
