"""The preview backend: a CPU stand-in for LatentSync, so every stage runs without a GPU.

It does what the model's pipeline does around the model: track the face, align it with
LatentSync's 3-point template, generate a mouth crop (here: the mouth opened by the voice's
loudness, with the colour drift and softness the real VAE output has, composited through the
model's U-shaped mask with a hard edge) and paste it back through the same `Restorer`.
Frames stream: memory stays flat however long the episode is.

Crops: h×w×3 uint8 RGB in LatentSync's crop space (1.6: 560×420). Loudness: float in [0, 1].
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import cv2
import numpy as np

from ...media import FrameWriter, audio_envelope, loop_video, probe, read_frames
from ...media.filters import frame_count
from ...restore import Restorer, synthetic_inner_mask
from ..base import StageResult, StageRun
from .face import MOUTH_CENTRE, MOUTH_HALF_SIZE, FaceTracker, align

# The crops video only feeds proof frames; near-lossless keeps comparisons honest.
CROPS_CRF = 12


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


def run_preview(job: StageRun) -> StageResult:
    started = time.monotonic()
    params = job.params
    video, restore, lipsync = params["video"], params["restore"], params["lipsync"]
    fps, width, height = video["fps"], video["width"], video["height"]
    voice = job.inputs["audio.voice"]
    duration = probe(voice).duration
    total = frame_count(duration, fps)

    source = job.upstream["source.media"]
    if params["source"]["kind"] == "video":
        original = job.work / "original.mp4"
        loop_video(source, original, duration=duration, fps=fps, size=(width, height), crf=video["crf"],
                   preset=video["preset"])
        frames_in = read_frames(original)
    else:
        # A still is decoded once (fitted as the encoders fit it) and stays lossless for proofs.
        still = next(read_frames(source, size=(width, height)))
        original = job.work / "original.png"
        cv2.imwrite(str(original), cv2.cvtColor(still, cv2.COLOR_RGB2BGR))
        frames_in = itertools.repeat(still, total)
    openness = smooth_loudness(_fit(audio_envelope(voice, fps), total))

    tracker = FaceTracker()
    restorer: Restorer | None = None
    crop_size = None
    affines = np.zeros((total, 2, 3), np.float32)
    found = np.zeros(total, bool)
    detected = np.zeros(total, bool)
    out_video, crops_video = job.work / "lipsync.mp4", job.work / "crops.mp4"
    frames = 0
    with FrameWriter(out_video, width, height, fps, crf=video["crf"], preset=video["preset"],
                     progress=job.progress, total=total) as writer, \
            _CropWriter(crops_video, fps, video["preset"]) as crops:
        for index, frame in enumerate(frames_in):
            if index >= total:
                break
            frames += 1
            tracked = tracker.update(frame)
            detected[index] = tracked.detected
            if tracked.box is None:
                writer.write(frame)  # no face: the frame keeps its own pixels, and is counted
                crops.write(None)
                continue
            affine, crop_size = align(tracked.box, lipsync["checkpoint"])
            if restorer is None:
                inner_mask = synthetic_inner_mask((crop_size[1], crop_size[0]))
                inside = inner_mask >= 0.5
                animate = MouthAnimator(inner_mask.shape)
                restorer = Restorer(restore["blend"], inner_mask, blur=restore["blur"], erode=restore["erode"])
            crop = cv2.warpAffine(frame, affine, crop_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            face = generate_crop(crop, inside, animate, float(openness[index]), lipsync["drift"], index / fps)
            writer.write(restorer.restore_img(frame, face, affine))
            crops.write(face)
            affines[index] = affine
            found[index] = True
    track = job.work / "track.npz"
    with open(track, "wb") as stream:
        np.savez_compressed(stream, affines=affines[:frames], found=found[:frames], detected=detected[:frames],
                            fps=np.float32(fps), crop_size=np.array(crop_size or (0, 0)))
    seconds = time.monotonic() - started
    metrics = {
        "backend": "preview", "frames": frames, "faces_missed": int(frames - found[:frames].sum()),
        "faces_held": int((found & ~detected)[:frames].sum()), "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 2) if seconds else None,
        "restore": restorer.summary() if restorer is not None else None,
    }
    outputs = {"video": out_video, "original": original, "track": track}
    if crops.frames:
        outputs["crops"] = crops_video
    return StageResult(outputs, metrics)


def _fit(envelope: np.ndarray, total: int) -> np.ndarray:
    """The envelope cut or padded (with silence) to exactly `total` frames."""
    if len(envelope) >= total:
        return envelope[:total]
    return np.concatenate([envelope, np.zeros(total - len(envelope), envelope.dtype)])


class _CropWriter:
    """Writes each frame's generated crop (black where no face was found) to a video,
    opened lazily because the crop size is known only once a face is."""

    def __init__(self, out: Path, fps: float, preset: str):
        self.out, self.fps, self.preset = out, fps, preset
        self.frames = 0
        self._pending = 0
        self._writer: FrameWriter | None = None
        self._blank: np.ndarray | None = None

    def __enter__(self) -> "_CropWriter":
        return self

    def write(self, crop: np.ndarray | None) -> None:
        if crop is None:
            if self._writer is None:
                self._pending += 1
            else:
                self._writer.write(self._blank)
            return
        if self._writer is None:
            self._writer = FrameWriter(self.out, crop.shape[1], crop.shape[0], self.fps, crf=CROPS_CRF,
                                       preset=self.preset)
            self._writer.__enter__()
            self._blank = np.zeros_like(crop)
            for _ in range(self._pending):
                self._writer.write(self._blank)
        self._writer.write(crop)
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._writer is not None:
            self._writer.__exit__(exc_type, exc, tb)
