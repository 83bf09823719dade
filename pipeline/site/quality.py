"""The quality of a render in plain words, each figure beside a baseline.

The restore engine reports many figures (see content.FIGURE_NOTES); a visitor needs a few, in
units they can picture, and something to compare them with. The baseline is LatentSync's stock
paste-back (blend alpha, no blur, no erosion): the figure of the newest episode of the build
rendered that way, named, so that "colour step at the mouth's edge: 0.29 grey levels (stock
paste-back: 2.0, in “Hello, world”)" reads as a before and an after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (metric key in `render_metrics`, what it is, unit, compared with the stock paste-back)
HEADLINES = (
    ("restore.seam_rect_mean", "Colour step at the edge of the pasted rectangle", "grey levels", True),
    ("restore.seam_inner_mean", "Colour step at the edge of the mouth", "grey levels", True),
    ("restore.seam_temporal_mean", "Flicker along the seams, frame to frame", "grey levels", True),
    ("restore.fallbacks", "Frames that fell back to the stock paste-back", "frames", False),
    ("faces_missed", "Frames in which no face was found", "frames", False),
)
STOCK = {"blend": "alpha", "blur": 0, "erode": 0}


@dataclass(frozen=True)
class Headline:
    label: str
    value: str            # with its unit: "0.29 grey levels"
    baseline: str | None  # the stock paste-back's figure, "2.0"
    baseline_from: str | None  # the episode it was measured on (its title)
    baseline_path: str | None  # that episode's page


def render_metrics(entry: dict[str, Any] | None) -> dict[str, Any]:
    """The lip-sync stage's metrics, with the paste-back's under "restore": from the restore
    stage where the render has one, else from inside the lip-sync stage (older renders)."""
    stages = (entry or {}).get("stages") or {}
    metrics = dict((stages.get("lipsync") or {}).get("metrics") or {})
    restore = (stages.get("restore") or {}).get("metrics") or {}
    if "blend" in restore:
        metrics["restore"] = restore
    return metrics


def is_stock(metrics: dict[str, Any]) -> bool:
    restore = metrics.get("restore") or {}
    return bool(restore) and all(restore.get(key) == value for key, value in STOCK.items())


def headlines(metrics: dict[str, Any], stock: tuple[str, str, dict[str, Any]] | None) -> list[Headline]:
    """The headline figures of one render; `stock` is (title, page path, metrics) of the
    baseline render, or None when the build has none."""
    out = []
    own_stock = is_stock(metrics)
    for key, label, unit, compared in HEADLINES:
        value = _at(metrics, key)
        if value is None:
            continue
        baseline = baseline_from = baseline_path = None
        if compared and stock is not None and not own_stock:
            reference = _at(stock[2], key)
            if reference is not None:
                baseline, baseline_from, baseline_path = _number(reference), stock[0], stock[1]
        out.append(Headline(label, f"{_number(value)} {unit}", baseline, baseline_from, baseline_path))
    return out


def _at(metrics: dict[str, Any], key: str) -> float | None:
    value: Any = metrics
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return value


def _number(value: float) -> str:
    if isinstance(value, int) or value == int(value):
        return f"{int(value):,}"
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.2f}"
