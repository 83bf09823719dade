"""LatentSync's face-crop geometry and the affine bookkeeping of the restore engine.

Conventions used throughout ``pipeline.restore``:

* images are ``H×W×C`` arrays, colour order RGB, ``uint8`` unless stated;
* x points right, y points down, pixel centres sit at integer coordinates;
* an *affine* is a ``2×3`` float array mapping frame coordinates to crop coordinates
  (``crop = A @ [x, y, 1]``), exactly what LatentSync passes to ``restore_img``;
* a *region* is ``(x0, y0, x1, y1)`` in frame pixels, end-exclusive.
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

Region = Tuple[int, int, int, int]

# LatentSync's data.resolution per checkpoint (configs/unet/stage2.yaml, stage2_512.yaml).
LATENTSYNC_RESOLUTION = {"1.5": 256, "1.6": 512}

# Eyebrow centres and nose centre of LatentSync's 3-point template, in its 256-pixel units
# before the 2.8 scale; the crop is 75×100 of those units.
_TEMPLATE_UNITS = np.array([[17.0, 20.0], [58.0, 20.0], [37.5, 40.0]])
_CROP_UNITS_WH = (75, 100)
_UNIT_SCALE_AT_256 = 2.8

# Generated region of LatentSync's mask.png, as fractions of the crop (measured on the
# 256×256 file): the lower face from y=95/256, with a notch under the nose, rounded below.
_U_LEFT, _U_RIGHT, _U_TOP, _U_BOTTOM = 9 / 256, 248 / 256, 95 / 256, 243 / 256
_U_NOTCH_LEFT, _U_NOTCH_RIGHT, _U_NOTCH_BOTTOM = 78 / 256, 178 / 256, 128 / 256
_U_ROUND_FROM = 165 / 256


def latentsync_template(version: str = "1.6") -> Tuple[np.ndarray, Tuple[int, int]]:
    """LatentSync's alignment template and crop size for a checkpoint version.

    Args:
        version: ``"1.5"`` (resolution 256) or ``"1.6"`` (resolution 512).

    Returns:
        ``(template, (crop_w, crop_h))``: ``template`` is a ``3×2`` float64 array of crop
        coordinates (x, y) of the left eyebrow centre, right eyebrow centre and nose centre;
        the crop is 210×280 (w×h) for 1.5 and 420×560 for 1.6.
    """
    if version not in LATENTSYNC_RESOLUTION:
        raise ValueError(f"unknown LatentSync version {version!r}; expected one of {sorted(LATENTSYNC_RESOLUTION)}")
    scale = LATENTSYNC_RESOLUTION[version] / 256 * _UNIT_SCALE_AT_256
    # int() truncation as LatentSync does, so the sizes match its crops exactly.
    size = (int(_CROP_UNITS_WH[0] * scale), int(_CROP_UNITS_WH[1] * scale))
    return _TEMPLATE_UNITS * scale, size


def similarity_from_points(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Frame→crop similarity (rotation, uniform scale, translation) from point pairs.

    Rotation is the orthogonal Procrustes solution without reflection, scale the ratio of
    the RMS spreads of the two point sets: the convention of LatentSync's alignment, so a
    crop built with this matrix matches LatentSync's for the same landmarks.

    Args:
        points: ``N×2`` (N ≥ 2) landmark coordinates (x, y) in the frame.
        template: ``N×2`` target coordinates in the crop, e.g. from :func:`latentsync_template`.

    Returns:
        ``2×3`` float64 affine, frame → crop.
    """
    src = np.asarray(points, dtype=np.float64)
    dst = np.asarray(template, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2 or src.shape != dst.shape:
        raise ValueError(f"points and template must both be N×2 with N ≥ 2, got {src.shape} and {dst.shape}")
    src_c = src - src.mean(axis=0)
    dst_c = dst - dst.mean(axis=0)
    src_s, dst_s = src_c.std(), dst_c.std()
    if src_s <= 0 or dst_s <= 0:
        raise ValueError("points (or template) are all identical: no similarity is defined")
    u, _, vt = np.linalg.svd((src_c / src_s).T @ (dst_c / dst_s))
    v = vt.T
    rot = v @ u.T
    if np.linalg.det(rot) < 0:
        v[:, -1] = -v[:, -1]
        rot = v @ u.T
    lin = (dst_s / src_s) * rot
    return np.hstack([lin, (dst.mean(axis=0) - lin @ src.mean(axis=0))[:, None]])


def inner_mask_from_latentsync_png(mask_png_gray: np.ndarray, crop_hw: Tuple[int, int]) -> np.ndarray:
    """Convert LatentSync's ``mask.png`` into this engine's inner mask.

    LatentSync marks the generated region black (0) and the kept region white (255); the
    engine wants 1 where the model generated pixels.

    Args:
        mask_png_gray: ``H×W`` uint8 grey image as read by ``cv2.imread(path, 0)``.
        crop_hw: ``(h, w)`` of the aligned crop, e.g. ``(560, 420)`` for LatentSync 1.6.

    Returns:
        ``h×w`` float32 in [0, 1], bilinearly resized (the edge stays about one pixel wide,
        as after LatentSync's own resizes).
    """
    mask = np.asarray(mask_png_gray)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"mask_png_gray must be a 2-D uint8 grey image, got shape {mask.shape} dtype {mask.dtype}")
    h, w = _check_hw(crop_hw)
    generated = 1.0 - mask.astype(np.float32) / 255.0
    return np.clip(cv2.resize(generated, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def synthetic_inner_mask(crop_hw: Tuple[int, int]) -> np.ndarray:
    """A stand-in for LatentSync's ``mask.png`` region, for tests and benchmarks.

    Same outline as the real file (lower face, notch under the nose, rounded chin, reaching
    within 9/256 of the crop's sides) with a hard edge.

    Args:
        crop_hw: ``(h, w)`` of the crop.

    Returns:
        ``h×w`` float32, 1 inside the generated region, 0 elsewhere.
    """
    h, w = _check_hw(crop_hw)
    x = (np.arange(w, dtype=np.float64) + 0.5) / w
    y = (np.arange(h, dtype=np.float64) + 0.5) / h
    xx, yy = np.meshgrid(x, y)
    body = (xx >= _U_LEFT) & (xx < _U_RIGHT) & (yy >= _U_TOP) & (yy < _U_ROUND_FROM)
    notch = (xx >= _U_NOTCH_LEFT) & (xx < _U_NOTCH_RIGHT) & (yy < _U_NOTCH_BOTTOM)
    cx, ax = (_U_LEFT + _U_RIGHT) / 2, (_U_RIGHT - _U_LEFT) / 2
    ay = _U_BOTTOM - _U_ROUND_FROM
    chin = (yy >= _U_ROUND_FROM) & (((xx - cx) / ax) ** 2 + ((yy - _U_ROUND_FROM) / ay) ** 2 <= 1.0)
    return ((body & ~notch) | chin).astype(np.float32)


def crop_region(affine: np.ndarray, crop_hw: Tuple[int, int], frame_hw: Tuple[int, int], margin: int = 1) -> Optional[Region]:
    """Frame pixels that a crop pasted back through ``affine`` can touch.

    A bilinear warp of the crop reaches frame points whose crop coordinates fall in
    ``(-1, w) × (-1, h)``; their bounding box, grown by ``margin`` and clipped to the frame.

    Args:
        affine: ``2×3`` frame → crop.
        crop_hw: ``(h, w)`` of the crop.
        frame_hw: ``(H, W)`` of the frame.
        margin: extra pixels on every side, for filters that need context.

    Returns:
        ``(x0, y0, x1, y1)`` end-exclusive, or None when the crop misses the frame.
    """
    x0, y0, x1, y1 = crop_bounds(affine, crop_hw, margin)
    fh, fw = frame_hw
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def crop_bounds(affine: np.ndarray, crop_hw: Tuple[int, int], margin: int = 1) -> Region:
    """Like :func:`crop_region` but not clipped to any frame (may be negative)."""
    h, w = crop_hw
    corners = np.array([[-1.0, -1.0, 1.0], [w, -1.0, 1.0], [-1.0, h, 1.0], [w, h, 1.0]])
    in_frame = corners @ invert_affine(affine).T
    lo = np.floor(in_frame.min(axis=0)).astype(int) - margin
    hi = np.ceil(in_frame.max(axis=0)).astype(int) + margin + 1
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of a ``2×3`` affine (crop → frame for a frame → crop matrix), float64."""
    return cv2.invertAffineTransform(np.asarray(affine, dtype=np.float64))


def shift_affine(affine: np.ndarray, x0: float, y0: float) -> np.ndarray:
    """Frame→crop affine re-expressed for a sub-image whose pixel (0, 0) is frame (x0, y0)."""
    a = np.array(affine, dtype=np.float64)
    a[:, 2] += a[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return a


def _check_hw(crop_hw: Tuple[int, int]) -> Tuple[int, int]:
    h, w = (int(v) for v in crop_hw)
    if h < 1 or w < 1:
        raise ValueError(f"crop_hw must be two positive integers (h, w), got {crop_hw!r}")
    return h, w
