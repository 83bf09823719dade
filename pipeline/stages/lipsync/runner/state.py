"""What one run of the runner knows: its arguments, the encoders, the restorers, telemetry,
and the per-output-frame track (crops video + track.npz) that alpha's proof stage reads."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from pipeline.restore import Restorer, inner_mask_from_latentsync_png, merge_summaries

from . import PROGRESS_PREFIX
from .media import FrameSink
from .smoothing import DEFAULT_SIGMA


class RunnerState:
    """Shared by the hooks of one run (there is one run per process)."""

    def __init__(self, args: Dict[str, Any]):
        self.args = args
        self.ffmpeg: str = args["ffmpeg"]
        self.input_video: str = args["input_video"]
        self.width, self.height = int(args["width"]), int(args["height"])
        self.frames_target = int(args["frames"])
        self.sigma = float(args.get("smoothing", {}).get("sigma", DEFAULT_SIGMA))
        restore = args["restore"]
        self.blend: str = restore["blend"]
        self.blur = int(restore["blur"])
        self.erode = int(restore["erode"])
        self.mask_path: Optional[str] = args.get("mask_image")
        self.sink = FrameSink(self.ffmpeg, args["output"], self.frames_target, args["encode"]["fps_in"],
                              args["encode"]["output_args"])
        # The proof outputs: every output frame's raw generated crop (as the Restorer received
        # it; black without a face) into a second encoder, and the matrices used for paste-back.
        crops = args.get("crops")
        self.crop_sink: Optional[FrameSink] = None
        if crops:
            self.crop_sink = FrameSink(self.ffmpeg, crops["output"], self.frames_target,
                                       args["encode"]["fps_in"], crops["output_args"])
        self.track_path: Optional[str] = args.get("track")
        self.track_affines: List[np.ndarray] = []
        self.track_found: List[bool] = []
        self.track_padded = 0
        self.tracked = False
        self.originals: Dict[str, Any] = {}
        # Alignment: the matrices LatentSync will hand back to restore_video, by identity.
        self.no_face_ids: set = set()
        self._keep: List[Any] = []          # keeps objects alive so their ids stay unique
        self.source_of: Dict[int, int] = {}
        self.raw_matrices: List[Optional[np.ndarray]] = []
        self.smoothed: List[np.ndarray] = []
        self.cuts: List[int] = []
        self.shots: List[int] = []
        self.last_good: Optional[np.ndarray] = None
        self.crop_wh: Optional[Tuple[int, int]] = None
        # Generation: the raw decoded crops, before LatentSync's hard in-crop composite.
        self.raw_crops: List[np.ndarray] = []
        # Paste-back.
        self.restorers: Dict[int, Restorer] = {}
        self.restored_frames: Dict[int, List[Optional[int]]] = {}
        self.current_shot = 0
        self.current_output: Optional[int] = None
        self.used_raw_crops: Optional[bool] = None
        self.face_missing_output = 0
        self.frames_generated = 0
        self.reencode_skipped = False
        self._inner_masks: Dict[Tuple[int, int], Optional[np.ndarray]] = {}
        self._last_progress = 0.0
        self.started = time.monotonic()
        self.phase_seconds: Dict[str, float] = {}
        self._phase_start: Dict[str, float] = {}
        self._phase_end: Optional[float] = None

    # -- progress ------------------------------------------------------------------------

    def progress(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase not in self._phase_start:
            # A phase starts where the one before it ended (inference reports per chunk).
            self._phase_start[phase] = self._phase_end if self._phase_end is not None else now
        if done >= total and phase not in self.phase_seconds:
            self.phase_seconds[phase] = round(now - self._phase_start[phase], 3)
            self._phase_end = now
        elif now - self._last_progress < 0.2:
            return
        self._last_progress = now
        sys.stdout.write(f"{PROGRESS_PREFIX} {phase} {done} {total}\n")
        sys.stdout.flush()

    # -- alignment bookkeeping -----------------------------------------------------------

    def keep(self, obj: Any) -> Any:
        self._keep.append(obj)
        return obj

    def mark_no_face(self, matrix: Any) -> None:
        self.no_face_ids.add(id(self.keep(matrix)))

    # -- paste-back ------------------------------------------------------------------------

    def inner_mask(self, crop_hw: Tuple[int, int]) -> Optional[np.ndarray]:
        """The generated region in crop space, from LatentSync's own mask.png."""
        if crop_hw not in self._inner_masks:
            mask = None
            if self.mask_path:
                gray = cv2.imread(self.mask_path, cv2.IMREAD_GRAYSCALE)
                if gray is None:
                    raise RuntimeError(f"cannot read LatentSync's mask image {self.mask_path}")
                mask = inner_mask_from_latentsync_png(gray, crop_hw)
            self._inner_masks[crop_hw] = mask
        return self._inner_masks[crop_hw]

    def restorer(self, crop_hw: Tuple[int, int]) -> Restorer:
        """The Restorer of the current shot (one per shot: it keeps temporal state)."""
        shot = self.current_shot
        if shot not in self.restorers:
            self.restorers[shot] = Restorer(blend=self.blend, inner_mask=self.inner_mask(crop_hw),
                                            blur=self.blur, erode=self.erode)
            self.restored_frames[shot] = []
        self.restored_frames[shot].append(self.current_output)
        return self.restorers[shot]

    # -- the proof track ---------------------------------------------------------------------

    def record(self, crop: Optional[np.ndarray], affine: Optional[np.ndarray]) -> None:
        """One output frame of the track: the crop the Restorer received and the matrix it
        pasted with, or None for both where the frame has no face (black crop, zero matrix)."""
        if self.crop_sink is None and self.track_path is None:
            return
        w, h = self.crop_wh or (0, 0)
        if crop is None or affine is None:
            self.track_affines.append(np.zeros((2, 3), np.float32))
            self.track_found.append(False)
            crop = np.zeros((h, w, 3), np.uint8)
        else:
            self.track_affines.append(np.asarray(affine, np.float64).astype(np.float32))
            self.track_found.append(True)
            if crop.shape[:2] != (h, w) and w and h:
                crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        if self.crop_sink is not None:
            self.crop_sink.write(crop)

    def finish_track(self) -> None:
        """Pad the track to the frame count as the main encoder pads (with its last frame),
        and close the crops encoder. Without any recorded frame (LatentSync's restore_video
        was bypassed) there is no track: the crops encoder is discarded."""
        if not self.track_found:
            if self.crop_sink is not None:
                self.crop_sink.abort()
            return
        while len(self.track_found) < self.frames_target:
            self.track_affines.append(self.track_affines[-1])
            self.track_found.append(self.track_found[-1])
            self.track_padded += 1
        del self.track_affines[self.frames_target:], self.track_found[self.frames_target:]
        if self.crop_sink is not None:
            self.crop_sink.finish()
        self.tracked = True

    def write_track(self) -> Optional[str]:
        """track.npz as the preview backend writes it: affines (N×2×3 float32, zeros where no
        face), found and detected (N bool), fps (float32), crop_size ((w, h) int)."""
        if not self.tracked or not self.track_path:
            return None
        num, _, den = str(self.args["encode"]["fps_in"]).partition("/")
        found = np.array(self.track_found, dtype=bool)
        tmp = f"{self.track_path}.tmp"
        with open(tmp, "wb") as stream:  # a file object: numpy appends no ".npz"
            np.savez_compressed(stream, affines=np.stack(self.track_affines).astype(np.float32),
                                found=found, detected=found.copy(),
                                fps=np.float32(float(num) / float(den or 1)),
                                crop_size=np.array(self.crop_wh or (0, 0)))
        os.replace(tmp, self.track_path)
        return self.track_path

    def abort(self) -> None:
        """Kill the encoders and remove their partial files."""
        self.sink.abort()
        if self.crop_sink is not None:
            self.crop_sink.abort()

    # -- telemetry -------------------------------------------------------------------------

    def telemetry(self) -> Dict[str, Any]:
        from .smoothing import jitter

        crop_wh = self.crop_wh or (0, 0)
        missed = [i for i, m in enumerate(self.raw_matrices) if m is None]
        per_frame: List[Dict[str, Any]] = []
        summaries = []
        for shot in sorted(self.restorers):
            data = self.restorers[shot].telemetry
            records = data.pop("per_frame")
            summaries.append(data)
            for record, output in zip(records, self.restored_frames[shot]):
                per_frame.append({"output_frame": output, "shot": shot, **record})
        per_frame.sort(key=lambda r: (r["output_frame"] is None, r["output_frame"] or 0))
        return {
            "version": 1,
            "frames": {
                "target": self.frames_target,
                "source": len(self.raw_matrices),
                "generated": self.frames_generated,
                "written": self.sink.written,
                "padded": self.sink.padded,
                "dropped": self.sink.dropped,
                "crops": self.crop_sink.written if self.crop_sink is not None and self.tracked else 0,
                "track_padded": self.track_padded,
            },
            "faces": {
                "missed": len(missed),
                "missed_source_frames": missed,
                "kept_original_output_frames": self.face_missing_output,
            },
            "smoothing": {
                "method": "centred-gaussian" if self.sigma > 0 else "none",
                "sigma_frames": self.sigma,
                "cuts": list(self.cuts),
                "jitter_raw_px": _round(jitter(self.raw_matrices, crop_wh, self.cuts)) if self.crop_wh else None,
                "jitter_smoothed_px": _round(jitter([m if r is not None else None for m, r in
                                                     zip(self.smoothed, self.raw_matrices)],
                                                    crop_wh, self.cuts)) if self.crop_wh else None,
            },
            "matrices": {
                "crop_wh": list(crop_wh),
                "raw": [None if m is None else _flat(m) for m in self.raw_matrices],
                "smoothed": [_flat(m) for m in self.smoothed],
            },
            "restore": merge_summaries(summaries, self.blend, self.blur, self.erode),
            "restore_shots": summaries,
            "raw_crops": self.used_raw_crops,
            "mask_image": self.mask_path,
            "latentsync_reencode": "skipped" if self.reencode_skipped else "not reached",
            "seconds": {"total": round(time.monotonic() - self.started, 3), **self.phase_seconds},
            "per_frame": per_frame,
        }

    def write_telemetry(self, path: str) -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(_sanitize(self.telemetry()), handle, indent=1, allow_nan=False)
        os.replace(tmp, path)


def _flat(m: np.ndarray) -> List[float]:
    return [round(float(v), 5) for v in np.asarray(m, dtype=np.float64).reshape(6)]


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 4)


def _sanitize(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays converted, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    if isinstance(value, np.ndarray):
        return _sanitize(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
