"""mux: codecs, exact length, and the moov atom ahead of the media data."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.media import MediaError, mix_audio, mux, probe, read_frames

from .samples import FPS, tone, write_numbered_video, write_wav

# One frame, plus the 5 ms by which the header's centiseconds may round.
WITHIN_A_FRAME = 1 / FPS + 0.005


def top_level_atoms(path) -> list[str]:
    data, atoms, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        atoms.append(data[pos + 4:pos + 8].decode("latin-1"))
        if size == 1:  # 64-bit size follows the type
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        pos += size or len(data)
    return atoms


@pytest.fixture
def video(tmp_path):
    return write_numbered_video(tmp_path / "video.mp4", 50)  # 2 s


@pytest.mark.parametrize("audio_seconds", [1.3, 2.0, 3.1])
def test_final_mp4(video, tmp_path, audio_seconds):
    audio = write_wav(tmp_path / "a.wav", tone(440, audio_seconds, 24_000), 24_000)
    out = tmp_path / "final.mp4"
    mux(video, audio, out, duration=2.0)
    info = probe(out)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.sample_rate, info.channels) == (48_000, 2)
    assert info.duration == pytest.approx(2.0, abs=WITHIN_A_FRAME)
    assert len(list(read_frames(out))) == 50
    atoms = top_level_atoms(out)
    assert atoms.index("moov") < atoms.index("mdat")


def test_video_stream_is_copied(video, tmp_path):
    audio = write_wav(tmp_path / "a.wav", np.zeros(48_000), 24_000)
    out = tmp_path / "final.mp4"
    mux(video, audio, out, duration=2.0)
    for a, b in zip(read_frames(video), read_frames(out)):
        assert np.array_equal(a, b)  # bit-exact frames: nothing was re-encoded


def test_takes_mix_audio_output(video, tmp_path):
    voice = write_wav(tmp_path / "v.wav", tone(300, 1.96, 24_000), 24_000)
    mixed = tmp_path / "mix.wav"
    mix_audio(voice, mixed)
    mux(video, mixed, tmp_path / "final.mp4", duration=1.96)
    assert probe(tmp_path / "final.mp4").duration == pytest.approx(1.96, abs=WITHIN_A_FRAME)


@pytest.mark.parametrize("duration", [1.5, 2.5])
def test_refuses_video_of_another_length(video, tmp_path, duration):
    audio = write_wav(tmp_path / "a.wav", tone(440, 3.0, 24_000), 24_000)
    with pytest.raises(MediaError, match="lasts 2.000 s"):
        mux(video, audio, tmp_path / "final.mp4", duration=duration)
    assert not (tmp_path / "final.mp4").exists()
