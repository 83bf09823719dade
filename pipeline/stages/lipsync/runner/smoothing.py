"""Temporal smoothing of LatentSync's per-frame alignment matrices.

LatentSync fits a similarity (rotation, uniform scale, translation) from three rounded
landmark points per frame, so the crop jitters by a pixel or two from frame to frame; the
generated mouth then shimmers against a still head. Here the six affine parameters are
averaged over a centred Gaussian window (zero lag: the whole clip is known before any crop
is cut). A linear combination of similarities is a similarity, so the result stays one.

The window never reaches across a cut (a jump of the crop centre or scale between two
frames with a face), and frames without a face take no part: they get the average of their
face-bearing neighbours (or the nearest such frame), so the model still sees a sensible crop.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

DEFAULT_SIGMA = 2.0          # frames (80 ms at 25 fps)
CUT_SHIFT = 0.25             # centre jump, as a fraction of the crop's width in the frame
CUT_SCALE = 0.15             # |log| of the scale ratio between consecutive faces


def crop_centre(affine: np.ndarray, crop_wh: Tuple[int, int]) -> np.ndarray:
    """Frame coordinates (x, y) of the crop's centre."""
    a = np.asarray(affine, dtype=np.float64)
    lin, t = a[:, :2], a[:, 2]
    centre = np.array([crop_wh[0] / 2.0, crop_wh[1] / 2.0])
    return np.linalg.solve(lin, centre - t)


def crop_scale(affine: np.ndarray) -> float:
    """Crop pixels per frame pixel."""
    a = np.asarray(affine, dtype=np.float64)
    return math.sqrt(abs(a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]))


def is_cut(before: np.ndarray, after: np.ndarray, crop_wh: Tuple[int, int],
           cut_shift: float = CUT_SHIFT, cut_scale: float = CUT_SCALE) -> bool:
    """Whether two consecutive face matrices belong to different shots."""
    s0, s1 = crop_scale(before), crop_scale(after)
    if s0 <= 0 or s1 <= 0:
        return True
    width_in_frame = crop_wh[0] / s0
    shift = float(np.linalg.norm(crop_centre(after, crop_wh) - crop_centre(before, crop_wh)))
    return shift > cut_shift * width_in_frame or abs(math.log(s1 / s0)) > cut_scale


def smooth_affines(
    raw: Sequence[Optional[np.ndarray]],
    crop_wh: Tuple[int, int],
    sigma: float = DEFAULT_SIGMA,
    fallback: Optional[np.ndarray] = None,
) -> Tuple[List[np.ndarray], List[int], List[int]]:
    """Smooth a clip's matrices.

    Args:
        raw: per frame, a 2×3 frame→crop matrix, or None where no face was found.
        crop_wh: (w, h) of the crop.
        sigma: Gaussian window in frames; 0 keeps the raw matrices (faceless frames still
            borrow their nearest neighbour's).
        fallback: matrix for every frame when no frame has a face.

    Returns:
        (smoothed matrices, one 2×3 float64 per frame; indices of frames that start a new
        shot; per frame, the shot it belongs to).
    """
    n = len(raw)
    good = [i for i, m in enumerate(raw) if m is not None]
    if not good:
        if fallback is None:
            raise ValueError("no frame has a face and no fallback matrix was given")
        return [np.array(fallback, dtype=np.float64) for _ in range(n)], [], [0] * n
    params = {i: np.asarray(raw[i], dtype=np.float64).reshape(6) for i in good}
    shot_of_good = {good[0]: 0}
    cuts: List[int] = []
    for a, b in zip(good, good[1:]):
        shot = shot_of_good[a]
        if is_cut(params[a].reshape(2, 3), params[b].reshape(2, 3), crop_wh):
            shot += 1
            cuts.append(b)
        shot_of_good[b] = shot
    nearest = _nearest_good(n, good)
    radius = int(math.ceil(3.0 * sigma)) if sigma > 0 else 0
    good_set = set(good)
    out: List[np.ndarray] = []
    shots: List[int] = []
    for i in range(n):
        home = nearest[i]
        shot = shot_of_good[home]
        shots.append(shot)
        if radius == 0:
            out.append(params[home].reshape(2, 3).copy())
            continue
        total = np.zeros(6)
        weight = 0.0
        for j in range(max(0, i - radius), min(n, i + radius + 1)):
            if j in good_set and shot_of_good[j] == shot:
                w = math.exp(-0.5 * ((j - i) / sigma) ** 2)
                total += w * params[j]
                weight += w
        out.append((total / weight if weight > 0 else params[home]).reshape(2, 3))
    return out, cuts, shots


def jitter(matrices: Sequence[Optional[np.ndarray]], crop_wh: Tuple[int, int],
           cuts: Sequence[int] = ()) -> Optional[float]:
    """Mean frame-to-frame movement of the crop centre (frame pixels) over consecutive
    frames that both have a matrix, not counting the jumps at cuts."""
    cut_set = set(cuts)
    steps = []
    for i in range(1, len(matrices)):
        a, b = matrices[i - 1], matrices[i]
        if a is None or b is None or i in cut_set:
            continue
        steps.append(float(np.linalg.norm(crop_centre(b, crop_wh) - crop_centre(a, crop_wh))))
    return float(np.mean(steps)) if steps else None


def _nearest_good(n: int, good: Sequence[int]) -> List[int]:
    """For each frame, the nearest frame with a face (the earlier one on a tie)."""
    result = []
    k = 0
    for i in range(n):
        while k + 1 < len(good) and abs(good[k + 1] - i) < abs(good[k] - i):
            k += 1
        result.append(good[k])
    return result
