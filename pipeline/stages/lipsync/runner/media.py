"""ffmpeg children of the runner: one decoder for the input clip, one encoder for the result.

alpha's media package is not importable in LatentSync's environment, so alpha passes the
ffmpeg binary and the exact output options (codec, crf, colour tagging, frame-rate filter) in
the args file; this module only spawns them. Frames are H×W×3 uint8 RGB.
"""

from __future__ import annotations

import collections
import os
import subprocess
import threading
from typing import Deque, List, Optional, Sequence

import numpy as np


class _Child:
    """An ffmpeg process whose stderr is drained into a bounded tail."""

    def __init__(self, cmd: Sequence[str], *, feed: bool = False, read: bool = False):
        self.cmd = [str(c) for c in cmd]
        self._tail: Deque[str] = collections.deque(maxlen=20)
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
            stdout=subprocess.PIPE if read else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._tail.append(line)

    def error(self, what: str) -> RuntimeError:
        tail = "\n".join(self._tail) or "(no stderr output)"
        return RuntimeError(f"ffmpeg failed ({what}): {' '.join(self.cmd)}\n{tail}")

    def wait(self) -> int:
        code = self.proc.wait()
        self._drain.join()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        self.wait()


def read_video(ffmpeg: str, path: str, width: int, height: int) -> np.ndarray:
    """Every frame of `path` as one (n, H, W, 3) uint8 RGB array (LatentSync holds them all)."""
    child = _Child([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path,
                    "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo",
                    "-pix_fmt", "rgb24", "-"], read=True)
    frames: List[np.ndarray] = []
    size = width * height * 3
    try:
        assert child.proc.stdout is not None
        while True:
            data = child.proc.stdout.read(size)
            if len(data) < size:
                break
            frames.append(np.frombuffer(data, np.uint8).reshape(height, width, 3).copy())
    except BaseException:
        child.kill()
        raise
    child.proc.stdout.close()
    if child.wait() != 0:
        raise child.error(f"exit status {child.proc.returncode}")
    if not frames:
        raise RuntimeError(f"no video frames decoded from {path}")
    return np.stack(frames)


class FrameSink:
    """The one encoder of the run: raw RGB frames in, the final silent H.264 file out.

    Exactly `frames` frames are encoded: extra frames are dropped, a short clip is padded
    with its last frame (LatentSync's frame count follows its audio features and may differ
    from the voice's by a frame or two). The encoder starts at the first frame, once the
    size is known. Any failure kills it and removes the partial file.
    """

    def __init__(self, ffmpeg: str, out: str, frames: int, fps_in: str, output_args: Sequence[str]):
        self.ffmpeg = ffmpeg
        self.out = out
        self.target = int(frames)
        self.fps_in = fps_in
        self.output_args = [str(a) for a in output_args]
        self.written = 0
        self.dropped = 0
        self.padded = 0
        self.finished = False
        self._child: Optional[_Child] = None
        self._last: Optional[np.ndarray] = None
        self._shape = None

    @property
    def full(self) -> bool:
        return self.written >= self.target

    def write(self, frame: np.ndarray) -> None:
        if self.full:
            self.dropped += 1
            return
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if self._child is None:
            self._start(frame.shape)
        elif frame.shape != self._shape:
            raise ValueError(f"frame {self.written} is {frame.shape}, the clip's frames are {self._shape}")
        self._send(frame)
        self._last = frame

    def finish(self) -> None:
        """Pad to the frame count, close the encoder and check it succeeded."""
        if self._child is None or self._last is None:
            raise RuntimeError("no frame reached the encoder")
        while not self.full:
            self._send(self._last)
            self.padded += 1
        child = self._child
        try:
            assert child.proc.stdin is not None
            child.proc.stdin.close()
        except BrokenPipeError:
            pass
        if child.wait() != 0:
            self.abort()
            raise child.error(f"exit status {child.proc.returncode}")
        self.finished = True

    def abort(self) -> None:
        """Kill the encoder (if running) and remove the partial output."""
        if self._child is not None:
            self._child.kill()
        if not self.finished:
            try:
                os.unlink(self.out)
            except FileNotFoundError:
                pass

    def _start(self, shape) -> None:
        height, width = shape[:2]
        self._shape = shape
        self._child = _Child([self.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
                              "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                              "-framerate", self.fps_in, "-i", "-", *self.output_args, "-y", self.out],
                             feed=True)

    def _send(self, frame: np.ndarray) -> None:
        assert self._child is not None and self._child.proc.stdin is not None
        try:
            self._child.proc.stdin.write(frame.data)
        except BrokenPipeError:
            self._child.kill()
            raise self._child.error("the encoder stopped reading frames") from None
        self.written += 1
