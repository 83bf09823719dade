"""probe() against files made here, and its failures."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.media import MediaError, probe

from .samples import FPS, H, W, tone, write_wav


def test_video(numbered_video):
    info = probe(numbered_video)
    assert (info.width, info.height, info.fps) == (W, H, FPS)
    assert info.video_codec == "h264"
    assert info.duration == pytest.approx(40 / FPS, abs=0.01)
    assert info.audio_codec is info.sample_rate is info.channels is None


@pytest.mark.parametrize("channels", [1, 2])
def test_wav(tmp_path, channels):
    x = np.stack([tone(440, 1.25, 24_000)] * channels, axis=1)
    info = probe(write_wav(tmp_path / "a.wav", x, 24_000))
    assert (info.audio_codec, info.sample_rate, info.channels) == ("pcm_s16le", 24_000, channels)
    assert info.duration == pytest.approx(1.25, abs=0.01)
    assert info.video_codec is info.width is info.fps is None


def test_image(image):
    info = probe(image)
    assert (info.width, info.height) == (81, 61)
    assert info.video_codec == "png"


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        probe(tmp_path / "absent.mp4")


def test_corrupt_file_names_command_and_cause(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    with pytest.raises(MediaError) as caught:
        probe(bad)
    message = str(caught.value)
    assert "ffmpeg" in message and str(bad) in message
    assert "Invalid data found" in message
