"""TEST SHIMS for running the real LatentSync code on a CPU with tiny random weights.

Active only in the Python whose ``sys.prefix`` is named by ``ALPHA_TEST_LATENTSYNC_CPU_SHIMS``
(the lane's LatentSync venv), so alpha's own process, which has this folder on PYTHONPATH too
(it passes its environment on to LatentSync), is never touched. Each shim stands in for
something a CPU machine without weights or network cannot have; none changes a file of the
LatentSync checkout:

1. torchvision C ops: the only torchvision built for torch 2.13 here links CUDA, and its
   ``_meta_registrations`` fail on import ("operator torchvision::nms does not exist").
   LatentSync uses only ``torchvision.transforms``, so that module is replaced by an empty one.
2. cuda -> cpu: LatentSync hard-codes "cuda" (scripts/inference.py, the pipeline, the
   whisper loader's map_location). A TorchFunctionMode rewrites cuda devices to cpu.
3. float16 -> float32: ``AlignRestore`` defaults to float16, and kornia's ``grid_sample`` in
   float16 on CPU corrupts the crops or segfaults. The same mode rewrites float16 to float32.
   (``torch.load`` runs outside the mode: rewriting inside unpickling breaks storages.)
4. A fake ``insightface.app.FaceAnalysis``: no detector weights exist here (buffalo_l) and
   insightface cannot install beside LatentSync's pins. The fake finds the tests' synthetic
   face (:func:`find_face`: the skin-coloured ellipse of tests/latentsync_real/scene.py) and
   returns its box and a 106-point landmark layout; LatentSync's own ``FaceDetector`` and
   ``ImageProcessor.affine_transform`` run unchanged on it. A frame without the ellipse has no
   face.
"""

from __future__ import annotations

import os
import sys
import types


def _active() -> bool:
    wanted = os.environ.get("ALPHA_TEST_LATENTSYNC_CPU_SHIMS")
    return bool(wanted) and os.path.realpath(sys.prefix) == os.path.realpath(wanted)


# -- 1. torchvision's meta registrations ---------------------------------------------------

def _skip_torchvision_meta_registrations() -> None:
    sys.modules["torchvision._meta_registrations"] = types.ModuleType(
        "torchvision._meta_registrations", "TEST SHIM: skipped (CUDA-only torchvision C ops)")


# -- 2 and 3. cuda -> cpu, float16 -> float32 ------------------------------------------------

def _install_cpu_mode() -> None:
    import torch
    from torch.overrides import TorchFunctionMode

    cpu = torch.device("cpu")

    def rewrite(value):
        if isinstance(value, str) and value.startswith("cuda"):
            return "cpu"
        if isinstance(value, torch.device) and value.type == "cuda":
            return cpu
        if value is torch.float16:
            return torch.float32
        if isinstance(value, (list, tuple)) and any(_rewritable(v) for v in value):
            return type(value)(rewrite(v) for v in value)
        return value

    def _rewritable(value) -> bool:
        return (isinstance(value, str) and value.startswith("cuda")
                or isinstance(value, torch.device) and value.type == "cuda" or value is torch.float16)

    class CpuFloat32(TorchFunctionMode):
        """TEST SHIM: every torch call sees cpu for cuda and float32 for float16."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            args = tuple(rewrite(a) for a in args)
            kwargs = {k: rewrite(v) for k, v in (kwargs or {}).items()}
            return func(*args, **kwargs)

    mode = CpuFloat32()
    original_load = torch.load

    def load(*args, **kwargs):
        kwargs["map_location"] = "cpu"
        mode.__exit__(None, None, None)
        try:
            return original_load(*args, **kwargs)
        finally:
            mode.__enter__()

    torch.load = load
    mode.__enter__()


# -- 4. insightface ---------------------------------------------------------------------------

# The synthetic face's skin colour (RGB) and how far a pixel may be from it (H.264 noise).
SKIN_RGB = (200, 160, 130)
SKIN_TOLERANCE = 24


def find_face(frame_rgb):
    """The synthetic face's ellipse as (cx, cy, half width, half height), or None."""
    import numpy as np

    diff = np.abs(frame_rgb.astype(np.int16) - np.array(SKIN_RGB, np.int16)).max(axis=2)
    ys, xs = np.nonzero(diff <= SKIN_TOLERANCE)
    if xs.size < 400:
        return None
    x0, x1 = np.percentile(xs, [0.5, 99.5])
    y0, y1 = np.percentile(ys, [0.5, 99.5])
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, (x1 - x0) / 2.0, (y1 - y0) / 2.0


def landmarks_106(cx: float, cy: float, a: float, b: float):
    """A 106-point layout (insightface's 2d106 indexing) on an ellipse face: jaw 0-32 along
    the lower half, left brow 43-51, nose 72-86, right brow 97-105; the rest at the centre."""
    import numpy as np

    points = np.tile([cx, cy], (106, 1)).astype(np.float32)
    angles = np.linspace(np.pi, 0.0, 33)                    # left ear, chin, right ear
    points[0:33, 0] = cx + a * np.cos(angles)
    points[0:33, 1] = cy + b * np.sin(angles)
    points[43:52] = [cx - 0.4 * a, cy - 0.35 * b]
    points[97:106] = [cx + 0.4 * a, cy - 0.35 * b]
    points[72:87] = [cx, cy + 0.05 * b]
    return points


def _install_fake_insightface() -> None:
    import numpy as np

    class Face(dict):
        __getattr__ = dict.__getitem__

    class FaceAnalysis:
        """TEST SHIM for insightface.app.FaceAnalysis: finds the tests' synthetic face."""

        def __init__(self, name="buffalo_l", root="~/.insightface", allowed_modules=None, **kwargs):
            self.root = root

        def prepare(self, ctx_id=0, det_thresh=0.5, det_size=(640, 640)):
            self.det_size = det_size

        def get(self, img, max_num=0):
            # LatentSync passes the RGB frame it decoded.
            found = find_face(np.asarray(img))
            if found is None:
                return []
            cx, cy, a, b = found
            bbox = np.array([cx - a, cy - b, cx + a, cy + b], np.float32)
            return [Face(bbox=bbox, det_score=np.float32(0.99), landmark_2d_106=landmarks_106(cx, cy, a, b))]

    package = types.ModuleType("insightface", "TEST SHIM: the real insightface is not installed")
    package.__version__ = "0.7.3-test-shim"
    package.__path__ = []
    app = types.ModuleType("insightface.app", "TEST SHIM")
    app.FaceAnalysis = FaceAnalysis
    package.app = app
    sys.modules["insightface"] = package
    sys.modules["insightface.app"] = app


if _active():
    _skip_torchvision_meta_registrations()
    _install_cpu_mode()
    _install_fake_insightface()
    print("TEST SHIMS active: torchvision meta registrations skipped, cuda->cpu, float16->float32, "
          "fake insightface.app.FaceAnalysis", file=sys.stderr, flush=True)
