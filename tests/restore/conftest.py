"""Scenes for the restore engine's tests, built from the real photograph in the demo assets.

Only numpy, OpenCV and pytest: CI runs this directory again under Python 3.10 with
numpy 1.26 and OpenCV 4.9.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Tuple

import cv2
import numpy as np
import pytest

from pipeline.restore import latentsync_template, similarity_from_points, synthetic_inner_mask

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "pipeline" / "demo" / "assets" / "portrait.jpg"
MASK_PNG = ROOT.parent / "shared" / "data" / "latentsync" / "mask.png"
# Eyebrow centres and nose centre in the 512² portrait.
BROWS_NOSE = np.array([[202.5, 92.5], [247.5, 92.5], [225.0, 120.0]])


@dataclass
class Scene:
    """One frame and its LatentSync-like crop.

    ``ideal`` is the frame itself (the generated crop carries no content change), so any
    difference between a restored frame and ``ideal`` is blur, drift or damage.
    """

    frame: np.ndarray      # H×W×3 uint8 RGB
    face: np.ndarray       # h×w×3 uint8 RGB: blurred, drifted crop inside the mask, original outside
    affine: np.ndarray     # 2×3 frame → crop
    inner: np.ndarray      # h×w float32, 1 = generated
    drift: np.ndarray      # h×w×3 float32 colour drift added inside the mask

    @property
    def ideal(self) -> np.ndarray:
        return self.frame


@pytest.fixture(scope="session")
def portrait() -> np.ndarray:
    img = cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR)
    assert img is not None, f"missing test asset {PORTRAIT}"
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def smooth_drift(crop_hw: Tuple[int, int], offset, spread: float, seed: int) -> np.ndarray:
    """Low-frequency RGB colour field: a constant per channel plus a 3×3-knot bicubic field."""
    rng = np.random.default_rng(seed)
    knots = rng.normal(0.0, spread, (3, 3, 3)).astype(np.float32)
    field = cv2.resize(knots, (crop_hw[1], crop_hw[0]), interpolation=cv2.INTER_CUBIC)
    return field + np.asarray(offset, np.float32)


def compose(portrait: np.ndarray, frame_wh: Tuple[int, int], scale: float, at: Tuple[float, float],
            angle: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """The portrait placed into a frame: nose centre at ``at``; returns (frame, portrait→frame)."""
    m = cv2.getRotationMatrix2D((float(BROWS_NOSE[2, 0]), float(BROWS_NOSE[2, 1])), angle, scale)
    m[:, 2] += np.asarray(at, np.float64) - BROWS_NOSE[2]
    frame = cv2.warpAffine(portrait, m, frame_wh, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    return frame, m


def generated_crop(frame: np.ndarray, affine: np.ndarray, crop_hw: Tuple[int, int], inner: np.ndarray,
                   drift: np.ndarray, blur_sigma: float = 0.8) -> np.ndarray:
    """LatentSync-like output: the aligned crop, blurred and drifted inside ``inner``,
    hard-composited over the original crop."""
    h, w = crop_hw
    original = cv2.warpAffine(frame, affine, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    vae = cv2.GaussianBlur(original, (0, 0), blur_sigma) + drift
    out = vae * inner[..., None] + original * (1.0 - inner[..., None])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def make_scene(portrait) -> Callable[..., Scene]:
    """``make_scene(frame_wh=(640, 480), scale=1.8, at=None, angle=0, version="1.5", ...)``."""

    def build(frame_wh=(640, 480), scale=1.8, at=None, angle=0.0, version="1.5",
              offset=(7.0, -4.0, -6.0), spread=3.0, seed=0, inner: Optional[np.ndarray] = None,
              crop_hw: Optional[Tuple[int, int]] = None) -> Scene:
        at = (frame_wh[0] / 2, frame_wh[1] / 2) if at is None else at
        frame, to_frame = compose(portrait, frame_wh, scale, at, angle)
        template, (cw, ch) = latentsync_template(version)
        if crop_hw is not None:
            # Other crop sizes: the template scaled to the new width.
            template = template * (crop_hw[1] / cw)
            ch, cw = crop_hw
        landmarks = BROWS_NOSE @ to_frame[:, :2].T + to_frame[:, 2]
        affine = similarity_from_points(landmarks, template)
        mask = synthetic_inner_mask((ch, cw)) if inner is None else inner
        drift = smooth_drift((ch, cw), offset, spread, seed)
        face = generated_crop(frame, affine, (ch, cw), mask, drift)
        return Scene(frame, face, affine, mask, drift)

    return build


def _stock_reference(frame: np.ndarray, face: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """LatentSync's AlignRestore.restore_img written out at full-frame size, step by step as it
    runs there (kornia → OpenCV equivalents: bilinear warps with pixel centres at integers,
    geodesic erosion = OpenCV's default border, kornia 'reflect' = BORDER_REFLECT_101)."""
    h, w = frame.shape[:2]
    inverse = cv2.invertAffineTransform(affine)
    inv_face = cv2.warpAffine(face.astype(np.float32), inverse, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    inv_mask = cv2.warpAffine(np.ones(face.shape[:2], np.float32), inverse, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inv_mask_erosion = cv2.erode(inv_mask, np.ones((2, 2), np.uint8))
    pasted_face = inv_mask_erosion[..., None] * inv_face
    w_edge = int(float(inv_mask_erosion.sum()) ** 0.5) // 20
    inv_mask_center = cv2.erode(inv_mask_erosion, np.ones((2 * w_edge, 2 * w_edge), np.uint8))
    blur_size = 2 * w_edge + 1
    sigma = 0.3 * ((blur_size - 1) * 0.5 - 1) + 0.8
    soft = cv2.GaussianBlur(inv_mask_center, (blur_size, blur_size), sigma, borderType=cv2.BORDER_REFLECT_101)[..., None]
    img_back = soft * pasted_face + (1 - soft) * frame.astype(np.float32)
    return np.clip(img_back, 0, 255).astype(np.uint8)


def _rect_coverage(frame_hw: Tuple[int, int], affine: np.ndarray, crop_hw: Tuple[int, int]) -> np.ndarray:
    """H×W bool: frame pixels that a bilinear warp of the crop reaches at all (> 0 weight)."""
    cover = cv2.warpAffine(np.ones(crop_hw, np.float32), cv2.invertAffineTransform(affine),
                           (frame_hw[1], frame_hw[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return cover > 0


def _region_pixels(frame_hw: Tuple[int, int], affine: np.ndarray, mask: np.ndarray, level: float) -> np.ndarray:
    """H×W bool: frame pixels where a crop-space ``mask`` warped into the frame is ≥ ``level``."""
    warped = cv2.warpAffine(mask.astype(np.float32), cv2.invertAffineTransform(affine), (frame_hw[1], frame_hw[0]),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return warped >= level


@pytest.fixture
def mask_png() -> np.ndarray:
    """LatentSync's mask.png (grey uint8) from ../shared, or a clean skip where it is absent."""
    if not MASK_PNG.is_file():
        pytest.skip(f"LatentSync's mask.png not available at {MASK_PNG}")
    png = cv2.imread(str(MASK_PNG), cv2.IMREAD_GRAYSCALE)
    if png is None:
        pytest.skip(f"cannot read {MASK_PNG}")
    return png


@pytest.fixture(scope="session")
def stock_reference() -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    return _stock_reference


@pytest.fixture(scope="session")
def rect_coverage() -> Callable[..., np.ndarray]:
    return _rect_coverage


@pytest.fixture(scope="session")
def region_pixels() -> Callable[..., np.ndarray]:
    return _region_pixels
