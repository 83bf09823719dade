"""Crop-space masks: the feathered paste mask and the seam bands.

All masks are ``h×w`` float32 in [0, 1] (or bool where stated) in crop space, with the
crop's outside counted as "not generated": a region that reaches the crop's side has a
seam there too (the rectangle seam).
"""

from __future__ import annotations

import cv2
import numpy as np

# A pixel is "generated" for topology (bands, boundary) when the soft mask says at least half.
GENERATED_THRESHOLD = 0.5


def feather(mask: np.ndarray, erode: int, blur: int) -> np.ndarray:
    """Erode a mask inward, then feather its edge with a Gaussian.

    Args:
        mask: ``h×w`` float32 in [0, 1].
        erode: erosion radius in crop pixels (elliptical kernel ``2·erode+1``); 0 = none.
        blur: feather radius in crop pixels: Gaussian kernel ``2·blur+1`` with OpenCV's
            σ for that size, ``0.3·(blur − 1) + 0.8``; 0 = hard edge.

    Returns:
        ``h×w`` float32 in [0, 1]. With ``erode ≥ blur`` the feather stays inside ``mask``.
    """
    if erode == 0 and blur == 0:
        return mask.astype(np.float32)
    pad = erode + blur + 1
    # Zero padding makes the crop's sides an edge like any other.
    out = cv2.copyMakeBorder(mask.astype(np.float32), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    if erode > 0:
        out = cv2.erode(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)))
    if blur > 0:
        out = cv2.GaussianBlur(out, (2 * blur + 1, 2 * blur + 1), 0)
    return out[pad:-pad, pad:-pad]


def distance_inside(mask_bool: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) from each pixel of a region to the nearest pixel outside it.

    The crop's outside counts as outside, so pixels next to the crop's side get 1.

    Args:
        mask_bool: ``h×w`` bool region.

    Returns:
        ``h×w`` float32; 0 outside the region, ≥ 1 inside.
    """
    padded = cv2.copyMakeBorder(mask_bool.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def inner_band(mask: np.ndarray, width: float) -> np.ndarray:
    """Pixels of the generated region lying along its edge, where boundary colour is read.

    Args:
        mask: ``h×w`` float32 in [0, 1].
        width: band width in pixels.

    Returns:
        ``h×w`` bool: inside the region, with distance to the edge in ``(1, 1 + width]`` and
        mask value ≥ 0.98 (fully generated). The edge pixel itself is left out: a resized
        mask's soft transition mixes generated and original there.
    """
    dist = distance_inside(mask >= GENERATED_THRESHOLD)
    return (dist > 1.0) & (dist <= 1.0 + width) & (mask >= 0.98)
