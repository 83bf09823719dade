"""The preview backend: a CPU stand-in for LatentSync, so every stage runs without a GPU.

It does what the model's pipeline does around the model: track the face, align it with
LatentSync's 3-point template and generate a mouth crop (here: the mouth opened by the voice's
loudness, with the colour drift and softness the real VAE output has, composited through the
model's U-shaped mask with a hard edge). The restore stage pastes the crops back. Frames
stream: memory stays flat however long the episode is.

Outputs: ``original``, ``track`` and (when a face was tracked) ``crops``, as the lipsync
stage's docstring sets out.

Crops: h×w×3 uint8 RGB in LatentSync's crop space (1.6: 560×420). Loudness: float in [0, 1].
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...media import LosslessWriter, audio_envelope, probe
from ...media.filters import LOSSLESS_RGB_SUFFIX, frame_count
from ...restore import Track, synthetic_inner_mask, write_track
from ..base import StageResult, StageRun
from .face import MOUTH_CENTRE, MOUTH_HALF_SIZE, FaceTracker, align
from .frames import aligned_frames


def smooth_loudness(envelope: np.ndarray, attack: float = 0.6, release: float = 0.25) -> np.ndarray:
    """Mouth openness per frame from loudness (N,) float32: opens fast, closes slower."""
    out = np.empty_like(envelope)
    level = 0.0
    for index, value in enumerate(envelope):
        weight = attack if value > level else release
        level += weight * (value - level)
        out[index] = level
    return np.clip(out * 1.4, 0.0, 1.0)


class MouthAnimator:
    """Drops the jaw and draws the mouth opening of LatentSync-aligned crops of one size.

    Everything that depends on the crop size alone (sampling grids, weights) is computed once.
    """

    def __init__(self, crop_hw: tuple[int, int]):
        h, w = crop_hw
        self.h, self.w = h, w
        self.cx, self.cy = MOUTH_CENTRE[0] * w, MOUTH_CENTRE[1] * h
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        across = np.exp(-(((xs - self.cx) / (0.22 * w)) ** 2))
        below = np.clip((ys - self.cy) / (0.03 * h), 0.0, 1.0) * np.clip((0.95 * h - ys) / (0.3 * h), 0.0, 1.0)
        self.xs, self.ys = xs, ys
        self.jaw_weight = (across * below).astype(np.float32)

    def __call__(self, crop: np.ndarray, openness: float) -> np.ndarray:
        """Args: crop h×w×3 uint8 RGB; openness 0 (closed) to 1 (wide open).
        Returns a new h×w×3 uint8 RGB crop."""
        if openness <= 0.01:
            return crop.copy()
        drop = openness * 0.05 * self.h
        jaw = cv2.remap(crop, self.xs, self.ys - drop * self.jaw_weight, interpolation=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        opening = np.zeros((self.h, self.w), np.float32)
        axes = (int(MOUTH_HALF_SIZE[0] * self.w * (0.75 + 0.25 * openness)), max(1, int(0.55 * drop + 2)))
        cv2.ellipse(opening, (int(self.cx), int(self.cy + 0.45 * drop)), axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        opening = cv2.GaussianBlur(opening, (0, 0), 1.5)[..., None]
        return (jaw * (1 - opening) + _MOUTH_COLOUR * opening).astype(np.uint8)


_MOUTH_COLOUR = np.array([70, 28, 32], np.float32)


def drift_colour(crop: np.ndarray, drift: float, seconds: float) -> np.ndarray:
    """The generated crop's low-frequency colour drift and VAE softness, as the model shows.

    A per-channel gain tilted across the crop and slowly varying in time, then a slight blur.

    Args:
        crop: h×w×3 uint8 RGB.
        drift: strength, 0 for none (0.08 is typical of LatentSync's mismatch).
        seconds: time in the shot, so the drift wanders as the real one does.

    Returns:
        New h×w×3 uint8 RGB crop.
    """
    h, w = crop.shape[:2]
    wander = 0.8 + 0.2 * np.sin(2 * np.pi * seconds / 3.7)
    tilt = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :, None]
    gain = 1.0 + drift * wander * (np.array([0.6, -0.25, 0.35], np.float32) + tilt * np.array([0.5, 0.2, -0.3], np.float32))
    shifted = np.clip(crop.astype(np.float32) * gain, 0, 255)
    return cv2.GaussianBlur(shifted, (0, 0), 0.9).astype(np.uint8)


def generate_crop(original: np.ndarray, inside: np.ndarray, animate: MouthAnimator, openness: float,
                  drift: float, seconds: float) -> np.ndarray:
    """What the model would hand back: generated pixels inside its mask (`inside`, h×w bool),
    a hard edge, the original outside (LatentSync's `paste_surrounding_pixels_back`)."""
    generated = drift_colour(animate(original, openness), drift, seconds)
    face = original.copy()
    face[inside] = generated[inside]
    return face


@dataclass(frozen=True)
class Generated:
    """One aligned frame: the frame (H×W×3 uint8 RGB), and where a face is tracked the
    generated crop (h×w×3 uint8 RGB) with its frame → crop affine (2×3 float64)."""

    frame: np.ndarray
    crop: np.ndarray | None
    affine: np.ndarray | None
    detected: bool


def generate(job: StageRun) -> tuple[Path, int, Iterator[Generated]]:
    """The preview's model work for `job`: its `original` output (made in `job.work`), the
    number of frames, and the frames with their generated crops, streamed."""
    params = job.params
    video, lipsync = params["video"], params["lipsync"]
    fps = video["fps"]
    voice = job.inputs["audio.voice"]
    duration = probe(voice).duration
    total = frame_count(duration, fps)
    original, frames_in = aligned_frames(job.upstream["source.media"], params["source"]["kind"], job.work,
                                         duration=duration, fps=fps, size=(video["width"], video["height"]))
    openness = smooth_loudness(_fit(audio_envelope(voice, fps), total))

    def frames() -> Iterator[Generated]:
        tracker = FaceTracker()
        animate = inside = None
        for index, frame in enumerate(itertools.islice(frames_in, total)):
            tracked = tracker.update(frame)
            if tracked.box is None:
                yield Generated(frame, None, None, tracked.detected)
                continue
            affine, crop_size = align(tracked.box, lipsync["checkpoint"])
            if animate is None:
                inside = synthetic_inner_mask((crop_size[1], crop_size[0])) >= 0.5
                animate = MouthAnimator(inside.shape)
            crop = cv2.warpAffine(frame, affine, crop_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            face = generate_crop(crop, inside, animate, float(openness[index]), lipsync["drift"], index / fps)
            yield Generated(frame, face, np.asarray(affine, np.float64), tracked.detected)

    return original, total, frames()


def run_preview(job: StageRun) -> StageResult:
    started = time.monotonic()
    fps = job.params["video"]["fps"]
    original, total, frames = generate(job)
    affines = np.zeros((total, 2, 3))
    found = np.zeros(total, bool)
    detected = np.zeros(total, bool)
    crops_video = job.work / f"crops{LOSSLESS_RGB_SUFFIX}"
    count = 0
    with CropWriter(crops_video, fps, progress=job.progress, total=total) as crops:
        for index, item in enumerate(frames):
            count += 1
            detected[index] = item.detected
            crops.write(item.crop)
            if item.crop is not None:
                affines[index] = item.affine
                found[index] = True
    crop_size = crops.size or (0, 0)
    track = job.work / "track.npz"
    inner = synthetic_inner_mask((crop_size[1], crop_size[0])) if crops.frames else None
    write_track(str(track), Track(affines=affines[:count], found=found[:count], detected=detected[:count],
                                  shot=np.zeros(count, np.int32), fps=float(fps), crop_size=crop_size,
                                  inner_mask=inner))
    seconds = time.monotonic() - started
    metrics = {
        "backend": "preview", "frames": count, "faces_missed": int(count - found[:count].sum()),
        "faces_held": int((found & ~detected)[:count].sum()), "seconds": round(seconds, 3),
        "fps": round(count / seconds, 2) if seconds else None,
    }
    outputs = {"original": original, "track": track}
    if crops.frames:
        outputs["crops"] = crops_video
    return StageResult(outputs, metrics)


def _fit(envelope: np.ndarray, total: int) -> np.ndarray:
    """The envelope cut or padded (with silence) to exactly `total` frames."""
    if len(envelope) >= total:
        return envelope[:total]
    return np.concatenate([envelope, np.zeros(total - len(envelope), envelope.dtype)])


class CropWriter:
    """Writes each frame's generated crop (black where no face was found) to a lossless RGB
    video, opened lazily because the crop size is known only once a face is; without any
    face nothing is written. `size` is the crops' (w, h) once known."""

    def __init__(self, out: Path, fps: float, *, progress=None, total: int = 0):
        self.out, self.fps = out, fps
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self._progress, self._total = progress, total
        self._pending = 0
        self._writer: LosslessWriter | None = None
        self._blank: np.ndarray | None = None

    def __enter__(self) -> "CropWriter":
        return self

    def write(self, crop: np.ndarray | None) -> None:
        if crop is None:
            if self._writer is None:
                self._pending += 1
                self._report()
            else:
                self._writer.write(self._blank)
            return
        if self._writer is None:
            self.size = (crop.shape[1], crop.shape[0])
            self._writer = LosslessWriter(self.out, crop.shape[1], crop.shape[0], self.fps,
                                          progress=self._progress, total=self._total)
            self._writer.__enter__()
            self._blank = np.zeros_like(crop)
            for _ in range(self._pending):
                self._writer.write(self._blank)
        self._writer.write(crop)
        self.frames += 1

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self._pending, self._total)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._writer is not None:
            self._writer.__exit__(exc_type, exc, tb)
