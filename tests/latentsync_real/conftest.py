"""The real-LatentSync lane: alpha driving bytedance/LatentSync a229c39 on a CPU.

This is the lane that says "works with LatentSync". The code is the real source from
``<repo>/../shared/latentsync-a229c39`` (never copied into the repository; a worktree without
``../shared`` can point ``ALPHA_SHARED_DIR`` at one). Only the weights are fake: tiny random
ones in the real formats, made by LatentSync's own classes (``make_tiny_weights.py``). What a
CPU forces is shimmed in ``cpu_shims/sitecustomize.py`` (each shim labelled there); no file of
the checkout is edited. Every test here is marked ``real_latentsync``.

Fixtures, for tests that extend the lane (the restore stage, the warm worker, ...):

``latentsync_env`` (session): a :class:`LatentSyncEnv`: ``checkout`` (a ready test checkout:
    the real source plus the mask PNGs, the tiny configs ``configs/unet/stage2_tiny.yaml`` and
    ``stage2_512_tiny.yaml`` and the tiny weights), ``python`` (LatentSync's venv, built by
    ``tools/latentsync-venv.sh`` unless ``ALPHA_LATENTSYNC_PYTHON`` names one), ``hf_home``
    (the Hugging Face cache holding the tiny VAE) and ``env`` (the environment to run alpha or
    LatentSync with: shims on, ``HF_HUB_OFFLINE=1``). ``latentsync_env.alpha(root, *args)``
    runs the real ``alpha`` command in a subprocess with that environment.

``make_project`` (session): ``make_project(root, [RealEpisode(...), ...])`` writes a project
    whose ``alpha.yaml`` points at the test checkout (or ``checkout=``), its Python and the tiny
    checkpoints, with one episode per :class:`RealEpisode` (source clip and voice made by
    :mod:`.scene`).

A render of the real code takes about a minute on an idle CPU: share rendered projects
between assertions with module-scoped fixtures (see test_render.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import write, write_voice
from tests.latentsync_real import scene

REPO = Path(__file__).resolve().parents[2]
SHIMS = Path(__file__).parent / "cpu_shims"
WEIGHTS_SCRIPT = Path(__file__).parent / "make_tiny_weights.py"
SOURCE_NAME = "latentsync-a229c39"
TINY_CHECKPOINTS = {
    "1.5": ("configs/unet/stage2_tiny.yaml", "checkpoints/latentsync-1.5/latentsync_unet.pt", 256),
    "1.6": ("configs/unet/stage2_512_tiny.yaml", "checkpoints/latentsync-1.6/latentsync_unet.pt", 512),
}
# Files the fixtures add to the copied checkout (everything else must stay byte-identical).
ADDED = ("latentsync/utils/mask.png", "latentsync/utils/mask2.png", "latentsync/utils/mask3.png",
         "latentsync/utils/mask4.png", *(p for c in TINY_CHECKPOINTS.values() for p in c[:2]),
         "checkpoints/whisper/tiny.pt")
SETUP_TIMEOUT_S = 1200
RENDER_TIMEOUT_S = 1800
# A test's setup may build the venv and render a whole project: far past the suite's 300 s.
LANE_TIMEOUT_S = SETUP_TIMEOUT_S + RENDER_TIMEOUT_S


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real_latentsync)
            item.add_marker(pytest.mark.timeout(LANE_TIMEOUT_S))


def shared_dir() -> Path | None:
    for candidate in (os.environ.get("ALPHA_SHARED_DIR"), REPO.parent / "shared"):
        if candidate and (Path(candidate) / SOURCE_NAME / "scripts" / "inference.py").is_file():
            return Path(candidate)
    return None


@dataclass
class LatentSyncEnv:
    checkout: Path
    python: Path
    hf_home: Path
    env: dict[str, str] = field(repr=False)

    def alpha(self, root: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = RENDER_TIMEOUT_S) -> subprocess.CompletedProcess:
        """The real `alpha -C root ARGS` in its own process, in this environment (plus `env`)."""
        return subprocess.run([sys.executable, "-m", "pipeline", "-C", str(root), *args],
                              env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)


def latentsync_python() -> Path:
    named = os.environ.get("ALPHA_LATENTSYNC_PYTHON")
    if named:
        return Path(named)
    done = subprocess.run(["bash", str(REPO / "tools" / "latentsync-venv.sh")], capture_output=True,
                          text=True, timeout=SETUP_TIMEOUT_S)
    if done.returncode != 0:
        pytest.fail(f"tools/latentsync-venv.sh failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def make_checkout(source: Path, masks: Path, dest: Path) -> Path:
    """The real source copied (read-only in CI, and LatentSync's paths are relative to the
    working directory) plus the mask PNGs, which the source leaves out."""
    shutil.copytree(source, dest)
    for mask in sorted(masks.glob("mask*.png")):
        shutil.copy(mask, dest / "latentsync" / "utils" / mask.name)
    for path in dest.rglob("*"):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)  # ../shared has no write bits in CI
    return dest


@pytest.fixture(scope="session")
def latentsync_env(tmp_path_factory) -> LatentSyncEnv:
    shared = shared_dir()
    if shared is None:
        message = f"../shared/{SOURCE_NAME} not found (set ALPHA_SHARED_DIR to the shared folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    python = latentsync_python()
    prefix = subprocess.run([str(python), "-c", "import sys; print(sys.prefix)"], capture_output=True,
                            text=True, check=True).stdout.strip()
    base = tmp_path_factory.mktemp("latentsync")
    checkout = make_checkout(shared / SOURCE_NAME, shared / "data" / "latentsync", base / "LatentSync")
    hf_home = base / "hf"
    env = dict(os.environ)
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               ALPHA_TEST_LATENTSYNC_CPU_SHIMS=prefix,
               PYTHONPATH=os.pathsep.join([str(SHIMS), *filter(None, [env.get("PYTHONPATH")])]),
               OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"))
    env.pop("HF_HUB_CACHE", None)
    done = subprocess.run([str(python), str(WEIGHTS_SCRIPT), str(hf_home)], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=SETUP_TIMEOUT_S)
    if done.returncode != 0:
        pytest.fail(f"making the tiny weights failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return LatentSyncEnv(checkout=checkout, python=python, hf_home=hf_home, env=env)


@dataclass(frozen=True)
class RealEpisode:
    """One episode of a lane project; `faceless` are source frames without a face."""

    id: str
    checkpoint: str = "1.5"
    seconds: float = 0.4
    steps: int = 1
    guidance: float = 1.0
    blend: str = "poisson"
    blur: int = 0
    erode: int = 0
    faceless: tuple[int, ...] = ()

    @property
    def frames(self) -> int:
        return round(self.seconds * 25)


@pytest.fixture(scope="session")
def make_project(latentsync_env):
    def make(root: Path, episodes: list[RealEpisode], checkout: Path | None = None) -> Path:
        media = root / "media"
        media.mkdir(parents=True)
        checkpoints = json.dumps({version: {"config": config, "checkpoint": checkpoint, "resolution": resolution}
                                  for version, (config, checkpoint, resolution) in TINY_CHECKPOINTS.items()})
        write(root / "alpha.yaml", f"""
            latentsync:
              root: {checkout or latentsync_env.checkout}
              python: {latentsync_env.python}
              checkpoints: {checkpoints}
            defaults:
              video: {{width: {scene.W}, height: {scene.H}, crf: 0, preset: veryfast}}
              proof: {{at: [0.2]}}
              quality: {{faces_missed_max: 0.5, seam_max: null}}  # random weights: seams mean nothing
              min_duration: 0.2  # the lane's voices are 0.4 s: the real code is slow on a CPU
        """)
        for episode in episodes:
            clip = scene.write_clip(media / f"{episode.id}.mp4", episode.frames, episode.faceless)
            voice = write_voice(media / f"{episode.id}.wav", episode.seconds)
            write(root / "episodes" / f"{episode.id}.yaml", f"""
                title: {episode.id}
                date: 2026-01-01
                source: {{video: media/{clip.name}}}
                audio: {{voice: media/{voice.name}}}
                lipsync: {{backend: latentsync, checkpoint: "{episode.checkpoint}", steps: {episode.steps}, guidance: {episode.guidance}}}
                restore: {{blend: {episode.blend}, blur: {episode.blur}, erode: {episode.erode}}}
            """)
        return root

    return make
