"""Benchmark of the restore engine's paste-back blends on scenes built from a real photograph.

    python bench/restore_bench.py        # prints a table, writes bench/out/restore.json

Scenes: the public-domain NASA portrait shipped with the demo, composed into 1920×1080
frames; LatentSync 1.6 crop geometry (420×560) from the 3-point template; the generated crop
is LatentSync's path emulated — the ideal crop (same frame with the mouth changed) resized to
512², slightly blurred (VAE), given a low-frequency colour drift, composited over the
original crop through the inner mask with a hard edge (``mask.png`` from ../shared when
present, else the synthetic U), resized back. The ideal output is the frame with the changed
mouth, without the drift (and without the VAE's blur, which no paste-back can undo and which
costs every method alike). One scene is a jittering 32-frame shot whose drift changes per 16-frame
chunk, as LatentSync's does; others put the face against the frame's edges.

Compared in one process on the same frames: ``alpha`` (stock, blur=erode=0), the usual
user patch (stock full-frame paste-back followed by a full-frame ``cv2.seamlessClone``
centred on the mask centroid, falling back to the stock result when OpenCV throws),
``seamless`` and ``poisson`` (Restorer defaults). The methods take turns on every frame and
are timed per call. Exits 1 when a poisson target is missed.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.restore import Restorer, inner_mask_from_latentsync_png, latentsync_template  # noqa: E402
from pipeline.restore import similarity_from_points, synthetic_inner_mask  # noqa: E402
from pipeline.restore.quality import phase_shift, psnr  # noqa: E402

PORTRAIT = ROOT / "pipeline" / "demo" / "assets" / "portrait.jpg"
MASK_PNG = ROOT.parent / "shared" / "data" / "latentsync" / "mask.png"
OUT = ROOT / "bench" / "out" / "restore.json"
FRAME_WH = (1920, 1080)
VAE_SIDE = 512
# Landmarks of the portrait (pixels of the 512² file): eyebrow centres, nose centre, mouth.
BROWS_NOSE = np.array([[202.5, 92.5], [247.5, 92.5], [225.0, 120.0]])
MOUTH = np.array([224.0, 144.0])
CHUNK = 16  # LatentSync denoises and decodes 16 frames at a time

TARGET_PSNR_MEAN_DB = 4.0
TARGET_PSNR_MIN_DB = 2.0
TARGET_SHIFT_PX = 0.1
TARGET_FLICKER_RATIO = 0.6
TARGET_SPEEDUP = 8.0


@dataclass
class Scene:
    name: str
    frames: List[np.ndarray] = field(default_factory=list)
    faces: List[np.ndarray] = field(default_factory=list)
    affines: List[np.ndarray] = field(default_factory=list)
    ideals: List[np.ndarray] = field(default_factory=list)


def load_portrait() -> np.ndarray:
    img = cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {PORTRAIT}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def load_inner_mask(crop_hw: Tuple[int, int]) -> Tuple[np.ndarray, str]:
    if MASK_PNG.is_file():
        png = cv2.imread(str(MASK_PNG), cv2.IMREAD_GRAYSCALE)
        return inner_mask_from_latentsync_png(png, crop_hw), "mask.png"
    return synthetic_inner_mask(crop_hw), "synthetic U"


def portrait_to_frame(scale: float, angle_deg: float, face_at: Tuple[float, float]) -> np.ndarray:
    """2×3 portrait → frame similarity putting the nose centre at ``face_at``."""
    m = cv2.getRotationMatrix2D((float(BROWS_NOSE[2, 0]), float(BROWS_NOSE[2, 1])), angle_deg, scale)
    m[:, 2] += np.asarray(face_at) - BROWS_NOSE[2]
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def open_mouth(frame: np.ndarray, to_frame: np.ndarray, amount: float) -> np.ndarray:
    """The frame with the mouth opened by ``amount`` portrait pixels (lower lip and jaw down,
    the opening darkened): the content change a lip-sync model makes."""
    back = cv2.invertAffineTransform(to_frame)
    centre = apply(to_frame, MOUTH[None])[0]
    reach = 60.0 * np.sqrt(abs(np.linalg.det(to_frame[:, :2])))
    x0, y0 = (np.floor(centre - reach)).astype(int)
    x1, y1 = (np.ceil(centre + reach * 1.3)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x0 >= x1 or y0 >= y1:
        return frame.copy()
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    px = back[0, 0] * xx + back[0, 1] * yy + back[0, 2]
    py = back[1, 0] * xx + back[1, 1] * yy + back[1, 2]
    # Lips part along the mouth line; the lower lip and a little of the jaw move down,
    # fading out well before the chin so that the change stays inside the generated region.
    across = np.exp(-((px - MOUTH[0]) ** 2) / (2 * 12.0**2))
    below = np.clip((py - (MOUTH[1] - 2)) / 5.0, 0, 1) * np.exp(-np.maximum(py - (MOUTH[1] + 8), 0) ** 2 / (2 * 8.0**2))
    dy = amount * across * below
    src_py = py - dy
    lin = to_frame[:, :2]
    sx = lin[0, 0] * px + lin[0, 1] * src_py + to_frame[0, 2]
    sy = lin[1, 0] * px + lin[1, 1] * src_py + to_frame[1, 2]
    patch = cv2.remap(frame, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # d(dy)/d(portrait y) is how far the lips part here: the opening shows the dark mouth.
    parting = np.gradient(dy, axis=0) * np.sqrt(abs(np.linalg.det(lin)))
    dark = np.clip(0.8 * (parting - 0.2), 0, 0.6)[..., None]
    out = frame.copy()
    out[y0:y1, x0:x1] = np.clip(patch * (1 - dark) + 0.5, 0, 255).astype(np.uint8)
    return out


def drift_field(rng: np.random.Generator, offset_sd: float, field_sd: float) -> np.ndarray:
    """A smooth RGB colour shift on the VAE grid: constant part plus a 3×3-knot bicubic field."""
    knots = rng.normal(0.0, field_sd, (3, 3, 3)).astype(np.float32)
    smooth = cv2.resize(knots, (VAE_SIDE, VAE_SIDE), interpolation=cv2.INTER_CUBIC)
    return smooth + rng.normal(0.0, offset_sd, 3).astype(np.float32)


def latentsync_face(frame: np.ndarray, ideal: np.ndarray, affine: np.ndarray, crop_wh: Tuple[int, int],
                    keep512: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """LatentSync's crop path: align, resize to 512², VAE (blur + drift) of the ideal,
    hard composite over the original through mask.png, resize back."""
    original = cv2.warpAffine(frame, affine, crop_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(127, 127, 127))
    wanted = cv2.warpAffine(ideal, affine, crop_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(127, 127, 127))
    o512 = cv2.resize(original, (VAE_SIDE, VAE_SIDE), interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
    w512 = cv2.resize(wanted, (VAE_SIDE, VAE_SIDE), interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
    vae = cv2.GaussianBlur(w512, (0, 0), 0.8) + drift
    out512 = vae * (1 - keep512[..., None]) + o512 * keep512[..., None]
    out512 = np.clip(out512, 0, 255)
    return np.clip(cv2.resize(out512, crop_wh, interpolation=cv2.INTER_CUBIC) + 0.5, 0, 255).astype(np.uint8)


def build_scene(name: str, portrait: np.ndarray, n: int, scale: float, angle: float, at: Tuple[float, float],
                keep512: np.ndarray, seed: int, motion: float = 0.0, jitter: float = 0.0) -> Scene:
    rng = np.random.default_rng(seed)
    template, crop_wh = latentsync_template("1.6")
    scene = Scene(name)
    base_drift = drift_field(rng, offset_sd=6.0, field_sd=4.0)
    chunk_drift = None
    for t in range(n):
        if t % CHUNK == 0:
            chunk_drift = base_drift + drift_field(rng, offset_sd=2.0, field_sd=1.5)
        drift = chunk_drift + rng.normal(0.0, 0.5, 3).astype(np.float32)
        wobble = np.array([np.sin(t * 0.21), np.cos(t * 0.17)]) * motion
        to_frame = portrait_to_frame(scale * (1 + 0.01 * motion * np.sin(t * 0.13)), angle + 0.5 * motion * np.sin(t * 0.09),
                                     (at[0] + wobble[0], at[1] + wobble[1]))
        frame = cv2.warpAffine(portrait, to_frame, FRAME_WH, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
        ideal = open_mouth(frame, to_frame, amount=4.0 + 4.0 * np.sin(t * 0.7 + seed))
        landmarks = apply(to_frame, BROWS_NOSE) + rng.normal(0.0, jitter, (3, 2))
        affine = similarity_from_points(np.round(landmarks), template)
        scene.frames.append(frame)
        scene.ideals.append(ideal)
        scene.affines.append(affine)
        scene.faces.append(latentsync_face(frame, ideal, affine, crop_wh, keep512, drift))
    return scene


# -- the user's patch (baseline) --------------------------------------------------------

def stock_full_frame(frame: np.ndarray, face: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """LatentSync's restore_img as it runs: everything at full-frame size."""
    h, w = frame.shape[:2]
    inv = cv2.invertAffineTransform(affine)
    face_f = cv2.warpAffine(face.astype(np.float32), inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    mask = cv2.warpAffine(np.ones(face.shape[:2], np.float32), inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    eroded = cv2.erode(mask, np.ones((2, 2), np.uint8))
    edge = int(float(eroded.sum(dtype=np.float64)) ** 0.5) // 20
    center = cv2.erode(eroded, np.ones((2 * edge, 2 * edge), np.uint8))
    k = 2 * edge + 1
    soft = cv2.GaussianBlur(center, (k, k), 0.3 * ((k - 1) * 0.5 - 1) + 0.8, borderType=cv2.BORDER_REFLECT_101)[..., None]
    out = soft * (eroded[..., None] * face_f) + (1 - soft) * frame.astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8), eroded


def user_patch(frame: np.ndarray, face: np.ndarray, affine: np.ndarray, failures: List[str]) -> np.ndarray:
    stock, eroded = stock_full_frame(frame, face, affine)
    mask = np.where(eroded > 0.5, 255, 0).astype(np.uint8)
    m = cv2.moments(mask, binaryImage=True)
    if m["m00"] == 0:
        return stock
    centre = (int(m["m10"] / m["m00"]), int(m["m01"] / m["m00"]))
    try:
        return cv2.seamlessClone(stock, frame, mask, centre, cv2.NORMAL_CLONE)
    except cv2.error as exc:
        failures.append(str(exc).strip().splitlines()[-1])
        return stock


# -- measures -------------------------------------------------------------------------

def rect_mask(frame_hw: Tuple[int, int], affine: np.ndarray, crop_wh: Tuple[int, int]) -> np.ndarray:
    inv = cv2.invertAffineTransform(affine)
    cover = cv2.warpAffine(np.ones((crop_wh[1], crop_wh[0]), np.float32), inv, (frame_hw[1], frame_hw[0]), flags=cv2.INTER_LINEAR)
    return cover >= 0.5


def shift_px(out: np.ndarray, ideal: np.ndarray, where: np.ndarray) -> float:
    """Length of the translation between output and ideal over the bounding box of ``where``
    (the generated region: the content that came from the crop)."""
    ys, xs = np.nonzero(where)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return float(np.hypot(*phase_shift(out[y0:y1, x0:x1], ideal[y0:y1, x0:x1])))


def make_method(name: str, inner: np.ndarray):
    """``(restore function, Restorer or None, list collecting the user patch's failures)``."""
    if name == "user_patch":
        failures: List[str] = []
        return (lambda f, c, a: user_patch(f, c, a, failures)), None, failures
    restorer = Restorer("alpha", inner, blur=0, erode=0) if name == "alpha" else Restorer(name, inner)
    return restorer.restore_img, restorer, []


def generated_mask(frame_hw: Tuple[int, int], affine: np.ndarray, inner: np.ndarray) -> np.ndarray:
    inv = cv2.invertAffineTransform(affine)
    return cv2.warpAffine(inner, inv, (frame_hw[1], frame_hw[0]), flags=cv2.INTER_LINEAR) >= 0.5


def evaluate(scene: Scene, outs: List[np.ndarray], crop_wh: Tuple[int, int], inner: np.ndarray) -> Dict:
    masks = [rect_mask(f.shape[:2], a, crop_wh) for f, a in zip(scene.frames, scene.affines)]
    union = np.logical_or.reduce(masks)
    psnrs = [psnr(o, i, m) for o, i, m in zip(outs, scene.ideals, masks)]
    shifts = [shift_px(o, i, generated_mask(f.shape[:2], a, inner))
              for o, i, f, a in zip(outs, scene.ideals, scene.frames, scene.affines)]
    errs = [(o.astype(np.float32) - i.astype(np.float32))[union] for o, i in zip(outs, scene.ideals)]
    flicker = float(np.mean([np.abs(e1 - e0).mean() for e0, e1 in zip(errs, errs[1:])])) if len(errs) > 1 else 0.0
    return {"psnr": float(np.mean(psnrs)), "shift": float(np.max(shifts)), "flicker": flicker}


def main() -> int:
    started = time.perf_counter()
    portrait = load_portrait()
    template, crop_wh = latentsync_template("1.6")
    crop_hw = (crop_wh[1], crop_wh[0])
    inner, inner_source = load_inner_mask(crop_hw)
    keep512 = 1.0 - cv2.resize(inner, (VAE_SIDE, VAE_SIDE), interpolation=cv2.INTER_LANCZOS4)
    scenes = [
        build_scene("centre", portrait, 8, 3.5, 0.0, (960, 470), keep512, seed=1, jitter=0.7),
        build_scene("tilted", portrait, 8, 4.0, 12.0, (700, 520), keep512, seed=2, jitter=0.7),
        build_scene("left_edge", portrait, 8, 4.2, 0.0, (90, 520), keep512, seed=3, jitter=0.7),
        build_scene("bottom_right", portrait, 8, 3.2, -6.0, (1850, 1000), keep512, seed=4, jitter=0.7),
        build_scene("top_edge", portrait, 8, 3.8, 3.0, (1300, 60), keep512, seed=5, jitter=0.7),
        build_scene("shot_32f", portrait, 32, 3.6, 2.0, (1000, 500), keep512, seed=6, motion=6.0, jitter=1.0),
    ]
    methods = ("alpha", "user_patch", "seamless", "poisson")
    results: Dict[str, Dict[str, Dict]] = {m: {} for m in methods}
    times: Dict[str, List[float]] = {m: [] for m in methods}
    telemetry: Dict[str, Dict] = {m: {} for m in methods}
    user_failures: List[str] = []
    for scene in scenes:
        made = {name: make_method(name, inner) for name in methods}
        outs: Dict[str, List[np.ndarray]] = {name: [] for name in methods}
        # Methods take turns on every frame, so that a change of machine load hits all alike.
        for frame, face, affine in zip(scene.frames, scene.faces, scene.affines):
            for name in methods:
                fn = made[name][0]
                t0 = time.perf_counter()
                outs[name].append(fn(frame, face, affine))
                times[name].append(time.perf_counter() - t0)
        for name in methods:
            _, restorer, failures = made[name]
            user_failures.extend(failures)
            if restorer is not None:
                telemetry[name][scene.name] = restorer.summary()
            results[name][scene.name] = evaluate(scene, outs[name], crop_wh, inner)

    names = [s.name for s in scenes]
    ms = {m: 1000 * float(np.mean(t)) for m, t in times.items()}
    lines = [f"restore bench — 1920×1080 frames, LatentSync 1.6 crop 420×560, inner mask: {inner_source}",
             "", "PSNR vs ideal over the face rectangle (dB)",
             f"{'scene':<14}" + "".join(f"{m:>12}" for m in methods)]
    for s in names:
        lines.append(f"{s:<14}" + "".join(f"{results[m][s]['psnr']:>12.2f}" for m in methods))
    lines.append(f"{'mean':<14}" + "".join(f"{np.mean([results[m][s]['psnr'] for s in names]):>12.2f}" for m in methods))
    lines += ["", f"{'measure':<28}" + "".join(f"{m:>12}" for m in methods)]
    lines.append(f"{'max shift (px)':<28}" + "".join(f"{max(results[m][s]['shift'] for s in names):>12.3f}" for m in methods))
    lines.append(f"{'flicker shot_32f (grey)':<28}" + "".join(f"{results[m]['shot_32f']['flicker']:>12.3f}" for m in methods))
    lines.append(f"{'time per frame (ms)':<28}" + "".join(f"{ms[m]:>12.1f}" for m in methods))
    for key, label in (("seam_inner_mean", "telemetry: inner seam step"), ("seam_rect_mean", "telemetry: rect seam step"),
                       ("seam_temporal_mean", "telemetry: seam change/frame")):
        cells = []
        for m in methods:
            values = [t[key] for t in telemetry[m].values() if t.get(key) is not None]
            cells.append(f"{np.mean(values):>12.2f}" if values else f"{'-':>12}")
        lines.append(f"{label:<28}" + "".join(cells))
    lines.append(f"user patch fell back to stock on {len(user_failures)} frames (cv2.seamlessClone threw)")

    gains = {s: results["poisson"][s]["psnr"] - results["seamless"][s]["psnr"] for s in names}
    poisson_shift = max(results["poisson"][s]["shift"] for s in names)
    seamless_shift = max(results["seamless"][s]["shift"] for s in names)
    flicker_ratio = results["poisson"]["shot_32f"]["flicker"] / max(results["seamless"]["shot_32f"]["flicker"], 1e-9)
    speedup = ms["user_patch"] / ms["poisson"]
    checks = [
        (f"PSNR gain over seamless, mean {np.mean(list(gains.values())):.2f} dB ≥ {TARGET_PSNR_MEAN_DB}", np.mean(list(gains.values())) >= TARGET_PSNR_MEAN_DB),
        (f"PSNR gain over seamless, worst scene {min(gains.values()):.2f} dB ≥ {TARGET_PSNR_MIN_DB}", min(gains.values()) >= TARGET_PSNR_MIN_DB),
        (f"shift poisson {poisson_shift:.3f} px, seamless {seamless_shift:.3f} px ≤ {TARGET_SHIFT_PX}", max(poisson_shift, seamless_shift) <= TARGET_SHIFT_PX),
        (f"flicker poisson/seamless {flicker_ratio:.2f} ≤ {TARGET_FLICKER_RATIO}", flicker_ratio <= TARGET_FLICKER_RATIO),
        (f"speed poisson vs user patch {speedup:.1f}× ≥ {TARGET_SPEEDUP}", speedup >= TARGET_SPEEDUP),
    ]
    lines.append("")
    lines += [f"{'PASS' if ok else 'FAIL'}  {text}" for text, ok in checks]
    lines.append(f"(bench ran {time.perf_counter() - started:.0f} s)")
    print("\n".join(lines))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "frame": list(FRAME_WH), "crop_wh": list(crop_wh), "inner_mask": inner_source,
        "scenes": {s.name: len(s.frames) for s in scenes},
        "results": results, "ms_per_frame": ms, "user_patch_fallbacks": len(user_failures),
        "psnr_gain_vs_seamless": gains, "flicker_ratio": flicker_ratio, "speedup_vs_user_patch": speedup,
        "telemetry": telemetry,
        "checks": [{"target": text, "pass": bool(ok)} for text, ok in checks],
    }, indent=2))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
