"""The frames a backend aligns, as the lipsync stage hands them on (its `original` output).

Every backend makes them at the episode's size: a still source is decoded once (fitted as the
encoders fit it) and kept as one lossless PNG that every frame shows; a video source is
resampled and looped to the voice's length as a near-lossless intermediate. The restore
stage pastes into these very frames, so a direct paste and a paste from the store agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# Near-lossless and quick: the restore stage encodes the published video from these frames.
ALIGNED_CRF = 10
ALIGNED_PRESET = "veryfast"


def aligned_frames(source: Path, kind: str, work: Path, *, duration: float, fps: float,
                   size: tuple[int, int]) -> tuple[Path, Iterator[np.ndarray]]:
    """Make the `original` output in `work` and return it with its frames (H×W×3 uint8 RGB),
    exactly frame_count(duration, fps) of them. `kind` is "image" or "video"."""
    import cv2

    from ...media import loop_video, read_frames
    from ...media.filters import frame_count

    total = frame_count(duration, fps)
    if kind == "video":
        original = work / "original.mp4"
        loop_video(source, original, duration=duration, fps=fps, size=size, crf=ALIGNED_CRF,
                   preset=ALIGNED_PRESET)
        return original, read_frames(original)
    still = next(read_frames(source, size=size))
    original = work / "original.png"
    if not cv2.imwrite(str(original), cv2.cvtColor(still, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {original}")
    return original, itertools.repeat(still, total)
