"""No-reference seam figures: the colour step the paste-back leaves across each seam.

The restore changes the frame by ``D = output − original`` (RGB, grey levels). Outside the
pasted region D is 0 by construction; inside it holds the new content plus any colour
mismatch. Comparing the local mean of D in a thin band on each side of a seam cancels the
picture's own edges and leaves the step the restore introduced. Two seams are measured:

* ``rect``: the crop rectangle's edge (inside band vs the frame just outside);
* ``inner``: the edge of the generated region inside the crop (generated vs kept pixels),
  taken where the paste weight crosses one half (so a feathered or eroded edge is measured
  where it now lies), except where it runs along the rectangle (that is the rectangle seam).

D is resampled into a coarser copy of crop space (at most ``_GRID_SIDE`` pixels on its long
side, padded so the outside band fits); step values are in grey levels, mean over RGB of
the absolute step. Conventions follow :mod:`pipeline.restore.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from pipeline.restore.geometry import Region, invert_affine, shift_affine
from pipeline.restore.masks import GENERATED_THRESHOLD, distance_inside

# A seam's step is a low-frequency figure: measuring on crop space decimated to at most this
# many pixels on its long side loses nothing and keeps it to about a millisecond a frame.
_GRID_SIDE = 256
# Band width as a fraction of the measuring grid's width (about 12 crop pixels at 1.6).
_BAND_FRACTION = 0.03
# A side's local mean needs at least this fraction of its window in the band.
_MIN_COVER = 0.05


@dataclass(frozen=True)
class Seam:
    """One seam on the measuring grid: its side bands, the grid pixels it runs through, and
    each side's band pixel count around them (for a crop wholly inside the frame)."""

    band_in: np.ndarray
    band_out: np.ndarray
    pixels: Tuple[np.ndarray, np.ndarray]
    cover_in: np.ndarray
    cover_out: np.ndarray


@dataclass(frozen=True)
class SeamPlan:
    """Measuring grid (crop space, decimated by ``step`` and padded by ``pad``) and seams.

    Attributes:
        to_grid: ``2×3`` crop → grid affine.
        grid_hw: ``(hm, wm)`` of the padded grid.
        radius: half-size of the local-mean window (grid pixels).
        seams: ``{"rect": Seam, "inner": Seam}`` (no ``"inner"`` without a region).
        grid_xy: ``2×(hm·wm)`` grid pixel coordinates, to test which lie in the frame.
    """

    to_grid: np.ndarray
    grid_hw: Tuple[int, int]
    radius: int
    seams: Dict[str, Seam]
    grid_xy: np.ndarray


