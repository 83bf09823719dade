"""Pieces of the runner that need no LatentSync: smoothing, the encoder, progress, imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.media import ffmpeg_exe, probe, read_frames
from pipeline.stages.lipsync.latentsync import _Progress
from pipeline.stages.lipsync.runner import PROGRESS_PREFIX
from pipeline.stages.lipsync.runner.media import FrameSink
from pipeline.stages.lipsync.runner.smoothing import crop_centre, jitter, smooth_affines

RUNNER = Path(__file__).parents[2] / "pipeline" / "stages" / "lipsync" / "runner"
CROP = (210, 280)


def similarity(x: float, y: float, scale: float = 4.0, angle: float = 0.0) -> np.ndarray:
    """Frame→crop matrix putting frame point (x, y) at the crop centre."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    lin = np.array([[c, -s], [s, c]])
    t = np.array([CROP[0] / 2, CROP[1] / 2]) - lin @ np.array([x, y])
    return np.hstack([lin, t[:, None]])


def test_smoothing_removes_jitter_and_keeps_a_similarity():
    rng = np.random.default_rng(1)
    raw = [similarity(96 + rng.normal(0, 1.5), 80 + rng.normal(0, 1.5), 4 + rng.normal(0, 0.03)) for _ in range(60)]
    smoothed, cuts, shots = smooth_affines(raw, CROP, sigma=2.0)
    assert cuts == [] and set(shots) == {0}
    assert jitter(smoothed, CROP) < 0.4 * jitter(raw, CROP)
    for m in smoothed:
        assert m[0, 0] == pytest.approx(m[1, 1]) and m[0, 1] == pytest.approx(-m[1, 0])
    assert np.allclose(smooth_affines(raw, CROP, sigma=0)[0], raw)


def test_faceless_frames_borrow_from_neighbours_and_cuts_are_respected():
    raw = [similarity(50, 60)] * 10 + [None] * 3 + [similarity(50, 60)] * 5 + [similarity(150, 60)] * 10
    smoothed, cuts, shots = smooth_affines(raw, CROP, sigma=3.0)
    assert cuts == [18]
    assert shots[:18] == [0] * 18 and shots[18:] == [1] * 10
    for k in (10, 11, 12, 17):
        assert np.allclose(crop_centre(smoothed[k], CROP), (50, 60))  # not pulled across the cut
    assert np.allclose(crop_centre(smoothed[18], CROP), (150, 60))
    fallback = similarity(0, 0)
    assert np.allclose(smooth_affines([None, None], CROP, fallback=fallback)[0][1], fallback)


def test_frame_sink_writes_exactly_the_frame_count(tmp_path):
    frames = [np.full((32, 48, 3), 30 * k, np.uint8) for k in range(5)]
    args = ["-vf", "format=yuv420p", "-c:v", "libx264", "-crf", "18"]
    short = FrameSink(ffmpeg_exe(), str(tmp_path / "short.mp4"), 3, "25/1", args)
    long = FrameSink(ffmpeg_exe(), str(tmp_path / "long.mp4"), 7, "25/1", args)
    for frame in frames:
        short.write(frame)
        long.write(frame)
    short.finish()
    long.finish()
    assert (short.written, short.dropped, short.padded) == (3, 2, 0)
    assert (long.written, long.dropped, long.padded) == (7, 0, 2)
    assert len(list(read_frames(tmp_path / "short.mp4"))) == 3
    assert probe(tmp_path / "long.mp4").duration == pytest.approx(7 / 25, abs=0.01)
    broken = FrameSink(ffmpeg_exe(), str(tmp_path / "broken.mp4"), 3, "25/1", args)
    broken.write(frames[0])
    broken.abort()
    assert not (tmp_path / "broken.mp4").exists()


def test_progress_lines_become_one_frame_count():
    calls = []
    meter = _Progress(lambda done, total: calls.append((done, total)), 100)
    for line in (f"{PROGRESS_PREFIX} align 50 100", f"{PROGRESS_PREFIX} align 100 100",
                 f"{PROGRESS_PREFIX} infer 50 100", "garbage", f"{PROGRESS_PREFIX} infer x 1",
                 f"{PROGRESS_PREFIX} capture 100 100"):
        meter.update(line)
    meter.finish()
    assert calls == [(4, 100), (8, 100), (51, 100), (57, 100), (100, 100)]


ALLOWED = {"numpy", "cv2"}


def test_runner_imports_only_what_latentsyncs_process_has():
    """stdlib, numpy and cv2 only, nothing else of alpha (LatentSync's and torch's modules are
    reached at run time), and nothing newer than Python 3.10 can parse."""
    for path in sorted(RUNNER.glob("*.py")):
        tree = ast.parse(path.read_text(), feature_version=(3, 10))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside the runner package
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED, f"{path.name} imports {name}"
                assert top != "torch", path.name


def test_runner_process_loads_nothing_of_alpha_but_the_runner(tmp_path):
    """With the PYTHONPATH alpha gives LatentSync's process, importing the runner loads no
    other part of alpha (not even the restore engine: paste-back is alpha's restore stage) and
    none of alpha's own dependencies (pydantic, yaml, rich, ...)."""
    import json
    import subprocess

    from pipeline.stages.lipsync.latentsync import child_env

    code = ("import json, sys; import pipeline.stages.lipsync.runner.__main__; "
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=child_env(tmp_path, tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    ours = [m for m in modules if m == "pipeline" or m.startswith("pipeline.")]
    assert all(m.startswith("pipeline.stages.lipsync.runner") or
               m in ("pipeline", "pipeline.stages", "pipeline.stages.lipsync") for m in ours), ours
    assert "pipeline.stages.lipsync.runner.hooks" in ours
    for heavy in ("pydantic", "yaml", "rich", "typer", "torch", "imageio_ffmpeg", "jinja2", "scipy"):
        assert heavy not in modules, heavy
