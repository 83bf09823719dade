"""STAND-IN for LatentSync's InsightFace detector (tests only; not LatentSync).

Finds the marker dots the tests draw: two green "eyebrow" dots and one blue "nose" dot.
Returns (bbox, 106 landmarks) like the real detector, with the eyebrow and nose landmark
indices LatentSync averages filled in, or (None, None) when the markers are absent.
"""

import numpy as np

LEFT_BROW = [43, 48, 49, 51, 50]
RIGHT_BROW = list(range(101, 106))
NOSE = [74, 77, 83, 86]


class FaceDetector:
    def __init__(self, device="cuda"):
        self.device = device

    def __call__(self, frame, threshold=0.5):
        img = np.asarray(frame).astype(np.int32)
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        green = (g > 150) & (r < 120) & (b < 120)
        blue = (b > 150) & (r < 120) & (g < 120)
        gy, gx = np.nonzero(green)
        by, bx = np.nonzero(blue)
        if len(gx) < 4 or len(bx) < 2:
            return None, None
        split = gx.mean()
        left, right = gx < split, gx >= split
        if not left.any() or not right.any():
            return None, None
        brow_l = np.array([gx[left].mean(), gy[left].mean()])
        brow_r = np.array([gx[right].mean(), gy[right].mean()])
        nose = np.array([bx.mean(), by.mean()])
        landmarks = np.zeros((106, 2))
        landmarks[LEFT_BROW] = brow_l
        landmarks[RIGHT_BROW] = brow_r
        landmarks[NOSE] = nose
        span = brow_r[0] - brow_l[0]
        bbox = (int(brow_l[0] - span), int(brow_l[1] - span), int(brow_r[0] + span), int(nose[1] + 2 * span))
        return bbox, np.round(landmarks).astype(np.int_)
