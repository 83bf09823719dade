"""Region-limited warps and the two classic paste-backs (stock alpha, seamlessClone).

Everything here works on the frame region the crop covers (see
:func:`pipeline.restore.geometry.crop_region`), never on the whole frame: at 1080p that is
about 20× cheaper than LatentSync's full-frame warps and blurs, and gives the same pixels
(but for the two stock defects noted in :func:`paste_alpha`).
Conventions are those of :mod:`pipeline.restore.geometry` (RGB, x right, y down, pixel
centres at integers, affine 2×3 frame → crop).
"""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

from pipeline.restore.geometry import Region, crop_bounds, crop_region, shift_affine

# Stock LatentSync feathers the rectangle by a width tied to the pasted area:
# w = floor(sqrt(area)) // 20, i.e. about 5 % of the crop's side.
_STOCK_EDGE_DIVISOR = 20
# Zero rows kept around the mask handed to seamlessClone: OpenCV clears the mask's outer
# one-pixel frame and needs the placed box strictly inside dst.
_SEAMLESS_PAD = 4


def warp_crop_to_region(crop: np.ndarray, affine: np.ndarray, region: Region, border: int) -> np.ndarray:
    """Warp a crop-space image into a frame region (bilinear).

    Args:
        crop: ``h×w`` or ``h×w×C`` float32 (or uint8) image in crop space.
        affine: ``2×3`` frame → crop.
        region: ``(x0, y0, x1, y1)`` frame region receiving the result.
        border: ``cv2.BORDER_REPLICATE`` for image content (no dark fringe at the crop's
            edge), ``cv2.BORDER_CONSTANT`` (zeros) for masks.

    Returns:
        ``(y1-y0)×(x1-x0)[×C]`` array of ``crop``'s dtype.
    """
    x0, y0, x1, y1 = region
    return cv2.warpAffine(
        crop,
        shift_affine(affine, x0, y0),
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=border,
        borderValue=0,
    )


def warp_frame_to_crop(frame: np.ndarray, affine: np.ndarray, crop_hw: Tuple[int, int], region: Region) -> np.ndarray:
    """Sample the frame in crop space (bilinear, edge pixels replicated outside the frame).

    Args:
        frame: ``H×W×3`` uint8 RGB.
        affine: ``2×3`` frame → crop.
        crop_hw: ``(h, w)``.
        region: a frame region holding every frame pixel the crop covers (only it is
            read, which keeps the float conversion small).

    Returns:
        ``h×w×3`` float32, the original content under the crop.
    """
    x0, y0, x1, y1 = region
    h, w = crop_hw
    return cv2.warpAffine(
        frame[y0:y1, x0:x1].astype(np.float32), shift_affine(affine, x0, y0), (w, h),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
    )


