"""Fixtures: a copy of the stand-in LatentSync checkout, synthetic talking-head media, jobs.

The stand-in (./standin, see its README.md) mimics LatentSync's module layout and call flow
with a deterministic CPU "model"; "the checkout's Python" is this interpreter.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.media import FrameWriter
from pipeline.project.schema import LatentSyncSettings
from pipeline.stages.base import StageRun
from tests.helpers import write_voice

STANDIN = Path(__file__).parent / "standin"
W, H = 192, 144
FACELESS = (8, 9, 10)      # source frames without a face
SOURCE_FRAMES = 24
VOICE_SECONDS = 1.2        # 30 frames at 25 fps: the 24-frame clip is looped


def copy_checkout(dest: Path) -> Path:
    """A copy of the stand-in with a synthetic mask.png (never LatentSync's own file)."""
    from pipeline.restore import synthetic_inner_mask

    shutil.copytree(STANDIN, dest, ignore=shutil.ignore_patterns("__pycache__"))
    generated = synthetic_inner_mask((256, 256))
    cv2.imwrite(str(dest / "latentsync" / "utils" / "mask.png"),
                np.where(generated > 0.5, 0, 255).astype(np.uint8))
    return dest


def drop_flags(checkout: Path, *flags: str) -> None:
    """scripts/inference.py as an older LatentSync has it: without some of alpha's flags."""
    inference = checkout / "scripts" / "inference.py"
    lines = inference.read_text().splitlines(keepends=True)
    inference.write_text("".join(line for line in lines if not any(f'"{flag}"' in line for flag in flags)))


def face_frame(k: int, rng: np.random.Generator | None = None, face: bool = True) -> np.ndarray:
    """A synthetic head: skin ellipse, two green eyebrow dots, a blue nose dot, jittered."""
    frame = np.empty((H, W, 3), np.uint8)
    frame[:] = (70, 90, 120)
    yy, xx = np.mgrid[0:H, 0:W]
    frame[(yy % 16 < 8) ^ (xx % 16 < 8)] = (80, 100, 128)  # texture, so seams are measurable
    if not face:
        return frame
    dx, dy = (rng.integers(-2, 3, size=2) if rng is not None else (0, 0))
    cx, cy = 96 + dx, 76 + dy
    skin = ((xx - cx) / 40.0) ** 2 + ((yy - cy) / 52.0) ** 2 <= 1.0
    frame[skin] = (200, 160, 130)
    shade = np.clip(1.0 - 0.25 * (yy - cy) / 52.0, 0.7, 1.2)
    frame[skin] = np.clip(frame[skin] * shade[skin, None], 0, 255).astype(np.uint8)

    def dot(x: int, y: int, colour) -> None:
        frame[y - 2:y + 3, x - 2:x + 3] = colour

    jitter = rng.integers(-1, 2, size=6) if rng is not None else np.zeros(6, int)
    dot(cx - 14 + jitter[0], cy - 16 + jitter[1], (0, 255, 0))
    dot(cx + 14 + jitter[2], cy - 16 + jitter[3], (0, 255, 0))
    dot(cx + jitter[4], cy + 2 + jitter[5], (0, 0, 255))
    return frame


def write_clip(path: Path, frames: int = SOURCE_FRAMES, faceless=FACELESS, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    with FrameWriter(path, W, H, 25, crf=8) as writer:
        for k in range(frames):
            writer.write(face_frame(k, rng, face=k not in faceless))
    return path


def write_still(path: Path) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(face_frame(0), cv2.COLOR_RGB2BGR))
    return path


def settings_for(checkout: Path | str | None, python: str | None = None, **checkpoints) -> LatentSyncSettings:
    data: dict = {"root": None if checkout is None else str(checkout), "python": python or sys.executable}
    if checkpoints:
        data["checkpoints"] = checkpoints
    return LatentSyncSettings.model_validate(data)


def make_job(work: Path, source: Path, voice: Path, *, kind: str = "video", checkpoint: str = "1.5",
             blend: str = "poisson", blur: int = 0, erode: int = 0, fps: int = 25, steps: int = 3,
             deepcache: bool = False, progress=None) -> StageRun:
    from pipeline.project.schema import DEFAULT_CHECKPOINTS, ProjectSettings

    work.mkdir(parents=True, exist_ok=True)
    params = {
        "lipsync": {"backend": "latentsync", "checkpoint": checkpoint, "steps": steps, "guidance": 1.5,
                    "seed": 1247, "deepcache": deepcache, "config": DEFAULT_CHECKPOINTS[checkpoint].config},
        "source": {"kind": kind},
        "video": {"fps": fps, "width": W, "height": H, "crf": 18, "preset": "veryfast"},
        "restore": {"blend": blend, "blur": blur, "erode": erode},
    }
    return StageRun(episode_id="ep01", params=params, inputs={"audio.voice": voice},
                    upstream={"source.media": source}, work=work,
                    progress=progress or (lambda done, total: None), root=work.parent,
                    settings=ProjectSettings())


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    return {"clip": write_clip(folder / "clip.mp4"), "still": write_still(folder / "face.png"),
            "voice": write_voice(folder / "voice.wav", VOICE_SECONDS)}


@pytest.fixture
def checkout(tmp_path) -> Path:
    return copy_checkout(tmp_path / "LatentSync")
