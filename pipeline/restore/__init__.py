"""The restore engine: paste LatentSync's generated face crops back into their frames.

An island: depends on numpy, OpenCV and scipy only (it also runs inside LatentSync's own
Python 3.10 / numpy 1.26 / OpenCV 4.9 process). Conventions are set out in
:mod:`pipeline.restore.geometry`.

    from pipeline.restore import Restorer
    r = Restorer(blend="poisson", inner_mask=mask)
    frame_out = r.restore_img(frame, face, affine)
"""

from pipeline.restore.geometry import (
    inner_mask_from_latentsync_png,
    latentsync_template,
    similarity_from_points,
    synthetic_inner_mask,
)
from pipeline.restore.restorer import (
    BLENDS,
    DEFAULT_BLUR,
    DEFAULT_ERODE,
    DEFAULT_TEMPORAL,
    Restorer,
    merge_summaries,
)
from pipeline.restore.track import Track, read_track, write_track

__all__ = [
    "BLENDS",
    "DEFAULT_BLUR",
    "DEFAULT_ERODE",
    "DEFAULT_TEMPORAL",
    "Restorer",
    "Track",
    "inner_mask_from_latentsync_png",
    "latentsync_template",
    "merge_summaries",
    "read_track",
    "similarity_from_points",
    "synthetic_inner_mask",
    "write_track",
]
