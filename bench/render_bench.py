"""Is the preview backend real-time at 1080p, with memory flat in the episode's length?

Rerunnable: `python bench/render_bench.py`. Renders the lip-sync stage with the preview
backend (face tracking, mouth animation, colour drift, lossless crops), then the restore
stage (poisson paste-back, H.264 encode), on
a 1920×1080 source built from the demo portrait, for a short and a three-times-longer voice
track, each in a fresh process, and compares in the same run:

- frames per second against real time (25 fps): the target is >= 1x real time;
- peak memory of the render's process against the short one's: the target is flat (long
  <= short + 10 %). The largest ffmpeg child's peak is shown beside it.

Prints a table, writes bench/out/render.json, exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FPS = 25


def make_source(folder: Path) -> Path:
    """A 1920×1080 still: the portrait at full height over a blurred extension of itself."""
    import cv2

    portrait = cv2.imread(str(ROOT / "pipeline/demo/assets/portrait.jpg"))
    background = cv2.GaussianBlur(cv2.resize(portrait, (1920, 1080)), (0, 0), 25)
    face = cv2.resize(portrait, (1080, 1080), interpolation=cv2.INTER_CUBIC)
    background[:, 420:1500] = face
    path = folder / "source-1080p.png"
    cv2.imwrite(str(path), background)
    return path


def peak_rss_mb() -> float:
    """This process's peak resident memory. Read from VmHWM, which exec resets; ru_maxrss
    would carry over the forking parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(seconds: float, folder: Path) -> None:
    """One render in this process; prints its figures as JSON."""
    from pipeline.project.schema import ProjectSettings
    from pipeline.stages import StageRun
    from pipeline.stages.lipsync.preview import run_preview
    from pipeline.stages.restore import restore_clip

    voice = folder / f"voice-{seconds:g}.wav"
    work = folder / f"work-{seconds:g}"
    work.mkdir()
    params = {"lipsync": {"backend": "preview", "checkpoint": "1.6", "drift": 0.08},
              "source": {"kind": "image"},
              "video": {"fps": FPS, "width": 1920, "height": 1080, "crf": 20, "preset": "veryfast"},
              "restore": {"blend": "poisson", "blur": 15, "erode": 6}}
    job = StageRun("bench", params, {"audio.voice": voice}, {"source.media": folder / "source-1080p.png"},
                   work, lambda done, total: None, folder, ProjectSettings())
    started = time.perf_counter()
    result = run_preview(job)
    restore = restore_clip(result.outputs["original"], result.outputs["track"], result.outputs["crops"],
                           work / "restored.mp4", restore=params["restore"], video=params["video"])
    wall = time.perf_counter() - started
    frames = result.metrics["frames"]
    print(json.dumps({
        "seconds_of_video": seconds, "frames": frames, "wall_s": wall, "fps": frames / wall,
        "faces_missed": result.metrics["faces_missed"],
        "restore_ms_per_frame": restore["ms_mean"],
        "peak_rss_mb": peak_rss_mb(),
        "peak_child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the short render")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.folder)
        return 0
    from pipeline.demo import synth_speech

    with tempfile.TemporaryDirectory(prefix="alpha-render-bench-") as scratch:
        folder = Path(scratch)
        make_source(folder)
        runs = []
        for seconds in (args.seconds, 3 * args.seconds):
            # Made here, so the render's process measures the render alone.
            synth_speech(folder / f"voice-{seconds:g}.wav", seconds=seconds, seed=7)
            output = subprocess.run([sys.executable, __file__, "--child", str(seconds), "--folder", str(folder)],
                                    capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(output.strip().splitlines()[-1]))
    short, long = runs
    realtime = min(run["fps"] for run in runs) / FPS
    growth = long["peak_rss_mb"] / short["peak_rss_mb"]
    targets = [(f"1080p preview at >= real time ({FPS} fps)", realtime >= 1.0),
               ("memory flat in length (long <= short + 10 %)", growth <= 1.10)]
    print(f"{'video':>8} {'frames':>7} {'wall s':>8} {'fps':>7} {'x real time':>12} "
          f"{'restore ms':>11} {'peak MB':>8} {'ffmpeg MB':>10}")
    for run in runs:
        print(f"{run['seconds_of_video']:>7g}s {run['frames']:>7} {run['wall_s']:>8.1f} {run['fps']:>7.1f} "
              f"{run['fps'] / FPS:>12.2f} {run['restore_ms_per_frame']:>11.1f} {run['peak_rss_mb']:>8.0f} "
              f"{run['peak_child_rss_mb']:>10.0f}")
    for name, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "render.json").write_text(json.dumps({"runs": runs, "x_real_time": realtime,
                                                 "memory_growth": growth,
                                                 "targets": {n: ok for n, ok in targets}}, indent=2) + "\n")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
