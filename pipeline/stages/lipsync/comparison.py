"""Before/after panels of two paste-backs of the same generated crop.

Images are H×W×3 uint8 RGB; affines 2×3 float frame → crop (see `pipeline.restore`).
"""

from __future__ import annotations

import cv2
import numpy as np

from ...restore import Restorer

PANEL_HEIGHT = 360


def face_window(affine: np.ndarray, crop_wh: tuple[int, int], frame_hw: tuple[int, int],
                margin: float = 0.25) -> tuple[int, int, int, int]:
    """The frame rectangle (x0, y0, x1, y1), end-exclusive, around the crop's footprint."""
    width, height = crop_wh
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
    inverse = cv2.invertAffineTransform(affine)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    pad_x, pad_y = (x1 - x0) * margin, (y1 - y0) * margin
    frame_h, frame_w = frame_hw
    return (max(0, int(x0 - pad_x)), max(0, int(y0 - pad_y)),
            min(frame_w, int(np.ceil(x1 + pad_x))), min(frame_h, int(np.ceil(y1 + pad_y))))


def difference_heatmap(a: np.ndarray, b: np.ndarray, full_scale: float = 24.0) -> np.ndarray:
    """|a − b| (mean over channels) as an inferno heat-map, `full_scale` grey levels = white."""
    difference = np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2)
    scaled = np.clip(difference * (255.0 / full_scale), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def compare_blends(frame: np.ndarray, face: np.ndarray, affine: np.ndarray, before: Restorer,
                   after: Restorer, labels: tuple[str, str]) -> np.ndarray:
    """Side by side: `before` paste-back | `after` paste-back | heat-map of their difference,
    each cut to the face's surroundings and scaled to the same height."""
    first = before.restore_img(frame, face, affine)
    second = after.restore_img(frame, face, affine)
    x0, y0, x1, y1 = face_window(affine, (face.shape[1], face.shape[0]), frame.shape[:2])
    tiles = [first[y0:y1, x0:x1], second[y0:y1, x0:x1], difference_heatmap(first[y0:y1, x0:x1], second[y0:y1, x0:x1])]
    captions = [*labels, "difference (white = 24 levels)"]
    scale = PANEL_HEIGHT / max(1, y1 - y0)
    size = (max(1, int(round((x1 - x0) * scale))), PANEL_HEIGHT)
    out = [_caption(cv2.resize(tile, size, interpolation=cv2.INTER_AREA), text) for tile, text in zip(tiles, captions)]
    return np.hstack(out)


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    band = np.full((28, tile.shape[1], 3), 20, np.uint8)
    cv2.putText(band, text, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([tile, band])
