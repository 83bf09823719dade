"""The lane's synthetic talking head: frames the fake face detector (cpu_shims) can find.

A flat skin-coloured ellipse (``SKIN_RGB``, the colour the fake detector looks for) with dark
eyes, a nose and a mouth, on a checkered background, drifting by a pixel per frame so the
alignment and its smoothing do real work. Eyes and background are sharp features: a paste-back
that replaces more than the generated region changes them visibly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.media import FrameWriter

W, H = 256, 256
SKIN_RGB = (200, 160, 130)  # = cpu_shims/sitecustomize.py SKIN_RGB
FACE_HALF_WH = (50, 66)


def face_frame(k: int, face: bool = True) -> np.ndarray:
    """Frame `k`: ``H×W×3`` uint8 RGB."""
    frame = np.empty((H, W, 3), np.uint8)
    frame[:] = (60, 80, 110)
    yy, xx = np.mgrid[0:H, 0:W]
    frame[(yy % 16 < 8) ^ (xx % 16 < 8)] = (90, 110, 140)
    if not face:
        return frame
    cx, cy = 128 + (k % 4) - 1.5, 124 + (k % 3) - 1
    a, b = FACE_HALF_WH
    frame[((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1.0] = SKIN_RGB

    def blob(x: float, y: float, rx: float, ry: float, colour) -> None:
        frame[((xx - x) / rx) ** 2 + ((yy - y) / ry) ** 2 <= 1.0] = colour

    blob(cx - 20, cy - 22, 7, 4, (30, 30, 40))       # eyes
    blob(cx + 20, cy - 22, 7, 4, (30, 30, 40))
    blob(cx, cy + 4, 4, 7, (170, 120, 100))          # nose
    blob(cx, cy + 32, 16, 5, (140, 40, 50))          # mouth
    return frame


def write_clip(path: Path, frames: int, faceless: tuple[int, ...] = ()) -> Path:
    """A lossless-quality 25 fps clip of `frames` frames; `faceless` frames show no face."""
    with FrameWriter(path, W, H, 25, crf=0) as writer:
        for k in range(frames):
            writer.write(face_frame(k, face=k not in faceless))
    return path
