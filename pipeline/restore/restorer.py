"""The Restorer: pastes LatentSync's generated crops back into their frames, one shot at a time.

Conventions: :mod:`pipeline.restore.geometry` (RGB uint8 images, x right, y down, pixel
centres at integers, affine 2×3 frame → crop).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from pipeline.restore.geometry import crop_region
from pipeline.restore.masks import GENERATED_THRESHOLD, feather
from pipeline.restore.membrane import (
    MembranePlan,
    factorize,
    membrane_to_region,
    plan_membrane,
    sample_boundary,
    smooth_over_time,
    solve_membrane,
)
from pipeline.restore.paste import paste_alpha, paste_seamless, warp_crop_to_region, warp_frame_to_crop
from pipeline.restore.seams import SeamPlan, plan_seams, seam_steps

logger = logging.getLogger(__name__)

BLENDS = ("alpha", "seamless", "poisson")
DEFAULT_BLUR = 8
DEFAULT_ERODE = 8
DEFAULT_TEMPORAL = 0.5
_FEATHER_MAX = 255
_SEAM_KEYS = ("seam_rect", "seam_rect_max", "seam_inner", "seam_inner_max", "seam_temporal")


class _Fallback(Exception):
    """A blend could not run as asked; ``code`` names the reason in telemetry."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class _Shot:
    """What depends only on the crop size and the generated region (prepared once per shot)."""

    crop_hw: Tuple[int, int]
    paste: np.ndarray           # h×w float32, the feathered region: the paste weight S
    weights: np.ndarray         # h×w×2 float32, (S, S·region): where the face and the membrane go
    feather_erased: bool        # erosion removed the whole region; ``paste`` is the hard region
    empty: bool                 # no generated pixel at all
    membrane: MembranePlan
    seams: SeamPlan


