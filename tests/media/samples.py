"""Small real media made on the fly, and ways to read them back."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from pipeline.media import FrameWriter

W, H, FPS = 64, 48, 25
BITS = 8  # frame numbers are drawn as 8 blocks (4 × 2), each bright (1) or dark (0)
ON, OFF = (240, 200, 40), (20, 30, 110)


def numbered_frame(k: int, width: int = W, height: int = H) -> np.ndarray:
    """A frame showing k in binary: H×W×3 uint8 RGB."""
    frame = np.empty((height, width, 3), np.uint8)
    bw, bh = width // 4, height // 2
    for bit in range(BITS):
        row, col = divmod(bit, 4)
        frame[row * bh:(row + 1) * bh, col * bw:(col + 1) * bw] = ON if k >> bit & 1 else OFF
    return frame


def frame_number(frame: np.ndarray) -> int:
    """Read back the number numbered_frame drew (block centres only, as edges blur)."""
    height, width = frame.shape[:2]
    bw, bh = width // 4, height // 2
    k = 0
    for bit in range(BITS):
        row, col = divmod(bit, 4)
        centre = frame[row * bh + bh // 4:(row + 1) * bh - bh // 4,
                       col * bw + bw // 4:(col + 1) * bw - bw // 4]
        k |= int(centre.mean() > 128) << bit
    return k


def write_numbered_video(path: Path, count: int, fps: float = FPS) -> Path:
    with FrameWriter(path, W, H, fps) as writer:
        for k in range(count):
            writer.write(numbered_frame(k))
    return path


def write_wav(path: Path, x: np.ndarray, rate: int) -> Path:
    """Float samples, shape (n,) or (n, channels), as 16-bit WAV."""
    frames = x if x.ndim == 2 else x[:, None]
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(frames * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(samples float (n, channels), rate)."""
    with wave.open(os.fspath(path), "rb") as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return data.reshape(-1, w.getnchannels()) / 32768.0, w.getframerate()


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)


def ffmpeg_children() -> list[int]:
    """Pids of this process's ffmpeg children still in the process table (zombies too)."""
    me, pids = os.getpid(), []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            name = (entry / "comm").read_text()
        except (OSError, ValueError, IndexError):
            continue  # not a process, or gone meanwhile
        if ppid == me and name.startswith("ffmpeg"):
            pids.append(int(entry.name))
    return pids
