"""Is the restore stage fast enough to be the critical path of a series-wide paste-back fix?

Rerunnable: `python bench/restore_stage_bench.py [--seconds 6]`. Makes a 1920×1080 video
source from the demo portrait (a slow drift, so frames differ), runs the preview backend's
lipsync stage on it once (aligned frames, lossless crops, track), then times in the same run:

- the restore stage (`restore_clip`: decode frames and crops, Restorer poisson per frame,
  H.264 encode at the episode's settings);
- its baseline, the bare pipe: the same two decodes in lockstep and the same encoder fed the
  frames unchanged (no Restorer).

Target: restore ≤ 2× bare. Also reports the crops' size per output minute and their fidelity
(PSNR against the raw crops, computed by regenerating them), and how the candidate codecs for
crops compare on these crops (size, encode and decode time, exactness).

The preview backend stores its crops at the crop box (420×560 for 1.6); LatentSync's runner
stores them at the model's resolution (512×512), which the restore stage resizes per frame. So
the restore stage is timed a second time on the same crops resampled to 512×512, and their size
per output minute is reported too.

Prints a table, writes bench/out/restore_stage.json, exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FPS = 25
VIDEO = {"fps": FPS, "width": 1920, "height": 1080, "crf": 20, "preset": "veryfast"}
RESTORE = {"blend": "poisson", "blur": 15, "erode": 6}
CODECS = {
    "ffv1 (chosen)": None,  # LOSSLESS_RGB_ARGS
    "libx264rgb qp0 veryfast": ["-an", "-c:v", "libx264rgb", "-qp", "0", "-preset", "veryfast", "-threads", "8"],
    "libx264rgb qp0 medium": ["-an", "-c:v", "libx264rgb", "-qp", "0", "-preset", "medium", "-threads", "8"],
    "utvideo": ["-an", "-c:v", "utvideo", "-pix_fmt", "gbrp"],
    "libx264 yuv420p crf 12 (before)": ["-an", "-vf", "format=yuv420p", "-c:v", "libx264", "-crf", "12",
                                        "-preset", "veryfast", "-threads", "8"],
}


def make_source(folder: Path, seconds: float) -> Path:
    """A 1080p clip: the portrait at full height over a blurred extension, drifting slowly."""
    import cv2
    import numpy as np

    from pipeline.media import FrameWriter

    portrait = cv2.cvtColor(cv2.imread(str(ROOT / "pipeline/demo/assets/portrait.jpg")), cv2.COLOR_BGR2RGB)
    background = cv2.GaussianBlur(cv2.resize(portrait, (1920, 1080)), (0, 0), 25)
    background[:, 420:1500] = cv2.resize(portrait, (1080, 1080), interpolation=cv2.INTER_CUBIC)
    path = folder / "source-1080p.mp4"
    frames = int(seconds * FPS)
    with FrameWriter(path, 1920, 1080, FPS, crf=12, preset="veryfast") as writer:
        for k in range(frames):
            shift = np.float32([[1, 0, 6 * np.sin(2 * np.pi * k / frames)], [0, 1, 2 * np.cos(2 * np.pi * k / frames)]])
            writer.write(cv2.warpAffine(background, shift, (1920, 1080), borderMode=cv2.BORDER_REFLECT))
    return path


def bare_pipe(original: Path, crops: Path, out: Path) -> float:
    """Decode frames and crops in lockstep, encode the frames unchanged: the restore stage
    without its Restorer. Returns the wall time."""
    from pipeline.media import FrameWriter, read_frames

    started = time.perf_counter()
    with FrameWriter(out, VIDEO["width"], VIDEO["height"], FPS, crf=VIDEO["crf"], preset=VIDEO["preset"]) as writer:
        for frame, _ in zip(read_frames(original), read_frames(crops)):
            writer.write(frame)
    return time.perf_counter() - started


def at_model_resolution(crops: Path, folder: Path, size: int = 512) -> Path:
    """The crops resampled to size×size (bicubic), stored as alpha stores LatentSync's."""
    from pipeline.media import ffmpeg_exe
    from pipeline.media.filters import LOSSLESS_RGB_ARGS, LOSSLESS_RGB_SUFFIX

    out = folder / f"crops-{size}{LOSSLESS_RGB_SUFFIX}"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", crops, "-vf", f"scale={size}:{size}:flags=bicubic",
                    *LOSSLESS_RGB_ARGS, "-y", out], check=True)
    return out


