"""Duck-typed access to LatentSync's tensors, without importing torch here.

LatentSync hands over torch tensors (often fp16 on the GPU); anything with
``.float().cpu().numpy()`` is read that way, numpy arrays pass through. Building a tensor
(the face crops LatentSync stacks with ``torch.stack``) uses the torch module LatentSync has
already imported, found in ``sys.modules``; without one, numpy arrays are returned.
"""

from __future__ import annotations

import sys
from typing import Any, List, Sequence

import numpy as np


def to_numpy(value: Any) -> np.ndarray:
    """A float32/float64/uint8 numpy copy of a tensor-like or array-like value."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "float") and hasattr(value, "cpu"):
        return value.detach().float().cpu().numpy() if hasattr(value, "detach") else value.float().cpu().numpy()
    return np.asarray(value)


def matrix(value: Any) -> np.ndarray:
    """A frame→crop affine as a 2×3 float64 array (LatentSync holds it as 1×2×3 fp16)."""
    arr = np.asarray(to_numpy(value), dtype=np.float64)
    if arr.shape == (1, 2, 3):
        arr = arr[0]
    if arr.shape != (2, 3):
        raise ValueError(f"expected a 2x3 affine matrix, got shape {arr.shape}")
    return arr


def chw_signed_to_hwc_uint8(value: Any) -> np.ndarray:
    """A (c, h, w) image in [-1, 1] (LatentSync's decoded pixels) as h×w×3 uint8 RGB."""
    arr = to_numpy(value).astype(np.float32)
    if arr.ndim != 3:
        raise ValueError(f"expected a (c, h, w) image, got shape {arr.shape}")
    arr = np.transpose(arr, (1, 2, 0))
    return np.clip(np.rint((arr * 0.5 + 0.5) * 255.0), 0, 255).astype(np.uint8)


def batch_signed_to_uint8(value: Any) -> List[np.ndarray]:
    """A (f, c, h, w) batch in [-1, 1] as f arrays h×w×3 uint8 RGB."""
    arr = to_numpy(value).astype(np.float32)
    if arr.ndim != 4:
        raise ValueError(f"expected a (f, c, h, w) batch, got shape {arr.shape}")
    arr = np.clip(np.rint((np.transpose(arr, (0, 2, 3, 1)) * 0.5 + 0.5) * 255.0), 0, 255)
    return [np.ascontiguousarray(frame) for frame in arr.astype(np.uint8)]


def as_tensor(arr: np.ndarray) -> Any:
    """``torch.from_numpy(arr)`` when LatentSync's torch is loaded, else ``arr``."""
    torch = sys.modules.get("torch")
    return torch.from_numpy(np.ascontiguousarray(arr)) if torch is not None else arr


def stack(items: Sequence[Any]) -> Any:
    """Stack like LatentSync does (``torch.stack``), or ``np.stack`` for numpy items."""
    torch = sys.modules.get("torch")
    if torch is not None and items and not isinstance(items[0], np.ndarray):
        return torch.stack(list(items))
    return np.stack([np.asarray(item) for item in items])
