"""synth_foley and write_portrait."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from pipeline.demo import synth_foley, write_portrait


def read(path) -> tuple[np.ndarray, wave._wave_params]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
    return data.reshape(-1, params.nchannels), params


@pytest.mark.parametrize("kind", ["room", "rain", "chimes"])
def test_format_duration_and_determinism(tmp_path, kind):
    synth_foley(tmp_path / "a.wav", kind=kind, seconds=2.0, seed=5)
    synth_foley(tmp_path / "b.wav", kind=kind, seconds=2.0, seed=5)
    synth_foley(tmp_path / "c.wav", kind=kind, seconds=2.0, seed=6)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "c.wav").read_bytes()
    x, params = read(tmp_path / "a.wav")
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, 48_000)
    assert params.nframes == 96_000
    assert 0.01 < np.abs(x).max() < 0.99  # audible, not clipped
    assert not np.array_equal(x[:, 0], x[:, 1])  # stereo, not dual mono


def test_chimes_ring_at_their_notes(tmp_path):
    synth_foley(tmp_path / "c.wav", kind="chimes", seconds=8.0, seed=2, sample_rate=32_000)
    x, params = read(tmp_path / "c.wav")
    spectrum = np.abs(np.fft.rfft(x.sum(axis=1)))
    freqs = np.fft.rfftfreq(x.shape[0], 1 / params.framerate)
    assert 500 <= freqs[np.argmax(spectrum)] <= 3000  # a tone, not the low wind


def test_loops_without_a_seam(tmp_path):
    synth_foley(tmp_path / "r.wav", kind="rain", seconds=1.0, seed=1)
    x, _ = read(tmp_path / "r.wav")
    step_at_seam = np.abs(x[0] - x[-1]).max()
    typical_step = np.percentile(np.abs(np.diff(x, axis=0)), 99.9)
    assert step_at_seam <= typical_step


def test_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="room, rain, chimes"):
        synth_foley(tmp_path / "x.wav", kind="thunder", seconds=1, seed=0)


def test_portrait_is_the_bundled_jpeg(tmp_path):
    write_portrait(tmp_path / "p.jpg")
    data = (tmp_path / "p.jpg").read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and len(data) > 10_000
