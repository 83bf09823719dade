"""mix_audio and audio_envelope on tones whose levels can be read back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.media import MediaError, audio_envelope, mix_audio, probe

from .samples import read_wav, tone, write_wav

RATE = 48_000
VOICE_HZ, FOLEY_HZ = 1000.0, 200.0


def level_db(x: np.ndarray, freq: float, start: float, end: float) -> float:
    """Amplitude (dBFS) of the `freq` component of x[start:end s], by lock-in."""
    seg = x[int(start * RATE):int(end * RATE)]
    t = np.arange(int(start * RATE), int(start * RATE) + seg.size) / RATE
    return 20 * np.log10(2 * abs(np.mean(seg * np.exp(-2j * np.pi * freq * t))) + 1e-12)


@pytest.fixture
def voice(tmp_path):
    """2 s mono at 24 kHz: a 1 kHz tone at -6 dBFS for 1 s, then silence."""
    x = np.concatenate([tone(VOICE_HZ, 1.0, 24_000, 0.5), np.zeros(24_000)])
    return write_wav(tmp_path / "voice.wav", x, 24_000)


@pytest.fixture
def foley(tmp_path):
    """0.3 s stereo 200 Hz tone at -14 dBFS: shorter than the voice, so it must loop."""
    x = tone(FOLEY_HZ, 0.3, RATE, 0.2)
    return write_wav(tmp_path / "foley.wav", np.stack([x, x], axis=1), RATE)


def test_voice_alone_is_48k_stereo_s16_of_the_same_length(voice, tmp_path):
    out = tmp_path / "mix.wav"
    mix_audio(voice, out)
    info = probe(out)
    assert (info.audio_codec, info.sample_rate, info.channels) == ("pcm_s16le", RATE, 2)
    x, rate = read_wav(out)
    assert x.shape == (2 * RATE, 2)
    assert np.array_equal(x[:, 0], x[:, 1])  # mono voice in the centre
    assert level_db(x[:, 0], VOICE_HZ, 0.1, 0.9) == pytest.approx(-6.02, abs=0.1)


def test_foley_loops_under_the_voice_at_its_gain(voice, foley, tmp_path):
    out = tmp_path / "mix.wav"
    mix_audio(voice, out, foley=[(foley, -6.0)], voice_gain_db=-3.0)
    x, _ = read_wav(out)
    assert x.shape == (2 * RATE, 2)
    assert level_db(x[:, 0], VOICE_HZ, 0.1, 0.9) == pytest.approx(-9.02, abs=0.1)
    for start in (0.0, 0.6, 1.5):  # foley keeps going after its own 0.3 s
        assert level_db(x[:, 1], FOLEY_HZ, start, start + 0.3) == pytest.approx(-20.0, abs=0.2)


def test_duration_pads_and_cuts_to_the_sample(voice, foley, tmp_path):
    out = tmp_path / "mix.wav"
    mix_audio(voice, out, foley=[(foley, 0.0)], duration=2.7)
    x, _ = read_wav(out)
    assert x.shape == (round(2.7 * RATE), 2)
    assert level_db(x[:, 0], FOLEY_HZ, 2.2, 2.7) == pytest.approx(-14.0, abs=0.2)
    mix_audio(voice, out, duration=0.5)
    assert read_wav(out)[0].shape == (RATE // 2, 2)


def test_ducking_lowers_foley_by_duck_db_while_the_voice_speaks(voice, foley, tmp_path):
    out = tmp_path / "mix.wav"
    mix_audio(voice, out, foley=[(foley, 0.0)], duck_db=10.0)
    x, _ = read_wav(out)
    under_voice = level_db(x[:, 0], FOLEY_HZ, 0.3, 0.9)
    in_pause = level_db(x[:, 0], FOLEY_HZ, 1.6, 2.0)
    assert in_pause == pytest.approx(-14.0, abs=0.2)
    assert in_pause - under_voice == pytest.approx(10.0, abs=1.0)


def test_mix_does_not_clip(voice, tmp_path):
    loud = write_wav(tmp_path / "loud.wav", np.stack([tone(300, 0.5, RATE, 0.9)] * 2, 1), RATE)
    out = tmp_path / "mix.wav"
    mix_audio(voice, out, foley=[(loud, 0.0)])
    x, _ = read_wav(out)
    assert np.abs(x).max() < 0.9  # limited 1 dB under full scale, not wrapped or clipped


def test_refuses_foley_without_audio(voice, tmp_path):
    empty = write_wav(tmp_path / "empty.wav", np.zeros((0, 2)), RATE)
    with pytest.raises(MediaError, match="no audio to loop"):
        mix_audio(voice, tmp_path / "mix.wav", foley=[(empty, 0.0)])


def test_audio_envelope_follows_loudness_per_frame(tmp_path):
    rate = 24_000
    # 0.4 s loud, 0.4 s silent, 0.4 s at half amplitude.
    x = np.concatenate([tone(440, 0.4, rate, 0.8), np.zeros(int(0.4 * rate)),
                        tone(440, 0.4, rate, 0.4)])
    env = audio_envelope(write_wav(tmp_path / "a.wav", x, rate), 25)
    assert env.dtype == np.float32 and env.shape == (30,)
    assert env.max() == pytest.approx(1.0)
    np.testing.assert_allclose(env[:10], 1.0, atol=0.01)
    np.testing.assert_allclose(env[10:20], 0.0, atol=0.01)
    np.testing.assert_allclose(env[20:], 0.5, atol=0.01)


def test_audio_envelope_counts_partial_last_frame(tmp_path):
    path = write_wav(tmp_path / "a.wav", tone(440, 1.01, 24_000), 24_000)
    assert audio_envelope(path, 25).shape == (26,)
    assert audio_envelope(path, 30000 / 1001).shape == (31,)
