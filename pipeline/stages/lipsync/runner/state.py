"""What one run of the runner knows: its arguments, the crops encoder, the alignment
bookkeeping, telemetry, and the per-output-frame track (crops video + track.npz) that alpha's
restore and proof stages read."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import PROGRESS_PREFIX
from .media import FrameSink
from .smoothing import DEFAULT_SIGMA


class RunnerState:
    """Shared by the hooks of one episode (a warm worker makes one per episode)."""

    def __init__(self, args: Dict[str, Any]):
        self.ffmpeg: str = args["ffmpeg"]
        self.input_video: str = args["input_video"]
        self.width, self.height = int(args["width"]), int(args["height"])
        self.frames_target = int(args["frames"])
        self.sigma = float(args.get("smoothing", {}).get("sigma", DEFAULT_SIGMA))
        crops = args["crops"]
        self.fps_in: str = crops["fps_in"]
        # The one output encoder: every output frame's raw generated crop at the model's
        # resolution (black where the frame has no face), frame for frame with the track.
        self.crops = FrameSink(self.ffmpeg, crops["output"], self.frames_target, self.fps_in,
                               crops["output_args"])
        self.track_path: str = args["track"]
        self.track_affines: List[np.ndarray] = []
        self.track_found: List[bool] = []
        self.tracked = False
        self.originals: Dict[str, Any] = {}
        # Alignment: the matrices LatentSync will hand back to restore_video, by identity.
        self.no_face_ids: set = set()
        self._keep: List[Any] = []          # keeps objects alive so their ids stay unique
        self.source_of: Dict[int, int] = {}
        self.raw_matrices: List[Optional[np.ndarray]] = []
        self.smoothed: List[np.ndarray] = []
        self.cuts: List[int] = []
        self.last_good: Optional[np.ndarray] = None
        self.crop_wh: Optional[Tuple[int, int]] = None
        self.resolution: Optional[int] = None
        # Generation: the raw decoded crops, before LatentSync's hard in-crop composite.
        self.raw_crops: List[np.ndarray] = []
        self.used_raw_crops: Optional[bool] = None
        self.face_missing_output = 0
        self.frames_generated = 0
        self.reencode_skipped = False
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

    # -- the capture ------------------------------------------------------------------------

    def record(self, crop: Optional[np.ndarray], affine: Optional[np.ndarray]) -> None:
        """One output frame: the raw generated crop (h×w×3 uint8 RGB at the model's
        resolution) and the frame→crop matrix it belongs to, or None for both where the frame
        has no face (black crop, zero matrix). Frames past the target are counted, not kept."""
        if self.crops.full:
            self.crops.dropped += 1
            return
        if crop is None or affine is None:
            self.track_affines.append(np.zeros((2, 3), np.float32))
            self.track_found.append(False)
            self.face_missing_output += 1
            res = int(self.resolution or 0)
            crop = np.zeros((res, res, 3), np.uint8)
        else:
            self.track_affines.append(np.asarray(affine, np.float64).astype(np.float32))
            self.track_found.append(True)
        self.crops.write(crop)

    def finish_track(self) -> None:
        """Pad the track to the frame count as the crops encoder pads (with its last frame;
        LatentSync's frame count follows its audio features and may fall short by a frame)
        and close the encoder."""
        if not self.track_found:
            raise RuntimeError("LatentSync handed no frame to restore_video: nothing was captured")
        while len(self.track_found) < self.frames_target:
            self.track_affines.append(self.track_affines[-1])
            self.track_found.append(self.track_found[-1])
        self.crops.finish()
        self.tracked = True

    def write_track(self) -> str:
        """track.npz, the capture's half of :mod:`pipeline.restore.track` (alpha adds the
        shots and the generated region): affines (N×2×3 float32, zeros where no face), found
        and detected (N bool), fps (float32), crop_size ((w, h) int, the crop box the affines
        map to; the crops video holds the model's resolution)."""
        if not self.tracked:
            raise RuntimeError("the track is written only after the capture finished")
        num, _, den = self.fps_in.partition("/")
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
        """Kill the crops encoder and remove its partial file."""
        self.crops.abort()

    # -- telemetry -------------------------------------------------------------------------

    def telemetry(self) -> Dict[str, Any]:
        from .smoothing import jitter

        crop_wh = self.crop_wh or (0, 0)
        missed = [i for i, m in enumerate(self.raw_matrices) if m is None]
        return {
            "version": 2,
            "frames": {
                "target": self.frames_target,
                "source": len(self.raw_matrices),
                "generated": self.frames_generated,
                "written": self.crops.written,
                "padded": self.crops.padded,
                "dropped": self.crops.dropped,
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
                "resolution": self.resolution,
                "raw": [None if m is None else _flat(m) for m in self.raw_matrices],
                "smoothed": [_flat(m) for m in self.smoothed],
            },
            "raw_crops": self.used_raw_crops,
            "latentsync_reencode": "skipped" if self.reencode_skipped else "not reached",
            "seconds": {"total": round(time.monotonic() - self.started, 3), **self.phase_seconds},
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
