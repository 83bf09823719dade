"""Display copies of proof images: JPEGs small enough for a web page.

Pixels are H×W×3 uint8 in BGR order (OpenCV's, as read by cv2.imread).
"""

from __future__ import annotations

import cv2
import numpy as np

# Display copy -> (maximum width in pixels, JPEG quality).
VIEWS = {"view": (1280, 85), "thumb": (480, 80)}


def display_jpeg(pixels: np.ndarray, view: str) -> tuple[bytes, int, int]:
    """A progressive JPEG of `pixels` no wider than the view's width: (bytes, width, height)."""
    max_width, quality = VIEWS[view]
    height, width = pixels.shape[:2]
    if width > max_width:
        height = max(1, round(height * max_width / width))
        width = max_width
        pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {width}x{height} JPEG")
    return encoded.tobytes(), width, height
