"""Decoding to numpy through raw pipes: video frames as RGB, audio as float samples."""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

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


class ReadAhead:
    """Iterate `items` in a thread of its own, up to `depth` items ahead, so that a decode
    (a generator of read_frames) overlaps the caller's work on the frame before.

    An exception of the iteration is raised to the caller at that item. close() (also at the
    end of a with-block) stops the thread and closes `items`, which kills its decoder.
    """

    def __init__(self, items: Iterable[Any], depth: int = 2) -> None:
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="read-ahead")
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put((True, item)):
                    return
            self._put((False, None))
        except BaseException as exc:  # handed to the caller, raised there
            self._put((False, exc))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def _put(self, entry: tuple[bool, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> "ReadAhead":
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        ok, item = self._queue.get()
        if ok:
            return item
        self._finished = True
        if item is not None:
            raise item
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._finished = True
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


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
