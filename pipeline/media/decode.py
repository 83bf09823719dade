"""Decoding to numpy through raw pipes: video frames as RGB, audio as float samples."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import IO

import numpy as np

from .filters import fit
from .probe import MediaInfo, probe
from .process import Ffmpeg, MediaError

# Snaps a requested time onto the frame shown then, and tolerates float rounding of it.
_SEEK_EPSILON = 1e-4


def read_frames(path: str | os.PathLike, *, size: tuple[int, int] | None = None
                ) -> Iterator[np.ndarray]:
    """Yield the frames of the first video stream, one at a time: H×W×3 uint8, RGB.

    size=(w, h) covers like the encoders (scale to fill, centre-crop); None keeps the
    displayed size. Closing the generator early kills the decoder.
    """
    width, height = size or _video_info(path)[1]
    vf = ["-vf", fit(size)] if size else []
    with Ffmpeg(["-i", path, "-map", "0:v:0", *vf, "-fps_mode", "passthrough",
                 "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], read=True) as child:
        yield from _frames(child.stdout, width, height)


def frame_at(path: str | os.PathLike, seconds: float) -> np.ndarray:
    """The frame on screen at `seconds`: H×W×3 uint8 RGB. At a constant frame rate frame k
    covers [k/fps, (k+1)/fps).

    Seeks accurately (decoding from the keyframe before). Raises MediaError past the end.
    """
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    info, (width, height) = _video_info(path)
    with Ffmpeg(["-ss", f"{_frame_start(seconds, info.fps):.6f}", "-i", path, "-map", "0:v:0",
                 "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                read=True) as child:
        frames = list(_frames(child.stdout, width, height))
    if not frames:
        raise MediaError(f"no frame at {seconds:.3f} s in {path} ({info.duration:.3f} s long)")
    return frames[0]


def pcm_chunks(path: str | os.PathLike, *, rate: int, channels: int = 1,
               chunk_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """Yield the first audio stream resampled to `rate`, in chunks of about chunk_seconds:
    float32 arrays of shape (samples, channels), values in [-1, 1]."""
    frame_bytes = 4 * channels
    chunk_bytes = max(1, round(rate * chunk_seconds)) * frame_bytes
    with Ffmpeg(["-i", path, "-map", "0:a:0", "-ac", str(channels), "-ar", str(rate),
                 "-f", "f32le", "-"], read=True) as child:
        while block := _read_exact(child.stdout, chunk_bytes):
            usable = len(block) // frame_bytes * frame_bytes
            yield np.frombuffer(block[:usable], np.float32).reshape(-1, channels)


def _frame_start(seconds: float, fps: float | None) -> float:
    # ffmpeg's accurate seek returns the first frame starting at or after the time asked;
    # asking for the start of the frame on screen then returns that frame.
    if not fps:
        return seconds
    return max(0.0, math.floor(seconds * fps + 1e-6) / fps - _SEEK_EPSILON)


def _video_info(path) -> tuple[MediaInfo, tuple[int, int]]:
    """probe(path) and the displayed (width, height), which a video stream must have."""
    info = probe(path)
    if info.width is None or info.height is None:
        raise MediaError(f"no video stream in {path}")
    return info, (info.width, info.height)


def _frames(stream: IO[bytes], width: int, height: int) -> Iterator[np.ndarray]:
    frame_bytes = width * height * 3
    while len(data := _read_exact(stream, frame_bytes)) == frame_bytes:
        yield np.frombuffer(data, np.uint8).reshape(height, width, 3)


def _read_exact(stream: IO[bytes], n: int) -> bytearray:
    """Up to n bytes, fewer only at the end of the stream; a bytearray, so arrays viewing
    it are writable."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n and (count := stream.readinto(view[got:])):
        got += count
    view.release()
    del buf[got:]
    return buf
