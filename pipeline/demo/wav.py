"""Writing float signals as 16-bit PCM WAV with the standard library."""

from __future__ import annotations

import os
import wave

import numpy as np

FULL_SCALE = 32767


def peak_normalise(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Scale float samples so the largest magnitude sits at `peak_dbfs` (full scale = 1)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (10 ** (peak_dbfs / 20) / peak) if peak > 0 else x


def write_wav(out_path: str | os.PathLike, x: np.ndarray, sample_rate: int) -> None:
    """Write float samples in [-1, 1], shape (samples,) or (samples, channels), as pcm_s16le.

    Rounding (not truncation) keeps the quantisation symmetric; values beyond full scale are
    clipped rather than wrapped.
    """
    frames = x if x.ndim == 2 else x[:, None]
    pcm = np.clip(np.round(frames * FULL_SCALE), -FULL_SCALE - 1, FULL_SCALE).astype("<i2")
    with wave.open(os.fspath(out_path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