def compare_codecs(crops: Path, folder: Path) -> dict[str, dict]:
    """Re-encode the stored (lossless) crops with each candidate codec."""
    import numpy as np

    from pipeline.media import ffmpeg_exe, probe
    from pipeline.media.filters import LOSSLESS_RGB_ARGS, LOSSLESS_RGB_SUFFIX

    info = probe(crops)
    raw = folder / "crops.rgb"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", crops, "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", raw], check=True)
    reference = np.fromfile(raw, np.uint8)
    results = {}
    for name, args in CODECS.items():
        out = folder / f"codec-{len(results)}{LOSSLESS_RGB_SUFFIX}"
        started = time.perf_counter()
        subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                        f"{info.width}x{info.height}", "-framerate", str(FPS), "-i", raw,
                        *(args or LOSSLESS_RGB_ARGS), "-y", out], check=True)
        encode = time.perf_counter() - started
        started = time.perf_counter()
        back = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", out, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                              check=True, capture_output=True).stdout
        decode = time.perf_counter() - started
        decoded = np.frombuffer(back, np.uint8)
        mse = float(np.mean((decoded.astype(np.float32) - reference.astype(np.float32)) ** 2))
        frames = reference.size // (info.width * info.height * 3)
        results[name] = {"mb_per_minute": out.stat().st_size / frames * FPS * 60 / 1e6,
                         "encode_ms_per_frame": 1000 * encode / frames, "decode_ms_per_frame": 1000 * decode / frames,
                         "psnr_db": None if mse == 0 else 10 * np.log10(255 ** 2 / mse)}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the clip")
    args = parser.parse_args()

    import numpy as np

    from pipeline.demo import synth_speech
    from pipeline.project.schema import ProjectSettings
    from pipeline.media import read_frames
    from pipeline.stages import StageRun
    from pipeline.stages.lipsync.preview import generate, run_preview
    from pipeline.stages.restore import restore_clip

    with tempfile.TemporaryDirectory(prefix="alpha-restore-stage-bench-") as scratch:
        folder = Path(scratch)
        source = make_source(folder, args.seconds)
        synth_speech(folder / "voice.wav", seconds=args.seconds, seed=7)
        params = {"lipsync": {"backend": "preview", "checkpoint": "1.6", "drift": 0.08}, "source": {"kind": "video"},
                  "video": VIDEO, "restore": RESTORE}

        def job(name: str) -> StageRun:
            (folder / name).mkdir()
            return StageRun("bench", params, {"audio.voice": folder / "voice.wav"}, {"source.media": source},
                            folder / name, lambda done, total: None, folder, ProjectSettings())

        lipsync = run_preview(job("lipsync"))
        original, crops, track = (lipsync.outputs[name] for name in ("original", "crops", "track"))
        frames = lipsync.metrics["frames"]

        bare = bare_pipe(original, crops, folder / "bare.mp4")
        started = time.perf_counter()
        metrics = restore_clip(original, track, crops, folder / "restored.mp4", restore=RESTORE, video=VIDEO)
        restore = time.perf_counter() - started
        bare_again = bare_pipe(original, crops, folder / "bare.mp4")  # either side of the restore: drift shows
        bare = min(bare, bare_again)
        model_crops = at_model_resolution(crops, folder)
        started = time.perf_counter()
        restore_clip(original, track, model_crops, folder / "restored-512.mp4", restore=RESTORE, video=VIDEO)
        restore_512 = time.perf_counter() - started
        crops_512_mb_per_minute = model_crops.stat().st_size / frames * FPS * 60 / 1e6

        _, _, generated = generate(job("again"))
        worst = float("inf")
        for item, stored in zip(generated, read_frames(crops)):
            if item.crop is not None:
                mse = float(np.mean((item.crop.astype(np.float64) - stored.astype(np.float64)) ** 2))
                worst = min(worst, float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse))
        codecs = compare_codecs(crops, folder)
        crops_mb_per_minute = crops.stat().st_size / frames * FPS * 60 / 1e6

    ratio = restore / bare
    ratio_512 = restore_512 / bare
    targets = [("restore stage <= 2x bare decode + encode at 1080p", ratio <= 2.0),
               ("the same from crops at the model's 512x512 <= 2x", ratio_512 <= 2.0),
               ("crops lossless or >= 50 dB PSNR against the raw crops", worst >= 50.0)]
    print(f"{frames} frames at 1920×1080, crops {metrics.get('shots')} shot(s), poisson blur 15 erode 6")
    print(f"{'':34} {'wall s':>8} {'ms/frame':>9} {'fps':>7}")
    for name, wall in (("bare decode + encode (baseline)", bare), ("restore stage", restore),
                       ("restore stage, 512x512 crops", restore_512)):
        print(f"{name:34} {wall:>8.2f} {1000 * wall / frames:>9.1f} {frames / wall:>7.1f}")
    print(f"restore / bare: {ratio:.2f}x, from 512x512 crops {ratio_512:.2f}x   "
          f"(Restorer alone: {metrics['ms_mean']:.1f} ms/frame)")
    print(f"crops: {crops_mb_per_minute:.0f} MB per output minute at the crop box, "
          f"{crops_512_mb_per_minute:.0f} MB at 512x512; PSNR vs raw crops: "
          f"{'inf (bit-exact)' if worst == float('inf') else f'{worst:.1f} dB'}")
    print(f"{'crops codec':34} {'MB/min':>8} {'enc ms/f':>9} {'dec ms/f':>9} {'PSNR dB':>8}")
    for name, row in codecs.items():
        psnr = "exact" if row["psnr_db"] is None else f"{row['psnr_db']:.1f}"
        print(f"{name:34} {row['mb_per_minute']:>8.0f} {row['encode_ms_per_frame']:>9.1f} "
              f"{row['decode_ms_per_frame']:>9.1f} {psnr:>8}")
    for name, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "restore_stage.json").write_text(json.dumps({
        "frames": frames, "bare_s": bare, "restore_s": restore, "ratio": ratio,
        "restorer_ms_per_frame": metrics["ms_mean"], "crops_mb_per_minute": crops_mb_per_minute,
        "restore_512_s": restore_512, "ratio_512": ratio_512, "crops_512_mb_per_minute": crops_512_mb_per_minute,
        "crops_psnr_db": None if worst == float("inf") else worst, "codecs": codecs,
        "targets": {n: ok for n, ok in targets}}, indent=2) + "\n")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
