"""Full-reference quality measures for benchmarks and quality gates (not used per frame).

Conventions follow :mod:`pipeline.restore.geometry` (RGB uint8 images, x right, y down).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

# Spectrum whitening exponent. 1 is pure phase correlation, which weighs the highest
# frequencies fully; there resampling (any bilinear warp) bends the phase towards zero shift
# and biases the estimate by up to a third of the shift. 0 is plain cross-correlation, whose
# broad peak the taper drags towards zero. In between keeps the peak sharp and unbiased
# (measured: median error 0.03 px on bilinear and bicubic sub-pixel warps of the portrait).
_WHITENING = 0.3
# Sub-pixel refinement: 1/100 pixel steps over ±0.75 pixel around the integer peak.
_UPSAMPLE = 100
_REFINE_HALF_WIDTH = 0.75


def psnr(image: np.ndarray, reference: np.ndarray, where: np.ndarray) -> float:
    """PSNR in dB over the pixels where ``where`` is true (all channels), peak 255.

    Args:
        image, reference: ``H×W×3`` uint8 (or float in [0, 255]).
        where: ``H×W`` bool.

    Returns:
        PSNR in dB; ``inf`` for identical pixels.
    """
    err = image.astype(np.float64)[where] - reference.astype(np.float64)[where]
    mse = float(np.mean(err**2)) if err.size else 0.0
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(255.0**2 / mse))


def phase_shift(moved: np.ndarray, reference: np.ndarray) -> Tuple[float, float]:
    """Translation of ``moved`` relative to ``reference`` by phase correlation, sub-pixel.

    A Hann window tapers both images; the cross-power spectrum is partly whitened (divided
    by its magnitude to the power ``_WHITENING``); the integer correlation peak is refined with a locally upsampled inverse
    DFT (Guizar-Sicairos et al. 2008) to 1/100 pixel. ``cv2.phaseCorrelate`` is not used: on
    sizes whose optimal DFT size is odd it reports a spurious half-pixel shift.

    Args:
        moved, reference: ``H×W`` or ``H×W×3`` arrays of the same shape (RGB averaged).

    Returns:
        ``(dx, dy)`` in pixels such that ``moved(x, y) ≈ reference(x − dx, y − dy)``.
    """
    a, b = _grey(moved), _grey(reference)
    if a.shape != b.shape or min(a.shape) < 4:
        raise ValueError(f"need two images of one shape, at least 4×4; got {a.shape} and {b.shape}")
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    cross = np.fft.fft2((a - a.mean()) * window) * np.conj(np.fft.fft2((b - b.mean()) * window))
    cross /= np.maximum(np.abs(cross), 1e-12) ** _WHITENING
    corr = np.abs(np.fft.ifft2(cross))
    peak = np.array(np.unravel_index(np.argmax(corr), corr.shape), dtype=np.float64)
    size = np.array(corr.shape, dtype=np.float64)
    peak = np.where(peak > size // 2, peak - size, peak)
    steps = np.arange(-_REFINE_HALF_WIDTH, _REFINE_HALF_WIDTH + 1e-9, 1.0 / _UPSAMPLE)
    ys, xs = peak[0] + steps, peak[1] + steps
    ker_y = np.exp(2j * np.pi * np.outer(ys, np.fft.fftfreq(a.shape[0])))
    ker_x = np.exp(2j * np.pi * np.outer(np.fft.fftfreq(a.shape[1]), xs))
    local = np.abs(ker_y @ cross @ ker_x)
    iy, ix = np.unravel_index(np.argmax(local), local.shape)
    return float(xs[ix]), float(ys[iy])


def _grey(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image, dtype=np.float64)
    return arr.mean(axis=2) if arr.ndim == 3 else arr


# -- where a render's seam is worst (the proof stage's automatic proofs) -------------------

# Top of the seam heat map's scale, grey levels: a 2-level step is a quarter of the way up,
# which the colour map shows as a clearly different colour from 0.
SEAM_HEAT_SCALE = 8.0


def seam_series(frames, originals, affines: np.ndarray, found: np.ndarray, crop_hw: Tuple[int, int],
                paste: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per frame, the gate's seam figure and its change from the frame before.

    Args:
        frames, originals: iterables of ``H×W×3`` uint8 RGB, the finished frames and the
            frames before the paste-back, in step.
        affines: ``N×2×3`` frame → crop; ``found``: ``N`` bool, frames with a face.
        crop_hw: ``(h, w)`` of the crop; ``paste``: ``h×w`` float32 paste weight in [0, 1]
            (where the generated region was pasted, after feathering).

    Returns:
        ``(seam, change)``, two ``N`` float64 arrays, NaN where not measured: ``seam`` is the
        larger of the rectangle and inner seams' mean step (as the quality gate takes it),
        ``change`` the mean absolute change of the seam steps since the previous frame.
    """
    from pipeline.restore.geometry import crop_region
    from pipeline.restore.seams import plan_seams, seam_steps

    plan = plan_seams(crop_hw, paste)
    count = len(found)
    seam = np.full(count, np.nan)
    change = np.full(count, np.nan)
    last = None
    for index, (frame, original) in enumerate(zip(frames, originals)):
        if index >= count:
            break
        region = crop_region(affines[index], crop_hw, frame.shape[:2], margin=2) if found[index] else None
        if region is None:
            last = None
            continue
        x0, y0, x1, y1 = region
        steps = seam_steps(plan, original[y0:y1, x0:x1], frame[y0:y1, x0:x1], region, affines[index],
                           frame.shape[:2])
        means = [np.abs(vec).mean(axis=1) for vec in steps.values()]
        means = [m[np.isfinite(m)] for m in means]
        figures = [float(m.mean()) for m in means if m.size]
        seam[index] = max(figures) if figures else np.nan
        if last is not None:
            moved = [np.abs(vec - last[name]).mean(axis=1) for name, vec in steps.items()
                     if name in last and last[name].shape == vec.shape]
            moved = np.concatenate([m[np.isfinite(m)] for m in moved]) if moved else np.zeros(0)
            change[index] = float(moved.mean()) if moved.size else np.nan
        last = steps
    return seam, change


def worst_frame(values: np.ndarray) -> int | None:
    """Index of the largest measured value, or None when nothing was measured."""
    if not np.isfinite(values).any():
        return None
    return int(np.nanargmax(values))


def seam_heat(final: np.ndarray, original: np.ndarray, scale: float = SEAM_HEAT_SCALE) -> np.ndarray:
    """Heat map of what the paste-back changed, on a fixed scale.

    Args:
        final, original: ``h×w×3`` uint8 RGB, the same crop after and before the paste-back.
        scale: grey levels shown at the top of the colour map (and above it).

    Returns:
        ``h×w×3`` uint8 RGB: the mean absolute RGB difference mapped through inferno, 0 black,
        ``scale`` pale yellow. Outside the pasted region the difference is 0, so a colour step
        at the seam shows as the edge of a coloured area; 2 grey levels are a quarter up.
    """
    import cv2

    diff = np.abs(final.astype(np.float32) - original.astype(np.float32)).mean(axis=2)
    level = np.clip(diff / scale * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def heat_scale_bar(height: int, width: int, scale: float = SEAM_HEAT_SCALE) -> np.ndarray:
    """A vertical colour bar for :func:`seam_heat`: ``height×width×3`` uint8 RGB, ``scale`` at
    the top, 0 at the bottom."""
    import cv2

    ramp = np.linspace(255, 0, height).astype(np.uint8)[:, None].repeat(width, axis=1)
    return cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
