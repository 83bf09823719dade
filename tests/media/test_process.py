"""No orphaned ffmpeg, useful errors, and byte-identical output for identical input."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from pipeline.media import (FrameWriter, MediaError, loop_video, mix_audio, mux, read_frames,
                            still_to_video)
from pipeline.media.filters import X264_THREADS

from .samples import FPS, H, W, ffmpeg_children, numbered_frame, tone, write_wav

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads the process table from /proc")


def alive(pid: int) -> bool:
    """Still in the process table, zombies included (a zombie was never reaped)."""
    return os.path.exists(f"/proc/{pid}")


def test_interrupt_in_progress_kills_a_running_encode(image, tmp_path):
    out = tmp_path / "long.mp4"
    seen = {}

    def interrupt(done, total):
        seen.update(done=done, total=total, children=ffmpeg_children())
        raise KeyboardInterrupt

    # Long enough that ffmpeg reports progress (every 0.5 s) well before it is done.
    with pytest.raises(KeyboardInterrupt):
        still_to_video(image, out, duration=3600, size=(320, 240), progress=interrupt)
    assert seen["done"] < seen["total"] and seen["children"]
    assert not any(alive(pid) for pid in seen["children"])
    assert not out.exists()


def test_interrupt_while_writing_frames(tmp_path):
    out = tmp_path / "w.mp4"
    children = []

    def interrupt(done, total):
        if done == 3:
            children.extend(ffmpeg_children())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with FrameWriter(out, W, H, FPS, progress=interrupt) as writer:
            for k in range(10):
                writer.write(numbered_frame(k))
    assert children and not any(alive(pid) for pid in children)
    assert not out.exists()


def test_abandoned_reader_kills_the_decoder(numbered_video):
    frames = read_frames(numbered_video)
    next(frames)
    children = ffmpeg_children()
    assert children
    frames.close()
    assert not any(alive(pid) for pid in children)


def test_failure_raises_media_error_with_stderr(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as caught:
        still_to_video(bad, out, duration=1)
    lines = str(caught.value).splitlines()
    assert "ffmpeg" in lines[0] and str(bad) in lines[0]
    assert len(lines) > 1  # ffmpeg's own words follow the command
    assert not out.exists()
    assert not ffmpeg_children()


def test_x264_thread_count_is_pinned(numbered_video):
    # x264 records its settings in the stream; a per-machine thread count would differ.
    assert f"threads={X264_THREADS} ".encode() in numbered_video.read_bytes()


def test_identical_inputs_give_identical_files(image, tmp_path):
    def produce(tag: str) -> list[bytes]:
        d = tmp_path / tag
        d.mkdir()
        with FrameWriter(d / "frames.mp4", W, H, FPS) as writer:
            for k in range(6):
                writer.write(numbered_frame(k))
        still_to_video(image, d / "still.mp4", duration=0.4, size=(32, 32))
        loop_video(d / "frames.mp4", d / "loop.mp4", duration=0.6)
        voice = write_wav(d / "voice.wav", np.concatenate(
            [tone(500, 0.3, 24_000), np.zeros(7200)]), 24_000)
        bed = write_wav(d / "bed.wav", tone(90, 0.2, 44_100), 44_100)
        mix_audio(voice, d / "mix.wav", foley=[(bed, -3.0)], duck_db=6, duration=0.6)
        mux(d / "loop.mp4", d / "mix.wav", d / "final.mp4", duration=0.6)
        return [(d / name).read_bytes()
                for name in ("frames.mp4", "still.mp4", "loop.mp4", "mix.wav", "final.mp4")]

    assert produce("a") == produce("b")
