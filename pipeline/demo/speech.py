"""A speech-like voice: no words, but the rhythm, pitch and formants of someone talking.

A source-filter synthesiser: a jittered glottal pulse train under a declining, accented
pitch contour, shaped by syllable envelopes, filtered by five formant resonators whose first
three glide between vowels, with fricative and plosive noise between syllables. Syllables
(120-300 ms) group into words, words into phrases, phrases are separated by pauses, which
is what gives its loudness the 3-6 Hz rhythm of speech.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from .wav import peak_normalise, write_wav

# F1, F2, F3 (Hz) of English vowels, adult male (Peterson & Barney 1952).
VOWELS = np.array([
    (270, 2290, 3010), (390, 1990, 2550), (530, 1840, 2480), (660, 1720, 2410),
    (730, 1090, 2440), (570, 840, 2410), (440, 1020, 2240), (300, 870, 2240),
    (640, 1190, 2390), (490, 1350, 1690),
], dtype=float)
# Where F1-F3 start from after a consonant at each place of articulation.
LOCI = {"labial": (250, 900, 2200), "alveolar": (250, 1700, 2700), "velar": (250, 2000, 2300)}
# F4 and F5 stay put (Klatt's defaults); they give the buzz its vocal brightness.
HIGH_FORMANTS = (3300.0, 3750.0)
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 250.0, 300.0])
# Fricatives: (centre Hz, spread Hz, level) of the noise band for s, sh and f.
FRICATIVES = ((5500.0, 1200.0, 0.20), (3200.0, 800.0, 0.18), (4500.0, 3000.0, 0.08))
# Syllable onsets: how often each comes, and the range of its length (s).
ONSETS = {"vowel": (0.25, 0.0, 0.0), "fricative": (0.25, 0.06, 0.11),
          "plosive": (0.30, 0.04, 0.07), "nasal": (0.20, 0.04, 0.07)}
# Open and closing phases of the glottal cycle (Rosenberg pulse), as fractions of a period.
OPEN, CLOSING = 0.40, 0.16
PEAK_DBFS = -3.0
NOISE_FLOOR = 10 ** (-66 / 20)


@dataclass(frozen=True)
class Syllable:
    """One syllable on the timeline (seconds): a consonant onset, then a vowel."""

    start: float
    onset: str
    onset_len: float
    vowel_len: float
    vowel: int
    place: str
    level: float
    accent: bool

    @property
    def vowel_start(self) -> float:
        return self.start + self.onset_len

    @property
    def end(self) -> float:
        return self.vowel_start + self.vowel_len


def synth_speech(out_path: str | os.PathLike, *, seconds: float, seed: int,
                 sample_rate: int = 24_000) -> None:
    """Write `seconds` of speech-like sound as WAV: mono pcm_s16le at `sample_rate`, peak
    at about -3 dBFS. The same seed gives a byte-identical file."""
    write_wav(out_path, speech(seconds=seconds, seed=seed, sample_rate=sample_rate),
              sample_rate)


def speech(*, seconds: float, seed: int, sample_rate: int = 24_000) -> np.ndarray:
    """The samples synth_speech writes: float64, shape (round(seconds × rate),), in [-1, 1]."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    base = rng.uniform(115, 145)  # the speaker's resting pitch, Hz
    syllables, phrases = _plan(rng, seconds)
    t = np.arange(n) / sample_rate
    f0 = _pitch(rng, t, base, syllables, phrases)
    source = _glottal_source(rng, f0, sample_rate) * _voicing(n, sample_rate, syllables)
    voiced = _vocal_tract(source, syllables, sample_rate, formant_scale=base / 125)
    x = peak_normalise(voiced, 0.0) + _consonant_noise(rng, n, sample_rate, syllables)
    x = peak_normalise(x, PEAK_DBFS)
    return x + rng.normal(0.0, NOISE_FLOOR, n)


def _plan(rng: np.random.Generator, seconds: float
          ) -> tuple[list[Syllable], list[tuple[float, float]]]:
    """Syllables grouped into words (1-3 syllables) and phrases (3-7 words), with the
    phrases' (start, end) times; everything ends 0.15 s before `seconds`."""
    syllables: list[Syllable] = []
    phrases: list[tuple[float, float]] = []
    t, end = rng.uniform(0.15, 0.35), seconds - 0.15
    while t < end:
        start, placed = t, len(syllables)
        for _ in range(rng.integers(3, 8)):
            t = _place_word(rng, t, end, syllables)
            t += rng.uniform(0.03, 0.12)  # the dip between words
        if len(syllables) > placed:
            syllables[-1] = _soften(syllables[-1])
            phrases.append((start, syllables[-1].end))
        t += rng.uniform(0.25, 0.70)  # the pause between phrases
    return syllables, phrases


