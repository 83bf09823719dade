"""Where the default seam gate (`quality.seam_max`) sits: measured on the demo and on the
restore benchmark's scenes, for the fixed paste-back against the stock one.

    python bench/seam_gate_bench.py [--demo DIR]   # DIR: a demo project rendered with preview

The gate figure is what `pipeline.report.quality_figures` calls `seam`: the larger of the
rectangle and inner seam steps (mean over frames, grey levels). Per scene it is measured for
stock LatentSync (`alpha`, blur=erode=0), `poisson` with the Restorer defaults, and the demo's
fix stack (`poisson`, blur 15, erode 6). The default limit must pass every fixed render with a
margin and stop every stock one; exits 1 if the schema's default does not.
Without --demo, a fresh demo is initialised and rendered (preview backend, a few minutes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import restore_bench as rb  # noqa: E402

from pipeline.project.schema import QualityGate  # noqa: E402
from pipeline.restore import Restorer, latentsync_template  # noqa: E402

STACKS = {"stock alpha": ("alpha", 0, 0), "poisson (defaults)": ("poisson", None, None),
          "poisson, blur 15, erode 6": ("poisson", 15, 6)}
FIXED = [name for name in STACKS if name != "stock alpha"]


def gate_figure(summary: dict) -> float:
    return max(value for value in (summary.get("seam_rect_mean"), summary.get("seam_inner_mean"), 0.0)
               if value is not None)


def bench_scenes() -> dict[str, dict[str, float]]:
    portrait = rb.load_portrait()
    template, crop_wh = latentsync_template("1.6")
    crop_hw = (crop_wh[1], crop_wh[0])
    inner, _ = rb.load_inner_mask(crop_hw)
    import cv2

    keep512 = 1.0 - cv2.resize(inner, (rb.VAE_SIDE, rb.VAE_SIDE), interpolation=cv2.INTER_LANCZOS4)
    scenes = [
        rb.build_scene("centre", portrait, 8, 3.5, 0.0, (960, 470), keep512, seed=1, jitter=0.7),
        rb.build_scene("tilted", portrait, 8, 4.0, 12.0, (700, 520), keep512, seed=2, jitter=0.7),
        rb.build_scene("left_edge", portrait, 8, 4.2, 0.0, (90, 520), keep512, seed=3, jitter=0.7),
        rb.build_scene("bottom_right", portrait, 8, 3.2, -6.0, (1850, 1000), keep512, seed=4, jitter=0.7),
        rb.build_scene("top_edge", portrait, 8, 3.8, 3.0, (1300, 60), keep512, seed=5, jitter=0.7),
        rb.build_scene("shot_32f", portrait, 32, 3.6, 2.0, (1000, 500), keep512, seed=6, motion=6.0, jitter=1.0),
    ]
    figures: dict[str, dict[str, float]] = {}
    for scene in scenes:
        row = {}
        for name, (blend, blur, erode) in STACKS.items():
            kwargs = {} if blur is None else {"blur": blur, "erode": erode}
            restorer = Restorer(blend, inner, **kwargs)
            for frame, face, affine in zip(scene.frames, scene.faces, scene.affines):
                restorer.restore_img(frame, face, affine)
            row[name] = gate_figure(restorer.summary())
        figures[f"bench {scene.name}"] = row
    return figures


def demo_figures(demo: Path | None) -> dict[str, dict[str, float]]:
    if demo is None:
        demo = Path(tempfile.mkdtemp(prefix="seam-gate-")) / "demo"
        alpha = [sys.executable, "-m", "pipeline"]
        subprocess.run([*alpha, "init", str(demo)], check=True, capture_output=True)
        # The gate must not stop the measurement itself.
        for episode in (demo / "episodes").glob("*.yaml"):
            episode.write_text(episode.read_text() + "quality: {seam_max: null}\n")
        subprocess.run([*alpha, "-C", str(demo), "render"], check=True, capture_output=True)
    lock = json.loads((demo / "alpha.lock").read_text())["episodes"]
    figures = {}
    for episode, entry in sorted(lock.items()):
        blend = entry["stages"]["restore"]["params"]["restore"]["blend"] if "restore" in entry["stages"] else None
        stack = "stock alpha" if blend == "alpha" else "poisson, blur 15, erode 6"
        figures[f"demo {episode}"] = {stack: entry["quality"]["seam"]}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", type=Path, help="a demo project already rendered with the preview backend")
    args = parser.parse_args()
    rows = {**demo_figures(args.demo), **bench_scenes()}
    limit = QualityGate().seam_max
    print(f"seam gate figure (grey levels) per scene; default seam_max = {limit}")
    print(f"{'scene':<22}" + "".join(f"{name:>28}" for name in STACKS))
    for scene, row in rows.items():
        print(f"{scene:<22}" + "".join(f"{row[name]:>28.2f}" if name in row else f"{'-':>28}" for name in STACKS))
    fixed = [row[name] for row in rows.values() for name in FIXED if name in row]
    stock = [row["stock alpha"] for row in rows.values() if "stock alpha" in row]
    worst_fixed, best_stock = max(fixed), min(stock)
    print(f"worst fixed render {worst_fixed:.2f}; best stock render {best_stock:.2f}; "
          f"stock/fixed {best_stock / worst_fixed:.1f}×")
    if limit is None:
        print("FAIL: the seam gate is off by default")
        return 1
    print(f"margin: limit / worst fixed = {limit / worst_fixed:.1f}×; best stock / limit = {best_stock / limit:.1f}×")
    ok = worst_fixed * 1.5 <= limit < best_stock
    print("ok: every fixed render passes with ≥ 1.5× margin, every stock render is stopped" if ok
          else "FAIL: the default does not separate fixed from stock renders")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
