"""The alignment track: what a lip-sync backend hands the restore stage besides its crops.

A track describes one clip of N aligned frames, frame for frame with the backend's crops
video (black crops where a frame has no face). It is written by the backends (the preview
stand-in in alpha's process, the LatentSync runner in LatentSync's own Python 3.10 / numpy
1.26 process) and read by the restore and proof stages, so it lives in the island: numpy and
the standard library only.

File format: ``track.npz`` (uncompressed arrays, written through a file object so numpy
appends nothing to the name), with

* ``affines``: N×2×3 float64, frame → crop (conventions of :mod:`pipeline.restore.geometry`),
  zeros where ``found`` is False;
* ``found``: N bool, the frame has a crop to paste; ``detected``: N bool, the face was
  detected in that very frame (``found & ~detected``: a position held from earlier frames);
* ``shot``: N int32, the shot each frame belongs to (a Restorer keeps temporal state within
  a shot and starts afresh at the next); absent: one shot;
* ``fps``: float64 scalar, the rate of the aligned frames (LatentSync: 25);
* ``crop_size``: (w, h) int64, the crop box the affines map to; the crops video may hold the
  crops at another size (the model's resolution) and is resized to this one for paste-back;
* ``inner_mask``: h×w float32 in [0, 1], 1 where the model generated pixels, in crop space
  at ``crop_size``; absent when the backend generated nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class Track:
    affines: np.ndarray
    found: np.ndarray
    detected: np.ndarray
    shot: np.ndarray
    fps: float
    crop_size: Tuple[int, int]
    inner_mask: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        n = len(self.found)
        if self.affines.shape != (n, 2, 3) or len(self.detected) != n or len(self.shot) != n:
            raise ValueError(f"track arrays disagree: affines {self.affines.shape}, found {n}, "
                             f"detected {len(self.detected)}, shot {len(self.shot)}")
        if self.fps <= 0:
            raise ValueError(f"track fps must be positive, got {self.fps}")
        if self.found.any():
            w, h = self.crop_size
            if w <= 0 or h <= 0:
                raise ValueError(f"track has faces but crop_size is {self.crop_size}")
            if self.inner_mask is not None and self.inner_mask.shape != (h, w):
                raise ValueError(f"inner_mask is {self.inner_mask.shape} (h×w) but crop_size is {w}×{h} (w×h)")

    @property
    def frames(self) -> int:
        return len(self.found)

    @classmethod
    def without_faces(cls, frames: int, fps: float) -> "Track":
        """The track of a clip in which nothing was generated (the `none` backend)."""
        return cls(affines=np.zeros((frames, 2, 3)), found=np.zeros(frames, bool),
                   detected=np.zeros(frames, bool), shot=np.zeros(frames, np.int32), fps=float(fps),
                   crop_size=(0, 0))


def write_track(path: str, track: Track) -> None:
    """Write ``track`` to ``path`` atomically (a temporary name beside it, then a rename)."""
    arrays = {"affines": np.asarray(track.affines, np.float64), "found": np.asarray(track.found, bool),
              "detected": np.asarray(track.detected, bool), "shot": np.asarray(track.shot, np.int32),
              "fps": np.float64(track.fps), "crop_size": np.asarray(track.crop_size, np.int64)}
    if track.inner_mask is not None:
        arrays["inner_mask"] = np.asarray(track.inner_mask, np.float32)
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_track(path: str) -> Track:
    """The track at ``path`` (ValueError naming the file when it is not one)."""
    try:
        with np.load(path) as data:
            fields = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable track: {exc}") from exc
    missing = [name for name in ("affines", "found", "detected", "fps", "crop_size") if name not in fields]
    if missing:
        raise ValueError(f"{path} is not a track: it lacks {', '.join(missing)}")
    w, h = (int(v) for v in fields["crop_size"])
    found = fields["found"].astype(bool)
    # A track without shots is one shot.
    shot = fields["shot"].astype(np.int32) if "shot" in fields else np.zeros(len(found), np.int32)
    return Track(affines=fields["affines"].astype(np.float64), found=found,
                 detected=fields["detected"].astype(bool), shot=shot,
                 fps=float(fields["fps"]), crop_size=(w, h), inner_mask=fields.get("inner_mask"))