def _place_word(rng: np.random.Generator, t: float, end: float,
                syllables: list[Syllable]) -> float:
    """Append a word's syllables that fit before `end`; returns where the word ends."""
    count = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.20]))
    stressed = rng.integers(count)
    for i in range(count):
        duration = rng.uniform(0.12, 0.30)
        if t + duration > end:
            return end
        onset = str(rng.choice(list(ONSETS), p=[odds for odds, _, _ in ONSETS.values()]))
        onset_len = min(rng.uniform(*ONSETS[onset][1:]), duration - 0.08)
        syllables.append(Syllable(
            start=t, onset=onset, onset_len=onset_len, vowel_len=duration - onset_len,
            vowel=int(rng.integers(len(VOWELS))), place=str(rng.choice(list(LOCI))),
            level=1.0 if i == stressed else rng.uniform(0.55, 0.8),
            accent=bool(i == stressed and rng.random() < 0.6)))
        t += duration + rng.uniform(0.0, 0.025)
    return t


def _soften(syllable: Syllable) -> Syllable:
    """Phrase-final syllables trail off."""
    return replace(syllable, level=syllable.level * 0.7)


def _pitch(rng: np.random.Generator, t: np.ndarray, base: float, syllables: list[Syllable],
           phrases: list[tuple[float, float]]) -> np.ndarray:
    """f0 per sample (Hz): each phrase declines from ~1.3× to ~0.9× the base, accented
    syllables rise, a slow drift wanders and jitter shakes it cycle to cycle."""
    f0 = np.full(t.shape, base)
    for start, end in phrases:
        inside = (t >= start) & (t < end)
        high, low = rng.uniform(1.2, 1.4), rng.uniform(0.85, 0.95)
        f0[inside] = base * np.interp(t[inside], [start, end], [high, low])
    for s in syllables:
        if s.accent:
            centre, width = s.vowel_start + 0.4 * s.vowel_len, 0.07
            near = (t > centre - 4 * width) & (t < centre + 4 * width)
            rise = rng.uniform(0.12, 0.3)
            f0[near] *= 1 + rise * np.exp(-0.5 * ((t[near] - centre) / width) ** 2)
    f0 *= 1 + _wander(rng, t, step=0.12, spread=0.03)
    f0 *= 1 + _wander(rng, t, step=1 / 150, spread=0.008)
    return np.clip(f0, 100.0, 230.0)


def _wander(rng: np.random.Generator, t: np.ndarray, *, step: float, spread: float
            ) -> np.ndarray:
    """Random values every `step` seconds (normal, sd `spread`) interpolated over t."""
    knots = np.arange(0.0, t[-1] + 2 * step, step) if t.size else np.zeros(1)
    return np.interp(t, knots, rng.normal(0.0, spread, knots.size))


def _glottal_source(rng: np.random.Generator, f0: np.ndarray, rate: int) -> np.ndarray:
    """Glottal flow derivative (Rosenberg pulses at f0), with shimmer and breath noise in
    the open phase; peak about 1."""
    phase = np.cumsum(f0 / rate) % 1.0
    flow = np.where(phase < OPEN, 0.5 * (1 - np.cos(np.pi * phase / OPEN)),
                    np.where(phase < OPEN + CLOSING,
                             np.cos(0.5 * np.pi * (phase - OPEN) / CLOSING), 0.0))
    pulses = np.diff(flow, prepend=0.0)
    pulses /= max(np.max(np.abs(pulses)), 1e-12)
    t = np.arange(f0.size) / rate
    shimmer = 1 + _wander(rng, t, step=1 / 150, spread=0.04)
    return pulses * shimmer + 0.05 * rng.normal(0.0, 1.0, f0.size) * flow


def _voicing(n: int, rate: int, syllables: list[Syllable]) -> np.ndarray:
    """Amplitude of voicing per sample: each vowel rises, sags a little and decays; nasal
    onsets hum quietly into their vowel."""
    env = np.zeros(n)
    for s in syllables:
        i0, i1 = int(s.start * rate), min(n, int(s.end * rate) + 2)
        t = np.arange(i0, i1) / rate
        attack = 0.012 if s.onset == "plosive" else min(0.035, 0.3 * s.vowel_len)
        release = min(0.08, 0.45 * s.vowel_len)
        times = [s.vowel_start, s.vowel_start + attack, s.end - release, s.end]
        shape = np.interp(t, times, [0.0, 1.0, 0.8, 0.0], left=0.0, right=0.0)
        shape = 0.5 - 0.5 * np.cos(np.pi * shape)  # raised-cosine ramps, not corners
        if s.onset == "nasal":
            hum = np.interp(t, [s.start, s.start + 0.015, s.vowel_start + attack],
                            [0.0, 0.3, 0.3], left=0.0, right=0.0)
            shape = np.maximum(shape, hum)
        env[i0:i1] = np.maximum(env[i0:i1], s.level * shape)
    return env