def stock_soft_mask(coverage: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """LatentSync's rectangle feather, from the warped all-ones crop.

    Erode 2×2, then by ``2w`` with ``w = floor(sqrt(area)) // 20``, then a ``(2w+1)``
    Gaussian with ``σ = 0.3·((k−1)/2 − 1) + 0.8``; the weight is then cut to the face's
    footprint (see below: stock differs there by at most one grey level, on one pixel
    line). OpenCV's default morphology border does
    not erode from outside the image, like kornia's geodesic border in the original, and the
    blur reflects (kornia's "reflect" is OpenCV's REFLECT_101), so a region that holds the
    whole coverage gives the full-frame result.

    Args:
        coverage: ``h×w`` float32 in [0, 1], the all-ones crop warped into a frame region
            (zero outside the crop).

    Returns:
        ``(eroded, soft)``, both float32 like ``coverage``: the 2×2-eroded coverage that
        multiplies the face, and the feathered blend weight.
    """
    eroded = cv2.erode(coverage, np.ones((2, 2), np.uint8))
    edge = int(float(eroded.sum(dtype=np.float64)) ** 0.5) // _STOCK_EDGE_DIVISOR
    # An empty kernel (edge 0) is OpenCV's 3×3 default, as in LatentSync.
    center = cv2.erode(eroded, np.ones((2 * edge, 2 * edge), np.uint8))
    ksize = 2 * edge + 1
    sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8
    soft = cv2.GaussianBlur(center, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT_101)
    # The 2×2 and 2w kernels erode the right and bottom sides one pixel less than the blur
    # spreads, so stock's weight leaks one pixel past the face and darkens the frame there by
    # truncation; keep it where the face is.
    soft[eroded <= 0] = 0.0
    return eroded, soft


def paste_alpha(frame: np.ndarray, face: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """LatentSync's stock paste-back, computed on the covered region only.

    ``out = soft·(eroded·face) + (1 − soft)·frame``, truncated to uint8 as LatentSync does.
    Two stock defects are not reproduced, both at the rectangle's very edge: outside the crop
    the face is sampled with its edge pixels replicated where LatentSync pads with white (a
    faint light fringe), and the weight is cut to the face's footprint where stock's leaks a
    pixel past the right and bottom sides (a darkened line). Elsewhere the arithmetic is
    stock's, so the result is within a grey level of LatentSync's.

    Args:
        frame: ``H×W×3`` uint8 RGB.
        face: ``h×w×3`` uint8 (or float32 in [0, 255]) RGB aligned crop.
        affine: ``2×3`` frame → crop.

    Returns:
        New ``H×W×3`` uint8 RGB frame; pixels outside the region are copied unchanged.
    """
    out = frame.copy()
    region = crop_region(affine, face.shape[:2], frame.shape[:2], margin=2)
    if region is None:
        return out
    x0, y0, x1, y1 = region
    face_r = warp_crop_to_region(face.astype(np.float32), affine, region, cv2.BORDER_REPLICATE)
    ones = np.ones(face.shape[:2], np.float32)
    eroded, soft = stock_soft_mask(warp_crop_to_region(ones, affine, region, cv2.BORDER_CONSTANT))
    base = frame[y0:y1, x0:x1].astype(np.float32)
    blended = soft[..., None] * (eroded[..., None] * face_r) + (1.0 - soft[..., None]) * base
    out[y0:y1, x0:x1] = np.clip(blended, 0.0, 255.0).astype(np.uint8)
    return out


def paste_seamless(frame: np.ndarray, face: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """``cv2.seamlessClone`` of the crop rectangle, without shift and safe at frame edges.

    The clone runs in a padded copy of the covered region (edge pixels replicated where it
    leaves the frame), the centre is OpenCV's own bounding-box centre of the zero-framed
    mask (which places the content exactly where it was), and the mask is passed as a copy
    (OpenCV 4.11+ modifies it). Only pixels under the mask change.

    Args:
        frame: ``H×W×3`` uint8 RGB.
        face: ``h×w×3`` uint8 RGB aligned crop.
        affine: ``2×3`` frame → crop.

    Returns:
        New ``H×W×3`` uint8 RGB frame.

    Raises:
        cv2.error: when OpenCV rejects the clone (callers count it as a fallback).
    """
    out = frame.copy()
    fh, fw = frame.shape[:2]
    if crop_region(affine, face.shape[:2], (fh, fw), margin=0) is None:
        return out
    bx0, by0, bx1, by1 = crop_bounds(affine, face.shape[:2], margin=_SEAMLESS_PAD)
    box = (bx0, by0, bx1, by1)
    src = warp_crop_to_region(face, affine, box, cv2.BORDER_REPLICATE)
    ones = np.ones(face.shape[:2], np.float32)
    coverage = cv2.erode(warp_crop_to_region(ones, affine, box, cv2.BORDER_CONSTANT), np.ones((2, 2), np.uint8))
    mask = np.where(coverage > 0.5, 255, 0).astype(np.uint8)
    # OpenCV zeroes the mask's outer frame before taking its bounding box: do the same, so
    # that the centre computed here is the one that puts the box back where it came from.
    mask[[0, -1], :] = 0
    mask[:, [0, -1]] = 0
    if not mask.any():
        return out
    cx0, cy0, cx1, cy1 = max(bx0, 0), max(by0, 0), min(bx1, fw), min(by1, fh)
    dst = cv2.copyMakeBorder(
        frame[cy0:cy1, cx0:cx1], cy0 - by0, by1 - cy1, cx0 - bx0, bx1 - cx1, cv2.BORDER_REPLICATE
    )
    x, y, w, h = cv2.boundingRect(mask)
    cloned = cv2.seamlessClone(src, dst, mask.copy(), (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    inside = (slice(cy0 - by0, cy1 - by0), slice(cx0 - bx0, cx1 - bx0))
    keep = mask[inside] > 0
    region = out[cy0:cy1, cx0:cx1]
    region[keep] = cloned[inside][keep]
    return out