class Restorer:
    """Paste generated face crops back into frames, with one of three blends.

    Blends:
        ``"alpha"``: LatentSync's stock paste-back (rectangle feathered by ~5 % of its
            side, ``soft·face + (1 − soft)·frame``, truncated), computed on the covered
            region only. With ``blur=0, erode=0`` it is stock LatentSync's result inside
            the generated region (mask.png's hard edge), and the original pixels elsewhere.
        ``"seamless"``: ``cv2.seamlessClone`` of the rectangle, placed without shift and
            safe at frame edges. It hides the rectangle seam, not a colour step inside it.
        ``"poisson"`` (default): gradient-domain colour correction of the generated region:
            the generated pixels plus a smooth harmonic membrane that takes the colour
            mismatch at the region's edge (its in-crop edge and, where it reaches them, the
            rectangle's sides) to zero, smoothed over time. No pixel outside the generated
            region (feathered) changes and nothing is shifted.

        In every blend only the generated region (feathered; hard-edged when ``blur`` and
        ``erode`` are 0) differs from the original frame: the result of ``alpha`` and
        ``seamless`` (whose source is the face composited over the original crop through
        that region) is kept only there, weighted by the feathered region, so the eyes and
        the rest of the crop stay original even where the model's decode differs from them.

    Args:
        blend: one of :data:`BLENDS`.
        inner_mask: ``h×w`` float array in [0, 1] in crop space, 1 where the model generated
            pixels (the inverse of LatentSync's ``mask.png``, see
            :func:`pipeline.restore.geometry.inner_mask_from_latentsync_png`), or None: the
            whole crop counts as generated.
        blur: feather of the generated region's edge, in crop pixels (0–255): a Gaussian of
            kernel ``2·blur+1``. Default 8 (about 2 % of a 1.6 crop's width), enough to hide
            the change of sharpness at LatentSync's hard mask edge.
        erode: erosion of the generated region before feathering, in crop pixels (0–255).
            Default 8: with ``erode ≥ blur`` the feather lies inside the generated region, so
            original pixels are never overwritten by a blend of themselves.
            ``blur=0, erode=0`` keeps LatentSync's hard edge. With ``blur > erode`` the
            feather reaches ``blur − erode`` pixels past the generated region.
        temporal: ``poisson`` only, in [0, 1): weight of the past in the moving average of
            the local (per membrane node) changes of the boundary colour differences, which
            are mostly sampling noise. A change of the whole region's colour (the VAE's
            per-frame shift) is always followed at once. 0 follows every frame; 0.5 (default)
            halves node-level noise, costing nothing measurable on the benchmark's shot.
        seam_stats: compute the seam figures of :attr:`telemetry` (a few ms per frame).

    One Restorer serves one shot: call :meth:`reset` before reusing it for another.
    """

    def __init__(
        self,
        blend: str = "poisson",
        inner_mask: Optional[np.ndarray] = None,
        *,
        blur: int = DEFAULT_BLUR,
        erode: int = DEFAULT_ERODE,
        temporal: float = DEFAULT_TEMPORAL,
        seam_stats: bool = True,
    ):
        if blend not in BLENDS:
            raise ValueError(f"unknown blend {blend!r}; expected one of {', '.join(BLENDS)}")
        self.blend = blend
        self.blur = _check_feather("blur", blur)
        self.erode = _check_feather("erode", erode)
        if isinstance(temporal, bool) or not isinstance(temporal, (int, float)) or not 0.0 <= temporal < 1.0:
            raise ValueError(f"temporal must be a number in [0, 1), got {temporal!r}")
        self.temporal = float(temporal)
        self.seam_stats = bool(seam_stats)
        self._inner = None if inner_mask is None else _check_inner_mask(inner_mask)
        self._shot: Optional[_Shot] = None
        self.reset()

    def reset(self) -> None:
        """Start a new shot: forget the temporal state, the crop size and the telemetry."""
        self._shot = None
        self._means: Optional[np.ndarray] = None
        self._known: Optional[np.ndarray] = None
        self._factor = None
        self._factor_counts: Optional[np.ndarray] = None
        self._last_steps: Optional[Dict[str, np.ndarray]] = None
        self._records: List[Dict[str, Any]] = []
        self._reasons: Dict[str, int] = {}

    # -- per frame -------------------------------------------------------------------

    def restore_img(self, frame: np.ndarray, face: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """Paste one generated crop back into its frame.

        Args:
            frame: ``H×W×3`` uint8 RGB original frame.
            face: ``h×w×3`` uint8 RGB generated crop (LatentSync 1.6: 560×420, 1.5: 280×210),
                the same size for every frame of the shot and as ``inner_mask``.
            affine: ``2×3`` float frame → crop (``1×2×3`` accepted, as LatentSync holds it).

        Returns:
            New ``H×W×3`` uint8 RGB frame; pixels outside the generated region (feathered)
            are unchanged.
        """
        start = time.perf_counter()
        frame = _check_image("frame", frame)
        face = _check_image("face", face)
        affine = _check_affine(affine)
        shot = self._prepare(face.shape[:2])
        record: Dict[str, Any] = {"frame": len(self._records), "fallback": None, **dict.fromkeys(_SEAM_KEYS)}
        region = crop_region(affine, shot.crop_hw, frame.shape[:2], margin=2)
        if region is None:
            out = frame.copy()
            self._fallback(record, "crop_outside_frame", "the crop does not overlap the frame; frame left unchanged")
        else:
            out = self._blend(record, shot, frame, face, affine, region)
            if self.seam_stats:
                self._measure(record, shot, frame, out, affine, region)
        record["ms"] = (time.perf_counter() - start) * 1000.0
        self._records.append(record)
        return out

    def _blend(self, record, shot: _Shot, frame, face, affine, region) -> np.ndarray:
        if shot.feather_erased:
            self._fallback(record, "feather_erased_mask",
                           f"erode={self.erode} removes the whole generated region; its hard edge is used")
        if self.blend == "poisson":
            if shot.empty:
                self._fallback(record, "empty_inner_mask", "inner mask has no generated pixel; frame left unchanged")
                return frame.copy()
            try:
                return self._poisson(shot, frame, face, affine, region)
            except _Fallback as exc:
                self._fallback(record, exc.code, str(exc))
            return self._only_generated(shot, frame, paste_alpha(frame, face, affine), affine, region)
        if self.blend == "alpha":
            # The region's weight is applied once, in the frame: S·face + (1 − S)·frame.
            return self._only_generated(shot, frame, paste_alpha(frame, face, affine), affine, region)
        composed = self._feathered_face(shot, frame, face, affine, region)
        try:
            pasted = paste_seamless(frame, np.clip(composed + 0.5, 0, 255).astype(np.uint8), affine)
        except cv2.error as exc:
            lines = str(exc).strip().splitlines()
            self._fallback(record, "seamless_clone_failed", f"cv2.seamlessClone: {lines[-1] if lines else repr(exc)}")
            pasted = paste_alpha(frame, face, affine)
        return self._only_generated(shot, frame, pasted, affine, region)

    def _feathered_face(self, shot: _Shot, frame, face, affine, region) -> np.ndarray:
        """The face re-composited over the original crop through the feathered region (a
        hard edge when blur = erode = 0), as LatentSync composites its decoded crop:
        seamlessClone's source, so its guidance field outside the region is the original's."""
        original = warp_frame_to_crop(frame, affine, shot.crop_hw, region)
        weight = shot.paste[..., None]
        return weight * face.astype(np.float32) + (1.0 - weight) * original

    @staticmethod
    def _only_generated(shot: _Shot, frame, pasted, affine, region) -> np.ndarray:
        """``frame + S·(pasted − frame)`` with the feathered region S warped into the frame:
        the rectangle paste and seamlessClone change every pixel they cover (resampling the
        original, or spreading seamlessClone's correction across the rectangle); outside the
        generated region the frame keeps its own pixels exactly."""
        x0, y0, x1, y1 = region
        weight = warp_crop_to_region(shot.paste, affine, region, cv2.BORDER_CONSTANT)[..., None]
        base = frame[y0:y1, x0:x1].astype(np.float32)
        blended = base + weight * (pasted[y0:y1, x0:x1].astype(np.float32) - base)
        out = frame.copy()
        out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return out

    def _poisson(self, shot: _Shot, frame, face, affine, region) -> np.ndarray:
        plan = shot.membrane
        sums, counts = sample_boundary(plan, frame, face, affine)
        if not counts.any():
            raise _Fallback("no_boundary_in_frame", "no edge pixel of the generated region lies in the frame")
        seen = counts > 0
        means = np.zeros_like(sums)
        means[seen] = sums[seen] / counts[seen, None]
        self._means, self._known = smooth_over_time(self._means, self._known, means, counts, self.temporal)
        try:
            if self._factor_counts is None or not np.array_equal(counts, self._factor_counts):
                self._factor = factorize(plan, counts)
                self._factor_counts = counts
            coarse = solve_membrane(plan, self._factor, self._means, counts)
        except (RuntimeError, ValueError) as exc:
            self._factor_counts = None
            raise _Fallback("solver_failed", f"membrane solve failed: {exc}") from exc
        if not np.all(np.isfinite(coarse)):
            raise _Fallback("solver_failed", "membrane solve returned non-finite values")
        # out = base + S·(face − base) + S·r·M, all at the region's pixels: the membrane is
        # interpolated straight from its nodes and the face warped as uint8, so nothing
        # crop-sized is computed per frame.
        x0, y0, x1, y1 = region
        base = frame[y0:y1, x0:x1].astype(np.float32)
        face_r = warp_crop_to_region(face, affine, region, cv2.BORDER_REPLICATE).astype(np.float32)
        weights = warp_crop_to_region(shot.weights, affine, region, cv2.BORDER_CONSTANT)
        blended = face_r
        blended -= base
        blended *= weights[..., :1]
        blended += base
        blended += weights[..., 1:] * membrane_to_region(plan, coarse, affine, region)
        out = frame.copy()
        out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return out

    # -- shot preparation ------------------------------------------------------------

    def _prepare(self, crop_hw: Tuple[int, int]) -> _Shot:
        if self._shot is not None:
            if self._shot.crop_hw != crop_hw:
                raise ValueError(f"face is {crop_hw[0]}×{crop_hw[1]} but this shot's crops are "
                                 f"{self._shot.crop_hw[0]}×{self._shot.crop_hw[1]} (h×w); call reset() "
                                 "for a new shot")
            return self._shot
        if self._inner is not None and self._inner.shape != crop_hw:
            raise ValueError(f"face is {crop_hw[0]}×{crop_hw[1]} (h×w) but inner_mask is "
                             f"{self._inner.shape[0]}×{self._inner.shape[1]}; they must match")
        region = np.ones(crop_hw, np.float32) if self._inner is None else self._inner
        paste = feather(region, self.erode, self.blur)
        empty = not np.any(region >= GENERATED_THRESHOLD)
        erased = not empty and not np.any(paste >= GENERATED_THRESHOLD)
        if erased:
            paste = region
        weights = np.dstack([paste, paste * region])
        # The inner seam is where generated meets original after feathering: S's mid-level.
        seams = plan_seams(crop_hw, None if self._inner is None else paste)
        self._shot = _Shot(crop_hw, paste, weights, erased, empty, plan_membrane(region), seams)
        return self._shot

    # -- telemetry -------------------------------------------------------------------

    def _fallback(self, record: Dict[str, Any], code: str, detail: str) -> None:
        first = code not in self._reasons
        self._reasons[code] = self._reasons.get(code, 0) + 1
        record["fallback"] = code if record["fallback"] is None else f"{record['fallback']},{code}"
        # Every fallback is logged; repeats of a reason within a shot only at debug level.
        logger.log(logging.WARNING if first else logging.DEBUG,
                   "restore fallback %s on frame %d (blend=%s): %s", code, record["frame"], self.blend, detail)

    def _measure(self, record, shot: _Shot, frame, out, affine, region) -> None:
        x0, y0, x1, y1 = region
        steps = seam_steps(shot.seams, frame[y0:y1, x0:x1], out[y0:y1, x0:x1], region, affine, frame.shape[:2])
        for name, vec in steps.items():
            size = np.abs(vec).mean(axis=1)
            size = size[np.isfinite(size)]
            record[f"seam_{name}"] = float(size.mean()) if size.size else None
            record[f"seam_{name}_max"] = float(size.max()) if size.size else None
        if self._last_steps is not None:
            changes = []
            for name, vec in steps.items():
                prev = self._last_steps.get(name)
                if prev is not None and prev.shape == vec.shape:
                    change = np.abs(vec - prev).mean(axis=1)
                    changes.append(change[np.isfinite(change)])
            joined = np.concatenate(changes) if changes else np.zeros(0)
            record["seam_temporal"] = float(joined.mean()) if joined.size else None
        self._last_steps = steps

    @property
    def telemetry(self) -> Dict[str, Any]:
        """:meth:`summary` plus ``per_frame``: one record per frame (JSON-serialisable)."""
        data = self.summary()
        data["per_frame"] = [dict(r) for r in self._records]
        return data

    def summary(self) -> Dict[str, Any]:
        """Shot totals, JSON-serialisable.

        Keys: ``blend``, ``blur``, ``erode``, ``temporal``, ``frames``, ``fallbacks`` (frames
        with any fallback), ``fallback_reasons`` (``{code: count}``), ``seam_rect_mean``,
        ``seam_rect_max``, ``seam_inner_mean``, ``seam_inner_max`` (colour step across the
        rectangle / generated-region seam, grey levels), ``seam_temporal_mean``,
        ``seam_temporal_max`` (its change between consecutive frames), ``ms_mean``. Figures
        that were not measured are None.
        """
        def stat(key: str, reduce) -> Optional[float]:
            values = [r[key] for r in self._records if r.get(key) is not None]
            return float(reduce(values)) if values else None

        return {
            "blend": self.blend,
            "blur": self.blur,
            "erode": self.erode,
            "temporal": self.temporal,
            "frames": len(self._records),
            "fallbacks": sum(1 for r in self._records if r["fallback"] is not None),
            "fallback_reasons": dict(self._reasons),
            "seam_rect_mean": stat("seam_rect", np.mean),
            "seam_rect_max": stat("seam_rect_max", np.max),
            "seam_inner_mean": stat("seam_inner", np.mean),
            "seam_inner_max": stat("seam_inner_max", np.max),
            "seam_temporal_mean": stat("seam_temporal", np.mean),
            "seam_temporal_max": stat("seam_temporal", np.max),
            "ms_mean": stat("ms", np.mean),
        }


def merge_summaries(summaries: List[Dict[str, Any]], blend: str, blur: int, erode: int) -> Dict[str, Any]:
    """One summary for the clip from the Restorer summaries of its shots."""
    frames = sum(s["frames"] for s in summaries)
    reasons: Dict[str, int] = {}
    for s in summaries:
        for code, count in s["fallback_reasons"].items():
            reasons[code] = reasons.get(code, 0) + count

    def mean(key: str) -> Optional[float]:
        pairs = [(s[key], s["frames"]) for s in summaries if s.get(key) is not None and s["frames"]]
        weight = sum(w for _, w in pairs)
        return float(sum(v * w for v, w in pairs) / weight) if weight else None

    def peak(key: str) -> Optional[float]:
        values = [s[key] for s in summaries if s.get(key) is not None]
        return float(max(values)) if values else None

    merged: Dict[str, Any] = {
        "blend": blend, "blur": blur, "erode": erode,
        "temporal": summaries[0]["temporal"] if summaries else None,
        "frames": frames,
        "fallbacks": sum(s["fallbacks"] for s in summaries),
        "fallback_reasons": reasons,
        "shots": len(summaries),
    }
    for key in ("seam_rect_mean", "seam_inner_mean", "seam_temporal_mean", "ms_mean"):
        merged[key] = mean(key)
    for key in ("seam_rect_max", "seam_inner_max", "seam_temporal_max"):
        merged[key] = peak(key)
    return merged


# -- validation ----------------------------------------------------------------------

def _check_feather(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= _FEATHER_MAX:
        raise ValueError(f"{name} must be an integer in 0..{_FEATHER_MAX} (crop pixels), got {value!r}")
    return int(value)


def _check_inner_mask(mask: Any) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"inner_mask must be a 2-D h×w array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or arr.dtype == bool):
        raise ValueError(f"inner_mask must be float in [0, 1] (1 = generated), got dtype {arr.dtype}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)) or arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError("inner_mask values must be finite and in [0, 1] (1 = generated)")
    return arr


def _check_image(name: str, image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"shape {image.shape} dtype {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name} must be an H×W×3 uint8 RGB numpy array, got {desc}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"{name} must be at least 2×2 pixels, got {image.shape[0]}×{image.shape[1]}")
    return np.ascontiguousarray(image)


def _check_affine(affine: Any) -> np.ndarray:
    try:
        arr = np.asarray(affine, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"affine must be a 2×3 float array (frame → crop): {exc}") from exc
    if arr.shape == (1, 2, 3):
        arr = arr[0]
    if arr.shape != (2, 3):
        raise ValueError(f"affine must be a 2×3 float array (frame → crop), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("affine has non-finite entries")
    det = arr[0, 0] * arr[1, 1] - arr[0, 1] * arr[1, 0]
    if not math.isfinite(det) or abs(det) < 1e-9:
        raise ValueError(f"affine is not invertible (determinant {det:.3g})")
    return arr