def _formant_tracks(times: np.ndarray, syllables: list[Syllable], scale: float
                    ) -> np.ndarray:
    """F1-F5 (Hz) at `times`, shape (len(times), 5): F1-F3 glide from the consonant's
    locus into each vowel's target and on to the next vowel."""
    anchors, values = [0.0], [VOWELS[4] * scale]
    for s in syllables:
        target = VOWELS[s.vowel] * scale
        start = target if s.onset == "vowel" else 0.65 * target + 0.35 * np.array(LOCI[s.place])
        anchors += [s.vowel_start, s.vowel_start + 0.3 * s.vowel_len, s.end]
        values += [start, target, target]
    values = np.array(values)
    low = np.stack([np.interp(times, anchors, values[:, k]) for k in range(3)], axis=1)
    high = np.broadcast_to(np.array(HIGH_FORMANTS), (times.size, 2))
    return np.concatenate([low, high], axis=1)


def _vocal_tract(x: np.ndarray, syllables: list[Syllable], rate: int, formant_scale: float
                 ) -> np.ndarray:
    """Filter x through time-varying formant resonators, frame by frame: Hann frames at 50 %
    overlap (they sum to one), each multiplied in the frequency domain by the cascade's
    response at its centre time, zero-padded so the resonances ring out, overlap-added."""
    size = 2 ** int(round(np.log2(0.02 * rate)))  # ~20 ms: formants barely move within
    hop = size // 2
    padded = np.concatenate([np.zeros(hop), x, np.zeros(size + hop - x.size % hop)])
    count = (padded.size - size) // hop + 1
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)
    frames = padded[np.arange(count)[:, None] * hop + np.arange(size)] * window
    formants = _formant_tracks(np.arange(count) * hop / rate, syllables, formant_scale)
    response = _resonances(formants, rate, 2 * size)
    out = np.fft.irfft(np.fft.rfft(frames, 2 * size) * response, 2 * size)
    # Each output frame spans four hops; add each quarter at its offset.
    total = np.zeros((count + 3, hop))
    for quarter in range(4):
        total[quarter:quarter + count] += out[:, quarter * hop:(quarter + 1) * hop]
    return total.reshape(-1)[hop:hop + x.size]


def _resonances(formants: np.ndarray, rate: int, fft_size: int) -> np.ndarray:
    """Frequency response of cascaded two-pole resonators (unity gain at DC) per frame:
    formants (frames, k) Hz → complex (frames, fft_size // 2 + 1)."""
    z = np.exp(-2j * np.pi * np.arange(fft_size // 2 + 1) / fft_size)
    r = np.exp(-np.pi * BANDWIDTHS[: formants.shape[1]] / rate)[None, :, None]
    c = 2 * r * np.cos(2 * np.pi * np.minimum(formants, 0.45 * rate) / rate)[:, :, None]
    return np.prod((1 - c + r * r) / (1 - c * z + r * r * z * z), axis=1)


def _consonant_noise(rng: np.random.Generator, n: int, rate: int,
                     syllables: list[Syllable]) -> np.ndarray:
    """Fricative hiss over fricative onsets and a short burst at the release of plosives."""
    noise = np.zeros(n)
    for s in syllables:
        if s.onset not in ("fricative", "plosive"):
            continue
        centre, spread, level = FRICATIVES[int(rng.integers(len(FRICATIVES)))]
        if s.onset == "plosive":  # closure (silence), then ~12 ms of broadband burst
            begin, length = s.vowel_start - 0.015, 0.015
            spread, level = 3000.0, 0.35
        else:
            begin, length = s.start, s.onset_len + 0.01
        i0, i1 = int(begin * rate), min(n, int((begin + length) * rate))
        if i1 - i0 < 8:
            continue
        hiss = _band_noise(rng, i1 - i0, rate, min(centre, 0.4 * rate), spread)
        ramp = np.interp(np.arange(i1 - i0), [0, 0.2 * (i1 - i0), 0.7 * (i1 - i0), i1 - i0],
                         [0.0, 1.0, 1.0, 0.0])
        if s.onset == "plosive":
            ramp = np.exp(-np.arange(i1 - i0) / (0.004 * rate))
        noise[i0:i1] += level * s.level * hiss * ramp
    return noise


def _band_noise(rng: np.random.Generator, length: int, rate: int, centre: float,
                spread: float) -> np.ndarray:
    """Gaussian noise with a Gaussian-shaped band around `centre` Hz; unit RMS."""
    freqs = np.fft.rfftfreq(length, 1 / rate)
    band = np.exp(-0.5 * ((freqs - centre) / spread) ** 2)
    hiss = np.fft.irfft(np.fft.rfft(rng.normal(0.0, 1.0, length)) * band, length)
    return hiss / max(float(np.sqrt(np.mean(hiss ** 2))), 1e-12)