def plan_seams(crop_hw: Tuple[int, int], inner_mask: Optional[np.ndarray]) -> SeamPlan:
    """Prepare the measuring grid and the seam bands (once per shot).

    Args:
        crop_hw: ``(h, w)`` of the crop.
        inner_mask: ``h×w`` float32 in [0, 1], the weight with which generated pixels are
            pasted (the feathered generated region), or None: no inner seam.

    Returns:
        The :class:`SeamPlan`.
    """
    h, w = crop_hw
    step = max(1, -(-max(h, w) // _GRID_SIDE))
    ch, cw = -(-h // step), -(-w // step)
    width = max(2, int(round(_BAND_FRACTION * cw)))
    pad = width + 1
    hm, wm = ch + 2 * pad, cw + 2 * pad
    # Pixel-centre aligned decimation: grid pixel centre u ↔ crop (u − pad + 0.5)·step − 0.5.
    offset = 0.5 / step - 0.5 + pad
    to_grid = np.array([[1.0 / step, 0.0, offset], [0.0, 1.0 / step, offset]])

    crop = np.zeros((hm, wm), bool)
    crop[pad:pad + ch, pad:pad + cw] = True
    seams = {"rect": _seam_between(crop, np.ones_like(crop), width, crop)}
    if inner_mask is not None:
        small = cv2.resize(inner_mask.astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
        region = np.zeros((hm, wm), bool)
        region[pad:pad + ch, pad:pad + cw] = small >= GENERATED_THRESHOLD
        if region.any():
            away_from_rect = distance_inside(crop) > width
            seams["inner"] = _seam_between(region, crop, width, away_from_rect)
    yy, xx = np.mgrid[0:hm, 0:wm]
    grid_xy = np.stack([xx.ravel(), yy.ravel()]).astype(np.float64)
    return SeamPlan(to_grid, (hm, wm), width, seams, grid_xy)


def _seam_between(region: np.ndarray, domain: np.ndarray, width: int, where: np.ndarray) -> Seam:
    inside = distance_inside(region)
    outside = distance_inside(domain & ~region)
    band_in = ((inside > 0) & (inside <= width)).astype(np.float32)
    band_out = ((outside > 0) & (outside <= width)).astype(np.float32)
    # The region's outer pixel ring, where a neighbour lies on the other side.
    edge = (inside > 0) & (inside < 1.5) & where
    edge &= cv2.dilate(band_out.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    pixels = np.nonzero(edge)
    return Seam(band_in, band_out, pixels, _box_sum(band_in, width)[pixels], _box_sum(band_out, width)[pixels])


def _box_sum(image: np.ndarray, radius: int) -> np.ndarray:
    size = (2 * radius + 1, 2 * radius + 1)
    return cv2.boxFilter(image, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)


def grid_affine(plan: SeamPlan, affine: np.ndarray) -> np.ndarray:
    """Frame → measuring-grid affine (``2×3`` float64) for a frame → crop ``affine``."""
    lin = plan.to_grid[:, :2]
    return np.hstack([lin @ affine[:, :2], (lin @ affine[:, 2] + plan.to_grid[:, 2])[:, None]])


def seam_steps(plan: SeamPlan, before: np.ndarray, after: np.ndarray, region: Region, affine: np.ndarray,
               frame_hw: Tuple[int, int]) -> Dict[str, np.ndarray]:
    """Signed colour step across each seam, per seam pixel.

    Args:
        plan: from :func:`plan_seams`.
        before, after: ``h_r×w_r×3`` uint8 RGB, the frame region ``region`` before and
            after the paste-back (outside it nothing changed).
        region: ``(x0, y0, x1, y1)`` of those arrays in the frame.
        affine: ``2×3`` frame → crop.
        frame_hw: ``(H, W)``; grid pixels that fall outside the frame are not measured.

    Returns:
        ``{seam name: K×3 float32}``, inside-minus-outside local mean of D per seam pixel
        (RGB, grey levels); rows are NaN where a side has no in-frame band pixels.
    """
    hm, wm = plan.grid_hw
    to_grid = grid_affine(plan, np.asarray(affine, dtype=np.float64))
    x0, y0 = region[0], region[1]
    diff = after.astype(np.float32) - before.astype(np.float32)
    grid_diff = cv2.warpAffine(diff, shift_affine(to_grid, x0, y0), (wm, hm),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    back = invert_affine(to_grid)
    fh, fw = frame_hw
    corners = np.array([[0.0, 0.0, wm - 1.0, wm - 1.0], [0.0, hm - 1.0, 0.0, hm - 1.0]])
    cx, cy = back[:, :2] @ corners + back[:, 2:]
    inside = bool(np.all((cx >= 0) & (cx <= fw - 1) & (cy >= 0) & (cy <= fh - 1)))
    if not inside:
        fx, fy = back[:, :2] @ plan.grid_xy + back[:, 2:]
        valid = ((fx >= 0) & (fx <= fw - 1) & (fy >= 0) & (fy <= fh - 1)).reshape(hm, wm).astype(np.float32)
    min_cover = _MIN_COVER * (2 * plan.radius + 1) ** 2
    steps = {}
    for name, seam in plan.seams.items():
        sides = []
        for band, full_cover in ((seam.band_in, seam.cover_in), (seam.band_out, seam.cover_out)):
            # A grid wholly inside the frame (the usual case) reuses the counts planned for it.
            weight = band if inside else band * valid
            cover = full_cover if inside else _box_sum(weight, plan.radius)[seam.pixels]
            total = _box_sum(grid_diff * weight[..., None], plan.radius)[seam.pixels]
            with np.errstate(invalid="ignore", divide="ignore"):
                sides.append(np.where(cover[:, None] >= min_cover, total / cover[:, None], np.nan))
        steps[name] = (sides[0] - sides[1]).astype(np.float32)
    return steps

