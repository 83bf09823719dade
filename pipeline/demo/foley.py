"""Foley beds: room tone, rain and wind chimes, stereo, seamless when looped.

The mix loops foley to the voice's length, so every bed is periodic over its own length:
noise is shaped in the frequency domain (which makes it circular) and events that ring past
the end wrap round to the start.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from .wav import peak_normalise, write_wav

KINDS = ("room", "rain", "chimes")
# Peak levels keep the beds' natural balance (room tone is quiet); the mix sets the gain.
PEAK_DBFS = {"room": -18.0, "rain": -9.0, "chimes": -6.0}
# Tubular chime partials: frequency ratios, relative amplitudes, decay times (s).
CHIME_RATIOS = np.array([1.0, 2.76, 5.40, 8.93])
CHIME_AMPS = np.array([1.0, 0.6, 0.35, 0.2])
CHIME_DECAYS = np.array([1.8, 0.9, 0.45, 0.25])
# A pentatonic set, so any two chimes sound well together.
CHIME_NOTES = np.array([523.25, 587.33, 659.25, 783.99, 880.00, 1046.50])


def synth_foley(out_path: str | os.PathLike, *, kind: str, seconds: float, seed: int,
                sample_rate: int = 48_000) -> None:
    """Write `seconds` of a foley bed (kind: "room", "rain" or "chimes") as WAV: stereo
    pcm_s16le at `sample_rate`. The same arguments give a byte-identical file."""
    write_wav(out_path, foley(kind=kind, seconds=seconds, seed=seed, sample_rate=sample_rate),
              sample_rate)


def foley(*, kind: str, seconds: float, seed: int, sample_rate: int = 48_000) -> np.ndarray:
    """The samples synth_foley writes: float64, shape (round(seconds × rate), 2)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    make = {"room": _room, "rain": _rain, "chimes": _chimes}[kind]
    return peak_normalise(make(rng, n, sample_rate), PEAK_DBFS[kind])


def _room(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Room tone: a dark, steady pink-ish hiss with some low rumble."""
    return _shaped_noise(rng, n, rate, lambda f: 1 / np.sqrt(f + 20) / (1 + (f / 2000) ** 2))


def _rain(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Rain: a bright hiss under a patter of droplets (short rising pings)."""
    bed = _shaped_noise(rng, n, rate, lambda f: f / (f + 800) / np.sqrt(f + 100))
    bed /= np.sqrt(np.mean(bed ** 2))
    count = rng.poisson(40 * n / rate)
    length = int(0.05 * rate)
    t = np.arange(length) / rate
    freq = rng.uniform(1500, min(6000, 0.4 * rate), count)[:, None]
    decay = rng.uniform(0.002, 0.008, count)[:, None]
    # Bubbles rise in pitch as they ring.
    drops = np.sin(2 * np.pi * freq * t * (1 + 8 * t)) * np.exp(-t / decay)
    drops *= rng.lognormal(0.4, 0.5, count)[:, None]
    return bed + _scatter(rng, n, drops, rng.integers(0, n, count))


def _chimes(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Wind chimes: gusts of 2-6 strikes of inharmonic tubes over a faint wind."""
    wind = _shaped_noise(rng, n, rate, lambda f: 1 / (1 + (f / 400) ** 2))
    wind *= 0.02 / np.sqrt(np.mean(wind ** 2))
    starts = _gust_strikes(rng, n / rate)
    t = np.arange(min(n, int(5 * CHIME_DECAYS[0] * rate))) / rate
    strikes = np.stack([_chime(rng, t, rate) for _ in starts])
    return wind + _scatter(rng, n, strikes, (starts * rate).astype(np.int64) % n)


def _gust_strikes(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Strike times (s): gusts about every four seconds (at least one), each 2-6 strikes
    close together."""
    gusts = rng.uniform(0, seconds, max(1, rng.poisson(seconds / 4)))
    times = [g + np.cumsum(rng.uniform(0.08, 0.4, rng.integers(2, 7))) for g in gusts]
    return np.sort(np.concatenate(times))


def _chime(rng: np.random.Generator, t: np.ndarray, rate: int) -> np.ndarray:
    """One strike of a random tube: its partials ringing down, with a 2 ms attack so the
    strike does not click."""
    base = rng.choice(CHIME_NOTES)
    tone = np.zeros(t.size)
    for ratio, amp, decay in zip(CHIME_RATIOS, CHIME_AMPS, CHIME_DECAYS):
        if base * ratio < 0.45 * rate:
            decay *= rng.uniform(0.8, 1.2)
            ring = t[: int(5 * decay * rate)]  # on to -43 dB; the rest is inaudible
            tone[: ring.size] += amp * np.exp(-ring / decay) * np.sin(
                2 * np.pi * base * ratio * ring + rng.uniform(0, 2 * np.pi))
    return rng.uniform(0.3, 1.0) * tone * np.minimum(1.0, t / 0.002)


def _shaped_noise(rng: np.random.Generator, n: int, rate: int,
                  gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Stereo Gaussian noise, independent per side, with amplitude response gain(f Hz);
    periodic over n samples."""
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum = np.fft.rfft(rng.normal(0.0, 1.0, (n, 2)), axis=0) * gain(freqs)[:, None]
    return np.fft.irfft(spectrum, n, axis=0)


def _scatter(rng: np.random.Generator, n: int, events: np.ndarray, starts: np.ndarray
             ) -> np.ndarray:
    """Sum events (count, length) into a stereo buffer of n samples at `starts`, each panned
    at random with equal power, wrapping past the end to the start."""
    index = ((starts[:, None] + np.arange(events.shape[1])) % n).ravel()
    pan = rng.uniform(0.15, 0.85, len(events))[:, None] * (np.pi / 2)
    sides = [np.bincount(index, (events * np.cos(pan)).ravel(), minlength=n),
             np.bincount(index, (events * np.sin(pan)).ravel(), minlength=n)]
    return np.stack(sides, axis=1)
