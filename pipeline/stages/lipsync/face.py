"""Face detection, tracking and alignment for the CPU preview backend, with what OpenCV ships.

Conventions: frames are H×W×3 uint8 RGB; boxes are (x, y, w, h) float in frame pixels (x
right, y down); affines are 2×3 float64 frame → crop, as in `pipeline.restore`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...restore import latentsync_template, similarity_from_points

# Where LatentSync's three template landmarks (eyebrow centres, nose centre) sit inside a
# frontal Haar face box, as fractions of the box; fitted so the aligned crop frames the face
# as LatentSync's own crops do (forehead to below the chin).
_LANDMARKS_IN_BOX = np.array([[0.17, 0.27], [0.83, 0.27], [0.50, 0.60]])

# Mouth centre and half-size in LatentSync's crop, as fractions of the crop's width/height.
MOUTH_CENTRE = (0.50, 0.565)
MOUTH_HALF_SIZE = (0.15, 0.05)

_DETECT_WIDTH = 480


def landmarks_from_box(box: np.ndarray) -> np.ndarray:
    """The three template landmarks (3×2 float64, x, y) implied by a face box (x, y, w, h)."""
    x, y, w, h = box
    return np.array([x, y]) + _LANDMARKS_IN_BOX * np.array([w, h])


def align(box: np.ndarray, version: str) -> tuple[np.ndarray, tuple[int, int]]:
    """Frame → crop affine (2×3) and crop size (w, h) of LatentSync `version` for a face box."""
    template, size = latentsync_template(version)
    return similarity_from_points(landmarks_from_box(box), template), size


def detect_faces(frame: np.ndarray, cascade: cv2.CascadeClassifier,
                 near: np.ndarray | None = None) -> np.ndarray:
    """Frontal faces in an RGB frame, largest first: N×4 float64 boxes (x, y, w, h).

    Detection runs on a grey copy scaled to 480 px wide: Haar cascades are scale-invariant
    by construction and this keeps a full search of a 1080p frame to tens of milliseconds.
    Given `near` (a box from the previous frames), only a window of twice its size around it
    is searched, at sizes within ±40 % of it: a few milliseconds, for tracking.
    """
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = 0, 0, width, height
    if near is not None:
        # The window snaps to a 32-pixel grid: a still face gets the very same window, hence
        # the very same detection, every frame (a shifted window shifts the cascade's grid).
        x, y, w, h = near
        x0, y0 = max(0, int(x - w) // 32 * 32), max(0, int(y - h) // 32 * 32)
        x1, y1 = min(width, -(-int(x + 2 * w) // 32) * 32), min(height, -(-int(y + 2 * h) // 32) * 32)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return np.zeros((0, 4))
    window = frame[y0:y1, x0:x1]
    scale = min(1.0, _DETECT_WIDTH / width)
    grey = cv2.cvtColor(window, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(grey)
    sizes: dict = {"minSize": (24, 24)}
    if near is not None:
        side = near[2] * scale
        sizes = {"minSize": (int(side * 0.6),) * 2, "maxSize": (int(side * 1.4) + 1,) * 2}
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, **sizes)
    if len(found) == 0:
        return np.zeros((0, 4))
    boxes = np.asarray(found, dtype=np.float64) / scale + np.array([x0, y0, 0, 0])
    return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])]


def load_cascade() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV's face cascade could not be loaded from {path}")
    return cascade


@dataclass
class TrackedFace:
    box: np.ndarray | None  # smoothed (x, y, w, h), or None when no face is held
    detected: bool  # a detection supported this frame


class FaceTracker:
    """Follows one face across frames: detect every frame, keep the box nearest the last one,
    smooth it over time, and hold it through short detection gaps.

    Smoothing is an exponential moving average whose weight adapts to the motion (a simple
    one-euro filter) with a dead band: a still head stays still, a moving head is followed
    without lag. While a face is held, detection runs every `detect_every` frames (a head
    moves little in 80 ms) and the smoothed box carries the frames between.
    """

    def __init__(self, hold_frames: int = 12, min_alpha: float = 0.15, speed_scale: float = 0.05,
                 detect_every: int = 2, deadband: float = 0.04):
        self.cascade = load_cascade()
        self.hold_frames = hold_frames
        self.detect_every = detect_every
        self.deadband = deadband
        self.min_alpha = min_alpha
        self.speed_scale = speed_scale
        self._frame = -1
        self._box: np.ndarray | None = None
        self._missing = 0

    def update(self, frame: np.ndarray) -> TrackedFace:
        self._frame += 1
        if self._box is not None and self._missing == 0 and self._frame % self.detect_every:
            return TrackedFace(self._box.copy(), detected=True)

        boxes = detect_faces(frame, self.cascade, near=self._box)
        if len(boxes) == 0 and self._box is not None:
            boxes = detect_faces(frame, self.cascade)  # lost it nearby: search the whole frame
        if len(boxes) == 0:
            self._missing += 1
            if self._box is not None and self._missing > self.hold_frames:
                self._box = None
            return TrackedFace(None if self._box is None else self._box.copy(), detected=False)
        self._missing = 0
        if self._box is None:
            self._box = self._settle(frame, boxes[0])
        else:
            centres = boxes[:, :2] + boxes[:, 2:] / 2
            last = self._box[:2] + self._box[2:] / 2
            nearest = boxes[np.argmin(np.linalg.norm(centres - last, axis=1))]
            motion = np.abs(nearest - self._box).max() / max(self._box[2], 1.0)
            # Haar boxes wobble by a few per cent on a still face; moves below that are noise.
            if motion > self.deadband:
                alpha = min(1.0, self.min_alpha + motion / self.speed_scale * self.min_alpha)
                self._box = (1 - alpha) * self._box + alpha * nearest
        return TrackedFace(self._box.copy(), detected=True)

    def _settle(self, frame: np.ndarray, box: np.ndarray, rounds: int = 4) -> np.ndarray:
        """Start from the box the windowed search (used from now on) converges to on this
        frame, so a still face does not jump when tracking takes over."""
        for _ in range(rounds):
            windowed = detect_faces(frame, self.cascade, near=box)
            if len(windowed) == 0 or np.array_equal(windowed[0], box):
                break
            box = windowed[0]
        return box
