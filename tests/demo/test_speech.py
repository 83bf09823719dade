"""synth_speech: deterministic, well-formed, and rhythmically speech-like."""

from __future__ import annotations

import time
import wave

import numpy as np
import pytest

from pipeline.demo import synth_speech

RATE = 24_000


def read(path) -> tuple[np.ndarray, wave._wave_params]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0, w.getparams()


def frame_levels(x: np.ndarray, rate: int, hop_s: float = 0.01) -> np.ndarray:
    """RMS per 10 ms."""
    hop = int(rate * hop_s)
    return np.sqrt(np.mean(x[: x.size // hop * hop].reshape(-1, hop) ** 2, axis=1))


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "voice.wav"
    synth_speech(path, seconds=10, seed=7)
    return path


def test_same_seed_same_bytes_other_seed_other_bytes(speech, tmp_path):
    synth_speech(tmp_path / "again.wav", seconds=10, seed=7)
    synth_speech(tmp_path / "other.wav", seconds=10, seed=8)
    assert (tmp_path / "again.wav").read_bytes() == speech.read_bytes()
    assert (tmp_path / "other.wav").read_bytes() != speech.read_bytes()


@pytest.mark.parametrize("seconds, rate", [(10, 24_000), (2.5, 16_000), (1.0, 48_000)])
def test_format_and_duration(tmp_path, seconds, rate):
    synth_speech(tmp_path / "v.wav", seconds=seconds, seed=1, sample_rate=rate)
    x, params = read(tmp_path / "v.wav")
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, rate)
    assert params.nframes == round(seconds * rate)


def test_peak_near_minus_3_dbfs_without_clipping(speech):
    x, _ = read(speech)
    peak_db = 20 * np.log10(np.abs(x).max())
    assert -3.5 < peak_db < -2.5
    assert np.sum(np.abs(x) > 0.99) == 0


@pytest.mark.parametrize("seed", range(5))
def test_loudness_has_syllable_rhythm(tmp_path, seed):
    # The modulation spectrum of the 10 ms loudness envelope, in octave bands as speech
    # science reads it: speech peaks at the syllable rate, 2-8 Hz.
    synth_speech(tmp_path / "v.wav", seconds=10, seed=seed)
    x, _ = read(tmp_path / "v.wav")
    env = frame_levels(x, RATE)
    env = env - env.mean()
    power = np.abs(np.fft.rfft(env * np.hanning(env.size))) ** 2
    freqs = np.fft.rfftfreq(env.size, 0.01)
    octaves = [0.5, 1, 2, 4, 8, 16]
    bands = [power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(octaves, octaves[1:])]
    assert octaves[int(np.argmax(bands))] in (2, 4)


def test_has_pauses(speech):
    x, _ = read(speech)
    quiet = 20 * np.log10(frame_levels(x, RATE) + 1e-9) < 20 * np.log10(np.abs(x).max()) - 45
    runs, run = [], 0
    for q in quiet:
        run = run + 1 if q else 0
        runs.append(run)
    longest = max(runs) * 0.01
    assert longest >= 0.25  # pauses between phrases, not just gaps between syllables
    assert 0.1 < quiet.mean() < 0.6  # but mostly it talks


def test_voiced_pitch_in_speaking_range(speech):
    x, _ = read(speech)
    levels = frame_levels(x, RATE, 0.04)
    pitches = []
    for i in np.argsort(levels)[-20:]:  # the loudest 40 ms windows are vowels
        seg = x[i * 960:(i + 1) * 960]
        ac = np.correlate(seg, seg, "full")[seg.size - 1:]
        lo, hi = RATE // 260, RATE // 90
        pitches.append(RATE / (lo + np.argmax(ac[lo:hi])))
    assert 100 <= np.median(pitches) <= 240


def test_ten_seconds_take_under_a_second(tmp_path):
    synth_speech(tmp_path / "warm.wav", seconds=1, seed=0)
    start = time.perf_counter()
    synth_speech(tmp_path / "v.wav", seconds=10, seed=3)
    assert time.perf_counter() - start < 1.0
