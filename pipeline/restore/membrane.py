"""The harmonic colour-correction membrane, solved on a coarse grid in crop space.

Gradient-domain blending of the generated region R with guidance from the generated image G
equals ``G + M``, where the membrane M is harmonic in R and equals ``original − G`` on ∂R.
M is smooth, so it is solved on a grid of ``cell×cell`` blocks and upsampled bilinearly.

On the grid every node carries a data term for the band of R's edge pixels in its block
(mean of ``original − G`` there, weighted by how many band pixels lie inside the frame);
nodes near R are tied to their four neighbours by the membrane (Laplacian, free at the
sides of that node set; M matters only inside R). Minimising
``Σ (m_i − m_j)² + λ Σ c_i (m_i − d_i)²`` gives one sparse SPD system ``(L + λC) m = λ C d``
whose matrix depends on R and on which band pixels are in the frame, not on the pixels: it
is factorised once per shot and reused while the face stays inside the frame.

Crop coordinates follow :mod:`pipeline.restore.geometry` (x right, y down, pixel centres at
integers); node (i, j) covers rows ``i·cell … i·cell+cell−1`` and columns likewise, its
value sits at the block's centre, and the membrane between nodes is bilinear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pipeline.restore.geometry import Region, invert_affine, shift_affine
from pipeline.restore.masks import inner_band

# Grid resolution: about 64 nodes along the crop's height (cell 8 for 1.6's 560-pixel crop,
# 4 for 1.5's 280): colour drift of a VAE is far smoother than that.
_NODES_ALONG_HEIGHT = 64
# Data weight against the membrane, per fully covered block: large enough that the
# membrane meets the boundary values (near-Dirichlet), finite so that a noisy node is
# pulled towards its neighbours rather than followed.
_STIFFNESS = 16.0
# cv2.remap wants maps narrower than SHRT_MAX; band samples are laid out in rows of this.
_REMAP_ROW = 256
# Nodes within this many blocks of R carry the membrane; farther ones never reach R's pixels
# through the bilinear interpolation, and leaving them out shrinks the factorisation.
_NODE_MARGIN = 2


@dataclass(frozen=True)
class MembranePlan:
    """Everything about the membrane that depends only on the generated region.

    Attributes:
        cell: block size in crop pixels.
        grid_hw: ``(hc, wc)`` nodes, ``ceil(h / cell) × ceil(w / cell)``.
        band_rows, band_cols: int arrays ``(N,)``, crop pixels of R's edge band.
        band_xy: ``N×2`` float64 crop coordinates (x, y) of the same pixels.
        band_node: int array ``(N,)``, index (among active nodes) of each band pixel's node.
        active: ``hc×wc`` bool, the nodes that carry the membrane (n of them).
        laplacian: ``n×n`` CSC graph Laplacian of the active nodes (4-neighbour, free sides).
    """

    cell: int
    grid_hw: Tuple[int, int]
    band_rows: np.ndarray
    band_cols: np.ndarray
    band_xy: np.ndarray
    band_node: np.ndarray
    active: np.ndarray
    laplacian: sp.csc_matrix

    @property
    def nodes(self) -> int:
        return self.laplacian.shape[0]


def plan_membrane(inner_mask: np.ndarray) -> MembranePlan:
    """Prepare the membrane for a generated region (once per shot).

    Args:
        inner_mask: ``h×w`` float32 in [0, 1], 1 where the model generated pixels.

    Returns:
        The :class:`MembranePlan`; its band is empty when the region is.
    """
    h, w = inner_mask.shape
    cell = max(1, h // _NODES_ALONG_HEIGHT)
    hc, wc = -(-h // cell), -(-w // cell)
    generated = np.zeros((hc * cell, wc * cell), np.uint8)
    generated[:h, :w] = inner_mask > 0
    touched = generated.reshape(hc, cell, wc, cell).max(axis=(1, 3))
    reach = 2 * _NODE_MARGIN + 1
    active = cv2.dilate(touched, np.ones((reach, reach), np.uint8)) > 0
    index = np.full((hc, wc), -1, dtype=np.int64)
    index[active] = np.arange(int(active.sum()))
    rows, cols = np.nonzero(inner_band(inner_mask, width=float(cell)))
    node = index[rows // cell, cols // cell]
    xy = np.stack([cols, rows], axis=1).astype(np.float64)
    return MembranePlan(cell, (hc, wc), rows, cols, xy, node, active, _laplacian(index))


def _laplacian(index: np.ndarray) -> sp.csc_matrix:
    """Graph Laplacian over the grid cells with ``index >= 0`` (4-neighbour)."""
    pairs = [(index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :])]
    a = np.concatenate([p[0][(p[0] >= 0) & (p[1] >= 0)] for p in pairs])
    b = np.concatenate([p[1][(p[0] >= 0) & (p[1] >= 0)] for p in pairs])
    n = int((index >= 0).sum())
    ones = np.ones(a.size)
    adj = sp.coo_matrix((np.concatenate([ones, ones]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    return (sp.diags(degree) - adj).tocsc()


def sample_boundary(plan: MembranePlan, frame: np.ndarray, face: np.ndarray, affine: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-node sums of ``original − generated`` over the band pixels that lie in the frame.

    Args:
        plan: from :func:`plan_membrane`.
        frame: ``H×W×3`` uint8 RGB.
        face: ``h×w×3`` uint8 RGB crop (generated inside the region).
        affine: ``2×3`` frame → crop.

    Returns:
        ``(sums, counts)``: ``n×3`` float64 per-node sums of the difference (RGB) and ``(n,)``
        int64 numbers of in-frame band pixels per node.
    """
    n = plan.nodes
    count = plan.band_node.size
    if count == 0:
        return np.zeros((n, 3)), np.zeros(n, dtype=np.int64)
    inv = invert_affine(affine)
    pts = plan.band_xy @ inv[:, :2].T + inv[:, 2]
    fh, fw = frame.shape[:2]
    # A band pixel mapped outside the frame would read replicated edge pixels, not content.
    valid = (pts[:, 0] >= 0) & (pts[:, 0] <= fw - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= fh - 1)
    rows = -(-count // _REMAP_ROW)
    maps = np.zeros((rows * _REMAP_ROW, 2), np.float32)
    maps[:count] = pts
    maps = maps.reshape(rows, _REMAP_ROW, 2)
    original = cv2.remap(frame, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    original = original.reshape(-1, 3)[:count].astype(np.float64)
    diff = original - face[plan.band_rows, plan.band_cols].astype(np.float64)
    node = plan.band_node[valid]
    counts = np.bincount(node, minlength=n)
    sums = np.stack([np.bincount(node, weights=diff[valid, c], minlength=n) for c in range(3)], axis=1)
    return sums, counts


def factorize(plan: MembranePlan, counts: np.ndarray) -> spla.SuperLU:
    """Factorise ``L + λC`` for the given per-node band counts.

    Raises:
        ValueError: when no node has data (the system would be singular).
    """
    if not np.any(counts > 0):
        raise ValueError("no band pixel of the generated region lies inside the frame")
    weights = _STIFFNESS * counts.astype(np.float64) / plan.cell**2
    # Minimum degree on A+Aᵀ suits this symmetric 5-point system: ~3× faster than COLAMD.
    return spla.splu((plan.laplacian + sp.diags(weights)).tocsc(), permc_spec="MMD_AT_PLUS_A")


def solve_membrane(plan: MembranePlan, factor: spla.SuperLU, means: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Solve for the coarse membrane.

    Args:
        plan: from :func:`plan_membrane`.
        factor: from :func:`factorize` with the same ``counts``.
        means: ``n×3`` per-node mean of ``original − generated`` (any value where count is 0).
        counts: ``(n,)`` band pixels per node.

    Returns:
        ``hc×wc×3`` float32 membrane on the node grid (0 at inactive nodes).
    """
    weights = _STIFFNESS * counts.astype(np.float64) / plan.cell**2
    grid = np.zeros(plan.grid_hw + (3,), np.float32)
    grid[plan.active] = factor.solve(np.ascontiguousarray(weights[:, None] * means))
    return grid


def membrane_to_region(plan: MembranePlan, coarse: np.ndarray, affine: np.ndarray, region: Region) -> np.ndarray:
    """The membrane at the pixels of a frame region, interpolated bilinearly between nodes.

    Args:
        plan: from :func:`plan_membrane`.
        coarse: ``hc×wc×3`` float32 from :func:`solve_membrane`.
        affine: ``2×3`` frame → crop.
        region: ``(x0, y0, x1, y1)`` frame region.

    Returns:
        ``(y1−y0)×(x1−x0)×3`` float32.
    """
    # Node (i, j) sits at crop point (j·cell + (cell−1)/2, i·cell + (cell−1)/2).
    to_node = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]]) / plan.cell
    to_node[:, 2] -= 0.5
    frame_to_node = np.hstack([to_node[:, :2] @ affine[:, :2], (to_node[:, :2] @ affine[:, 2] + to_node[:, 2])[:, None]])
    x0, y0, x1, y1 = region
    return cv2.warpAffine(coarse, shift_affine(frame_to_node, x0, y0), (x1 - x0, y1 - y0),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)



def smooth_over_time(history: Optional[np.ndarray], known: Optional[np.ndarray], means: np.ndarray,
                     counts: np.ndarray, temporal: float) -> Tuple[np.ndarray, np.ndarray]:
    """Fold one frame's boundary differences into their running estimate.

    A frame's change splits in two. Its count-weighted mean over the nodes, a colour change of
    the whole region (the VAE decodes each frame on its own and shifts them differently), is
    followed at once: lagging it would leave the region's colour flickering. What remains,
    node by node, is mostly sampling noise (jitter of the crop over texture, grain), and is
    averaged over time: an exponential moving average with weight ``temporal`` on the past.

    Args:
        history: ``n×3`` running estimate, or None on a shot's first frame.
        known: ``(n,)`` bool, nodes that have had data, or None with ``history``.
        means: ``n×3`` this frame's per-node mean of ``original − generated``.
        counts: ``(n,)`` this frame's band pixels per node (0 = no data, e.g. off-frame).
        temporal: weight of the past in [0, 1).

    Returns:
        ``(history, known)`` updated (new arrays).
    """
    seen = counts > 0
    if history is None or known is None:
        return means.copy(), seen
    history = history.copy()
    fresh = seen & ~known
    both = seen & known
    history[fresh] = means[fresh]
    if both.any():
        change = means[both] - history[both]
        weight = counts[both].astype(np.float64)[:, None]
        common = (weight * change).sum(axis=0) / weight.sum()
        history[known] += common
        history[both] += (1.0 - temporal) * (change - common)
    return history, known | seen
