"""Silent H.264 encodes: a still, a looped clip, or frames written one at a time."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

import numpy as np

from .filters import LOSSLESS_RGB_ARGS, TO_YUV420, check_even, fit, frame_count, frame_rate, rate, x264_args
from .probe import probe
from .process import Ffmpeg, MediaError, Progress, run

Size = tuple[int, int]
"""(width, height) in pixels."""


def still_to_video(
    image: str | os.PathLike,
    out: str | os.PathLike,
    *,
    duration: float,
    fps: float = 25,
    size: Size | None = None,
    crf: int = 18,
    preset: str = "medium",
    progress: Progress | None = None,
) -> None:
    """Encode one image as silent H.264 yuv420p at `fps`, round(duration × fps) frames.

    size=(w, h) covers the frame (scale to fill, centre-crop); None keeps the image size,
    trimmed to even sides.
    """
    out = Path(out)
    total = frame_count(duration, fps)
    # The image is decoded once and its frame cloned: `-loop 1` would retry a corrupt
    # image forever instead of failing.
    vf = f"tpad=stop=-1:stop_mode=clone,{fit(size)},{TO_YUV420}"
    done = run(["-framerate", rate(fps), "-i", image, "-map", "0:v:0", "-vf", vf,
                "-frames:v", str(total), *x264_args(crf, preset), "-y", out],
               out=out, total=total, progress=progress)
    if done != total:
        out.unlink(missing_ok=True)
        raise MediaError(f"encoded {done} of {total} frames from {image}")


def loop_video(
    video: str | os.PathLike,
    out: str | os.PathLike,
    *,
    duration: float,
    fps: float = 25,
    size: Size | None = None,
    crf: int = 18,
    preset: str = "medium",
    progress: Progress | None = None,
) -> None:
    """Re-encode the first video stream of `video` as silent H.264 yuv420p at `fps`, exactly
    round(duration × fps) frames long.

    The source is first resampled to `fps` (as LatentSync does). A longer source is cut; a
    shorter one is extended like LatentSync's loop: forward, backward, forward..., each pass
    including its turning frame (0..n-1, n-1..0, 0..n-1, ...). size as in still_to_video.
    """
    out = Path(out)
    total = frame_count(duration, fps)
    # The header's duration may be the audio's, so a short cut falls back to looping.
    long_enough = probe(video).duration >= total / frame_rate(fps)
    if long_enough and _cut(video, out, total, fps, size, crf, preset, progress) == total:
        return
    _ping_pong(video, out, total, fps, size, crf, preset, progress)


def ping_pong_index(k: int, n: int) -> int:
    """The source frame shown as output frame k when n source frames ping-pong."""
    cycle, pos = divmod(k, n)
    return pos if cycle % 2 == 0 else n - 1 - pos


def _cut(video, out: Path, total: int, fps: float, size: Size | None, crf: int, preset: str,
         progress: Progress | None) -> int:
    """Encode the first `total` frames; returns how many there were."""
    vf = f"fps={rate(fps)},{fit(size)},{TO_YUV420}"
    return run(["-i", video, "-map", "0:v:0", "-vf", vf, "-frames:v", str(total),
                *x264_args(crf, preset), "-y", out], out=out, total=total, progress=progress)


def _ping_pong(video, out: Path, total: int, fps: float, size: Size | None, crf: int, preset: str,
               progress: Progress | None) -> None:
    """Spool up to `total` source frames (raw yuv420p, output size) to a scratch file beside
    `out`, then feed the encoder in ping-pong order by seeking in it: one frame in memory,
    and no colour conversion between decode and encode."""
    vf = f"fps={rate(fps)},{fit(size)},{TO_YUV420}"
    with tempfile.TemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".yuv") as spool:
        with Ffmpeg(["-i", video, "-map", "0:v:0", "-vf", vf, "-frames:v", str(total),
                     "-f", "rawvideo", "-"], read=True) as child:
            _copy(child.stdout, spool)
        frame_size = size or _even_size(video)
        frame_bytes = frame_size[0] * frame_size[1] * 3 // 2
        n = spool.tell() // frame_bytes
        if n == 0:
            raise MediaError(f"no video frames decoded from {video}")
        with _RawEncoder(out, "yuv420p", frame_size, fps, crf, preset, vf="null") as encoder:
            for k in range(total):
                spool.seek(ping_pong_index(k, n) * frame_bytes)
                encoder.write(spool.read(frame_bytes))
                if progress is not None:
                    progress(k + 1, total)


def _even_size(video) -> Size:
    info = probe(video)
    if info.width is None or info.height is None:
        raise MediaError(f"no video stream in {video}")
    return info.width // 2 * 2, info.height // 2 * 2


def _copy(src: IO[bytes], dst: IO[bytes], chunk: int = 1 << 20) -> None:
    while block := src.read(chunk):
        dst.write(block)


class _RawEncoder:
    """An ffmpeg child encoding raw frames from its stdin to H.264 at `out`.

    Leaving the with-block normally finishes the file; any exception (or a failed encode)
    kills the child and removes `out`.
    """

    def __init__(self, out: Path, pix_fmt: str, size: Size, fps: float, crf: int, preset: str,
                 vf: str, *, output_args: list[str] | None = None) -> None:
        if output_args is None:
            check_even(*size)
            output_args = ["-vf", vf, *x264_args(crf, preset)]
        self.out = out
        self._child = Ffmpeg(
            ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{size[0]}x{size[1]}",
             "-framerate", rate(fps), "-i", "-", *output_args, "-y", out],
            feed=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self._child.finish()
        except BaseException:
            self.out.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        """Kill the encoder and remove the partial file."""
        self._child.kill()
        self.out.unlink(missing_ok=True)

    def write(self, data) -> None:
        try:
            self._child.stdin.write(data)
        except BrokenPipeError:
            self._child.kill()
            raise self._child.error("encoder stopped reading frames") from None


class FrameWriter(_RawEncoder):
    """Encode RGB frames one at a time to silent H.264 yuv420p at `out`.

    A context manager: leaving it normally finishes the file; leaving it by any exception,
    or without having written a frame, kills ffmpeg and removes `out`. `progress` is called
    after every frame with `total` (frames expected; 0 if unknown). Frames come at `fps`;
    with `fps_out` the file is resampled to that rate (frames dropped or repeated, as
    ffmpeg's fps filter does), keeping the duration.
    """

    def __init__(self, out: str | os.PathLike, width: int, height: int, fps: float,
                 crf: int = 18, progress: Progress | None = None, *, total: int = 0,
                 preset: str = "medium", fps_out: float | None = None) -> None:
        self.width, self.height = width, height
        self.frames = 0
        self._progress = progress
        self._total = total
        resample = fps_out is not None and frame_rate(fps_out) != frame_rate(fps)
        vf = f"fps={rate(fps_out)},{TO_YUV420}" if resample else TO_YUV420
        super().__init__(Path(out), "rgb24", (width, height), fps, crf, preset, vf=vf)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self.frames == 0:
            self.abort()
            raise MediaError(f"no frames written to {self.out}")
        super().__exit__(exc_type, exc, tb)

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: H×W×3 uint8, RGB order, at the writer's size."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a {self.height}x{self.width}x3 uint8 RGB frame, "
                             f"got {frame.shape} {frame.dtype}")
        super().write(np.ascontiguousarray(frame).data)
        self.frames += 1
        if self._progress is not None:
            self._progress(self.frames, self._total)


class LosslessWriter(FrameWriter):
    """Encode RGB frames one at a time to lossless RGB video (`LOSSLESS_RGB_ARGS`): decoding
    `out` with read_frames returns exactly the frames written. Any size (odd sides too);
    otherwise as FrameWriter. `out` should end in `LOSSLESS_RGB_SUFFIX`."""

    def __init__(self, out: str | os.PathLike, width: int, height: int, fps: float,
                 progress: Progress | None = None, *, total: int = 0) -> None:
        self.width, self.height = width, height
        self.frames = 0
        self._progress = progress
        self._total = total
        _RawEncoder.__init__(self, Path(out), "rgb24", (width, height), fps, 0, "", vf="",
                             output_args=LOSSLESS_RGB_ARGS)
