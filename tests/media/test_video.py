"""Video encodes and decodes: sizes, lengths, frame order, seeking, cleanup."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.media import (FrameWriter, MediaError, frame_at, loop_video, probe, read_frames,
                            still_to_video)

from pipeline.media.process import run

from .samples import (FPS, H, W, frame_number, numbered_frame, tone, write_numbered_video,
                      write_wav)


def numbers(path) -> list[int]:
    return [frame_number(frame) for frame in read_frames(path)]


def test_frame_writer_round_trip_keeps_colours(tmp_path):
    out = tmp_path / "rgb.mp4"
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 120, 40)]
    with FrameWriter(out, W, H, FPS, crf=10) as writer:
        for colour in colours:
            writer.write(np.full((H, W, 3), colour, np.uint8))
    frames = list(read_frames(out))
    assert len(frames) == len(colours)
    for frame, colour in zip(frames, colours):
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        assert np.abs(frame.reshape(-1, 3).mean(0) - colour).max() < 4  # RGB, not BGR


def test_frame_writer_reports_progress(tmp_path):
    calls = []
    with FrameWriter(tmp_path / "p.mp4", W, H, FPS, progress=lambda *a: calls.append(a),
                     total=3) as writer:
        for k in range(3):
            writer.write(numbered_frame(k))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_frame_writer_removes_output_on_exception(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="stage failed"):
        with FrameWriter(out, W, H, FPS) as writer:
            writer.write(numbered_frame(1))
            raise RuntimeError("stage failed")
    assert not out.exists()


def test_frame_writer_without_frames_fails_and_cleans_up(tmp_path):
    out = tmp_path / "empty.mp4"
    with pytest.raises(MediaError, match="no frames"):
        with FrameWriter(out, W, H, FPS):
            pass
    assert not out.exists()


def test_frame_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="even"):
        FrameWriter(tmp_path / "odd.mp4", 63, 48, FPS)
    with FrameWriter(tmp_path / "shape.mp4", W, H, FPS) as writer:
        with pytest.raises(ValueError, match="RGB frame"):
            writer.write(np.zeros((H, W, 4), np.uint8))
        writer.write(numbered_frame(0))


def test_read_frames_in_order(numbered_video):
    assert numbers(numbered_video) == list(range(40))


def test_read_ahead_keeps_order_and_raises_where_the_iteration_failed(numbered_video):
    from pipeline.media.decode import ReadAhead

    with ReadAhead(read_frames(numbered_video), depth=3) as frames:
        assert [frame_number(frame) for frame in frames] == list(range(40))
        assert next(frames, None) is None  # stays finished

    def broken():
        yield 1
        raise MediaError("decoder died")

    with ReadAhead(broken()) as items:
        assert next(items) == 1
        with pytest.raises(MediaError, match="decoder died"):
            next(items)


def test_closing_a_read_ahead_early_kills_its_decoder(numbered_video):
    import subprocess

    from pipeline.media.decode import ReadAhead

    frames = ReadAhead(read_frames(numbered_video))
    next(frames)
    frames.close()
    left = subprocess.run(["pgrep", "-f", str(numbered_video)], capture_output=True, text=True).stdout
    assert left.strip() == ""


def test_read_frames_resizes_by_cover(image):
    frame = next(read_frames(image, size=(40, 60)))
    assert frame.shape == (60, 40, 3)
    # The source's left half is red: a cover crop of the centre still shows both halves.
    assert frame[30, 5, 0] > 200 and frame[30, 35, 0] < 50


@pytest.mark.parametrize("k", [0, 1, 17, 38, 39])
@pytest.mark.parametrize("within", [0.0, 0.5, 0.97])
def test_frame_at_is_the_frame_on_screen(numbered_video, k, within):
    assert frame_number(frame_at(numbered_video, (k + within) / FPS)) == k


def test_frame_at_past_the_end(numbered_video):
    with pytest.raises(MediaError, match="no frame at"):
        frame_at(numbered_video, 5.0)


def test_still_to_video(image, tmp_path):
    out = tmp_path / "still.mp4"
    calls = []
    still_to_video(image, out, duration=1.2, fps=FPS, progress=lambda *a: calls.append(a))
    info = probe(out)
    assert (info.width, info.height) == (80, 60)  # odd sides trimmed to even
    assert (info.video_codec, info.fps, info.audio_codec) == ("h264", FPS, None)
    assert info.duration == pytest.approx(1.2, abs=0.01)
    assert calls[-1] == (30, 30)
    assert len(list(read_frames(out))) == 30


def test_still_to_video_cover_size(image, tmp_path):
    out = tmp_path / "still.mp4"
    still_to_video(image, out, duration=0.2, size=(32, 32))
    assert (probe(out).width, probe(out).height) == (32, 32)
    with pytest.raises(ValueError, match="even"):
        still_to_video(image, out, duration=0.2, size=(31, 32))


def test_loop_video_ping_pongs_like_latentsync(tmp_path):
    source = write_numbered_video(tmp_path / "five.mp4", 5)
    out = tmp_path / "loop.mp4"
    calls = []
    loop_video(source, out, duration=17 / FPS, progress=lambda *a: calls.append(a))
    assert numbers(out) == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4, 4, 3]
    assert calls[-1] == (17, 17)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["five.mp4", "loop.mp4"]  # no spool


def test_loop_video_loops_a_short_video_with_a_long_soundtrack(tmp_path):
    # The header gives the longer audio's duration; the video still has to ping-pong.
    video = write_numbered_video(tmp_path / "five.mp4", 5)
    audio = write_wav(tmp_path / "long.wav", tone(440, 1.0, 24_000), 24_000)
    source = tmp_path / "with_audio.mp4"
    run(["-i", video, "-i", audio, "-c:v", "copy", "-c:a", "aac", source])
    assert probe(source).duration == pytest.approx(1.0, abs=0.03)
    out = tmp_path / "loop.mp4"
    loop_video(source, out, duration=12 / FPS)
    assert numbers(out) == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1]
    assert probe(out).audio_codec is None


def test_loop_video_cuts_a_longer_source(numbered_video, tmp_path):
    out = tmp_path / "cut.mp4"
    loop_video(numbered_video, out, duration=0.4)
    assert numbers(out) == list(range(10))


def test_loop_video_resamples_frame_rate_first(numbered_video, tmp_path):
    out = tmp_path / "half.mp4"
    loop_video(numbered_video, out, duration=2.0, fps=12.5, size=(32, 24))
    info = probe(out)
    assert (info.width, info.height, info.fps) == (32, 24, 12.5)
    # 20 source frames at 12.5 fps, then back: 38, 36, ..., 0, then forward again.
    assert numbers(out) == [*range(0, 40, 2), *range(38, -1, -2), *range(0, 10, 2)][:25]
