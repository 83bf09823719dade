"""The `latentsync` lip-sync backend: LatentSync in its own Python, driven through our runner.

alpha never imports LatentSync. It resolves the checkout, its Python and the checkpoint with
the config that belongs to it, makes the 25 fps input clip LatentSync wants and an args file,
and hands the episode to a warm worker (:class:`ModelWorkers`): one process per GPU for the
whole render batch,

    <latentsync python> -m pipeline.stages.lipsync.runner --serve

with the working directory at the checkout root and a minimal view of alpha's package
(:func:`child_env`) prepended to PYTHONPATH. The runner (:mod:`pipeline.stages.lipsync.runner`)
patches LatentSync in memory (no file of the checkout is touched), builds its pipeline from
the classes of ``scripts/inference.py`` once per checkpoint and renders each episode sent to
it. It hands back what every backend hands the restore stage: the frames LatentSync aligned
(the 25 fps input clip), the generated crop of every frame (lossless crops video) and the
alignment track, which this module completes with the shots and the generated region of
LatentSync's mask.png. Only this module spawns LatentSync.

The runner only captures: paste-back is the restore stage, in alpha's process, once the GPU
is free, so no ``restore.*`` setting is part of this stage's key and no paste-back change
ever re-runs the model.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ...errors import Failure, UserError
from ...project.schema import Checkpoint, LatentSyncSettings
from ..base import ModelLoad, StageResult, StageRun
from .runner import (ARGS_VERSION, DONE_PREFIX, EXIT_NO_FRAMES, FIRST_WITH_FLAGS, KNOWN_GOOD, KNOWN_GOOD_COMMIT,
                     LOAD_PREFIX, PHASES, PROGRESS_PREFIX)

LATENTSYNC_FPS = 25
# The input clip is an intermediate LatentSync decodes once: near-lossless, made quickly.
INPUT_CRF = 10
INPUT_PRESET = "veryfast"
# data.resolution each published release was trained at (configs/unet/stage2*.yaml).
RELEASE_RESOLUTION = {"1.5": 256, "1.6": 512}
# Minimum VRAM per the LatentSync README, in GB, by resolution.
VRAM_GB_BY_RESOLUTION = {256: 8, 512: 18}
REPOSITORY = "https://github.com/bytedance/LatentSync"
# Temporal smoothing of the alignment matrices: Gaussian sigma in frames (0 turns it off).
SMOOTHING_SIGMA = 2.0
LOG_TAIL_LINES = 30
KILL_GRACE_S = 5.0
RUNNER_MODULE = "pipeline.stages.lipsync.runner"
# Every flag :func:`write_invocation` may pass to scripts/inference.py.
INFERENCE_FLAGS = ("--unet_config_path", "--inference_ckpt_path", "--video_path", "--audio_path",
                   "--video_out_path", "--inference_steps", "--guidance_scale", "--temp_dir", "--seed",
                   "--enable_deepcache")


@dataclass(frozen=True)
class Checkout:
    """A LatentSync checkout with one checkpoint resolved: every path absolute."""

    root: Path
    python: Path
    version: str
    entry: Checkpoint
    config: Path
    checkpoint: Path
    config_arg: str       # as passed to --unet_config_path (relative to root when possible)
    checkpoint_arg: str   # as passed to --inference_ckpt_path
    data: dict[str, Any] = field(repr=False)

    @property
    def resolution(self) -> int:
        return int(self.data.get("data", {}).get("resolution", 0))

    @property
    def mask_image(self) -> Path:
        rel = self.data.get("data", {}).get("mask_image_path") or "latentsync/utils/mask.png"
        return _inside(self.root, str(rel))

    @property
    def whisper(self) -> Path | None:
        dim = self.data.get("model", {}).get("cross_attention_dim")
        name = {768: "small.pt", 384: "tiny.pt"}.get(dim)
        return self.root / "checkpoints" / "whisper" / name if name else None


# -- resolution of the checkout ------------------------------------------------------------

def checkout_root(settings: LatentSyncSettings, project_root: Path) -> Path:
    """The checkout folder named by `latentsync.root` (UserError when unset or missing)."""
    if not settings.root:
        raise UserError("lipsync.backend is latentsync but latentsync.root is not set in alpha.yaml: "
                        f"point it at a LatentSync checkout (git clone {REPOSITORY})")
    root = _resolve(settings.root, project_root)
    if not root.is_dir():
        raise UserError(f"LatentSync checkout not found: {root} (latentsync.root in alpha.yaml); "
                        f"clone it with: git clone {REPOSITORY} {root}")
    if not (root / "scripts" / "inference.py").is_file():
        raise UserError(f"{root} is not a LatentSync checkout: it has no scripts/inference.py "
                        "(latentsync.root in alpha.yaml)")
    return root


def inference_flags(root: Path) -> set[str]:
    """The ``--flags`` scripts/inference.py declares with argparse, read from its source (not
    run: importing it would load torch). UserError when it cannot be read or parsed."""
    import ast

    path = root / "scripts" / "inference.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise UserError(f"cannot read LatentSync's {path}: {exc}") from None
    flags = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            flags.update(arg.value for arg in node.args
                         if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"))
    return flags


def missing_flags(root: Path) -> list[str]:
    """The flags alpha passes that this checkout's scripts/inference.py does not accept."""
    flags = inference_flags(root)
    return [flag for flag in INFERENCE_FLAGS if flag not in flags]


def checkout_advice(root: Path) -> str:
    return (f"check out the known-good commit {KNOWN_GOOD}: git -C {root} fetch && "
            f"git -C {root} checkout {KNOWN_GOOD_COMMIT}")


def check_flags(root: Path) -> None:
    """UserError when the checkout is too old for the flags alpha passes (before anything runs)."""
    missing = missing_flags(root)
    if missing:
        raise UserError(
            f"this LatentSync checkout is too old: {root / 'scripts' / 'inference.py'} does not accept "
            f"{', '.join(missing)}, which alpha passes (they exist since {FIRST_WITH_FLAGS}; the 1.6 release "
            f"d058a61 and the 1.5 release 75a4a17 lack them); {checkout_advice(root)}")


def checkout_python(settings: LatentSyncSettings, project_root: Path, root: Path) -> Path:
    """LatentSync's own interpreter: `latentsync.python`, else a venv inside the checkout."""
    if settings.python:
        value = settings.python
        if "/" not in value and not value.startswith("~"):
            found = shutil.which(value)
            if found is None:
                raise UserError(f"LatentSync's Python {value!r} (latentsync.python in alpha.yaml) "
                                "is not on PATH; give the full path of its environment's python")
            return Path(found)
        python = _resolve(value, project_root)
        if not python.is_file() or not os.access(python, os.X_OK):
            raise UserError(f"LatentSync's Python not found or not executable: {python} "
                            "(latentsync.python in alpha.yaml)")
        return python
    for candidate in (root / ".venv" / "bin" / "python", root / "venv" / "bin" / "python"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise UserError("latentsync.python is not set in alpha.yaml and the checkout has no .venv: set it to "
                    "the Python of LatentSync's environment (Python 3.10 with its requirements.txt), "
                    "e.g. ~/miniconda3/envs/latentsync/bin/python")


def checkpoint_entry(settings: LatentSyncSettings, version: str) -> Checkpoint:
    try:
        return settings.checkpoints[version]
    except KeyError:
        raise UserError(f"unknown LatentSync checkpoint {version!r}; the registry in alpha.yaml "
                        f"(latentsync.checkpoints) has {', '.join(sorted(settings.checkpoints))}") from None


def read_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read LatentSync config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"LatentSync config {path} is not a mapping")
    return data


def check_pairing(version: str, entry: Checkpoint, config: Path, data: dict[str, Any]) -> None:
    """The checkpoint and its config must travel together: same data.resolution."""
    known = RELEASE_RESOLUTION.get(version)
    if known is not None and entry.resolution != known:
        raise UserError(f"latentsync.checkpoints[{version!r}] says resolution {entry.resolution}, but "
                        f"LatentSync {version} was trained at {known}")
    resolution = data.get("data", {}).get("resolution") if isinstance(data.get("data"), dict) else None
    if resolution != entry.resolution:
        right = "configs/unet/stage2_512.yaml" if entry.resolution == 512 else "configs/unet/stage2.yaml"
        raise UserError(
            f"LatentSync {version}: config {config.name} has data.resolution {resolution}, but the "
            f"{version} checkpoint needs {entry.resolution} (a 1.6 checkpoint can never run with the "
            f"256 config); set latentsync.checkpoints[{version!r}].config to {right}")


def resolve_checkout(settings: LatentSyncSettings, project_root: Path, version: str,
                     config: str | None = None) -> Checkout:
    """Everything needed to launch one checkpoint, checked; UserError naming what is missing."""
    root = checkout_root(settings, project_root)
    python = checkout_python(settings, project_root, root)
    entry = checkpoint_entry(settings, version)
    config_rel = config or entry.config
    config_path = _inside(root, config_rel)
    if not config_path.is_file():
        raise UserError(f"LatentSync {version}: config not found: {config_path} "
                        f"(latentsync.checkpoints[{version!r}].config)")
    checkpoint_path = _inside(root, entry.checkpoint)
    if not checkpoint_path.is_file():
        raise UserError(
            f"LatentSync {version}: checkpoint not found: {checkpoint_path}; download it with: "
            f"huggingface-cli download ByteDance/LatentSync-{version} latentsync_unet.pt "
            f"--local-dir {checkpoint_path.parent}")
    data = read_config(config_path)
    check_pairing(version, entry, config_path, data)
    return Checkout(root=root, python=python, version=version, entry=entry, config=config_path,
                    checkpoint=checkpoint_path, config_arg=_arg(root, config_rel),
                    checkpoint_arg=_arg(root, entry.checkpoint), data=data)


def _resolve(value: str, project_root: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (project_root / path).resolve()


def _inside(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _arg(root: Path, value: str) -> str:
    path = Path(value).expanduser()
    return str(path) if path.is_absolute() else value


# -- the run -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Invocation:
    """One episode for the runner: its args file, its log and the files it writes."""

    args_file: Path
    log: Path
    telemetry: Path
    crops: Path
    track: Path

    @property
    def products(self) -> tuple[Path, ...]:
        """The files the runner writes (all removed when the run fails)."""
        return (self.telemetry, self.crops, self.track)


def checked_checkout(job: StageRun, settings: LatentSyncSettings, project_root: Path) -> Checkout:
    """The episode's checkout and checkpoint, with everything the runner needs checked: the
    flags, LatentSync's mask image, the audio encoder (UserError naming what is missing)."""
    lipsync = job.params["lipsync"]
    version = str(lipsync.get("checkpoint", "1.6"))
    checkout = resolve_checkout(settings, project_root, version, lipsync.get("config"))
    check_flags(checkout.root)
    if not checkout.mask_image.is_file():
        raise UserError(f"LatentSync's mask image is missing: {checkout.mask_image} "
                        "(data.mask_image_path of its config); restore the checkout")
    if checkout.whisper is not None and not checkout.whisper.is_file():
        raise UserError(f"LatentSync's audio encoder is missing: {checkout.whisper}; download it with: "
                        f"huggingface-cli download ByteDance/LatentSync-{version} whisper/{checkout.whisper.name} "
                        f"--local-dir {checkout.root / 'checkpoints'}")
    return checkout


def prepare_latentsync(job: StageRun, settings: LatentSyncSettings, project_root: Path) -> StageResult:
    """The CPU half of the stage, run before a GPU is taken: the checkout checked, and the
    25 fps input clip LatentSync wants (``original``: the source looped or held to the voice's
    length at the episode's size; the frames LatentSync aligns and the restore stage pastes
    into)."""
    from ...media import loop_video, probe, still_to_video

    checked_checkout(job, settings, project_root)
    duration = probe(job.inputs["audio.voice"].resolve()).duration
    video = job.params["video"]
    clip = job.work.resolve() / "input.mp4"
    make = loop_video if job.params.get("source", {}).get("kind") == "video" else still_to_video
    make(job.upstream["source.media"], clip, duration=duration, fps=LATENTSYNC_FPS,
         size=(int(video["width"]), int(video["height"])), crf=INPUT_CRF, preset=INPUT_PRESET)
    return StageResult({"original": clip}, {"duration": duration})


def run_latentsync(job: StageRun, settings: LatentSyncSettings, project_root: Path) -> StageResult:
    """Lip-sync `job` with LatentSync; returns the restore stage's inputs and the runner's
    telemetry.

    The input clip comes from the prepare phase (``job.prepared["original"]``); called on its
    own, the stage prepares it first and returns it too. The episode goes to the warm worker
    of the job's GPU (``job.workers``, one LatentSync process per device for the whole batch,
    models loaded once per checkpoint); without one, a worker is started for this episode
    alone.

    Outputs (names as the preview backend's, so the restore and proof stages read either):

    * ``original``: the 25 fps input clip LatentSync decoded, the frames it aligned (from the
      prepare phase);
    * ``crops``: lossless RGB video (``crops.mkv``, 25 fps) of every output frame's raw
      generated crop at the model's resolution (1.6: 512×512, 1.5: 256×256), before
      LatentSync's hard in-crop composite, black where the frame has no face; the restore
      stage resizes it to the crop box (1.6: 420×560, 1.5: 210×280) as LatentSync does;
    * ``track``: track.npz (:mod:`pipeline.restore.track`): the smoothed frame→crop matrices
      (zeros where no face), ``found`` and ``detected``, the shots (from the runner's cuts),
      ``fps`` 25, ``crop_size`` and the inner mask from LatentSync's mask.png;
    * ``telemetry``: the runner's per-frame sidecar JSON;
    * ``log``: LatentSync's output (its warnings, the runner's list of patched targets), kept
      with the render so it can be read afterwards; the render's report names it.

    Metrics: the sidecar's summary (no per-frame lists).
    """
    from ...media import probe
    from ...media.filters import frame_count

    inline = None if "original" in job.prepared else prepare_latentsync(job, settings, project_root)
    clip = inline.outputs["original"] if inline is not None else job.prepared["original"]
    checkout = checked_checkout(job, settings, project_root)
    version = checkout.version
    voice = job.inputs["audio.voice"].resolve()
    duration = probe(voice).duration
    frames = frame_count(duration, LATENTSYNC_FPS)
    invocation = write_invocation(job, checkout, clip, voice, frames)
    started = time.monotonic()
    for path in invocation.products:
        path.unlink(missing_ok=True)  # nothing stale can pass for this run's output
    workers = job.workers if job.workers is not None else ModelWorkers(invocation.log.parent / "worker")
    try:
        worker = workers.worker(checkout, project_root, job.device)
        worker.render(invocation, job.episode_id, version, job.progress, frames)
        for name, path in (("telemetry", invocation.telemetry), ("crops video", invocation.crops),
                           ("track", invocation.track)):
            if not path.is_file():
                raise Failure(f"LatentSync finished but left no {name}; its log ends with:\n{_tail(invocation.log)}")
        telemetry = json.loads(invocation.telemetry.read_text(encoding="utf-8"))
        complete_track(invocation.track, telemetry, checkout.mask_image)
    except BaseException:
        for path in invocation.products:
            path.unlink(missing_ok=True)
        raise
    finally:
        if job.workers is None:
            workers.close_all()
    metrics = summary(telemetry)
    metrics.update(checkpoint=version, resolution=checkout.resolution, duration=duration,
                   seconds=round(time.monotonic() - started, 3))
    outputs = {"crops": invocation.crops, "track": invocation.track, "telemetry": invocation.telemetry,
               "log": invocation.log}
    if inline is not None:
        outputs["original"] = clip
    return StageResult(outputs, metrics)


def write_invocation(job: StageRun, checkout: Checkout, clip: Path, voice: Path, frames: int) -> Invocation:
    """The args file of one episode, for the runner to render `clip` to `voice`."""
    from ...media import ffmpeg_exe
    from ...media.filters import LOSSLESS_RGB_ARGS, LOSSLESS_RGB_SUFFIX, rate

    video = job.params["video"]
    size = (int(video["width"]), int(video["height"]))
    work = job.work.resolve()
    own = work / "latentsync"
    own.mkdir(parents=True, exist_ok=True)
    temp_dir = own / "temp"  # LatentSync deletes and recreates this folder: nothing of ours in it
    clip = clip.resolve()
    telemetry = work / "lipsync.telemetry.json"
    crops = work / f"crops{LOSSLESS_RGB_SUFFIX}"
    track = work / "track.npz"
    lipsync = job.params["lipsync"]
    argv = ["--unet_config_path", checkout.config_arg,
            "--inference_ckpt_path", checkout.checkpoint_arg,
            "--video_path", str(clip),
            "--audio_path", str(voice),
            "--video_out_path", str(own / "latentsync_out.mp4"),  # never written: see the runner
            "--inference_steps", str(int(lipsync.get("steps", 20))),
            "--guidance_scale", repr(float(lipsync.get("guidance", 1.5))),
            "--temp_dir", str(temp_dir),
            "--seed", str(int(lipsync.get("seed", 1247)))]
    if lipsync.get("deepcache"):
        argv.append("--enable_deepcache")
    args = {
        "version": ARGS_VERSION,
        "argv": argv,
        "ffmpeg": ffmpeg_exe(),
        "input_video": str(clip),
        "width": size[0],
        "height": size[1],
        "frames": frames,
        "telemetry": str(telemetry),
        # The crops at 25 fps, frame for frame with the input clip and the track.
        "crops": {"output": str(crops), "fps_in": rate(LATENTSYNC_FPS), "output_args": LOSSLESS_RGB_ARGS},
        "track": str(track),
        "smoothing": {"sigma": SMOOTHING_SIGMA},
    }
    args_file = own / "args.json"
    args_file.write_text(json.dumps(args, indent=1), encoding="utf-8")
    return Invocation(args_file=args_file, log=own / "latentsync.log", telemetry=telemetry,
                      crops=crops, track=track)


# -- the warm workers ----------------------------------------------------------------------

class ModelWorkers:
    """The LatentSync processes of one render batch: one per GPU (and checkout), started on
    first use and kept, with their models loaded, for every episode sent to that GPU.

    A worker whose episode failed has exited (the runner leaves after a failure, so CUDA
    state never carries over); the next episode on that GPU starts a fresh one. `loads` lists
    every model load with the episodes it served. `home` holds the workers' PYTHONPATH views
    and must outlive them (the batch's tmp folder).
    """

    def __init__(self, home: Path, node: str = "local"):
        self.home = home
        self.node = node
        self.loads: list[ModelLoad] = []
        self._workers: dict[tuple[str, str, str | None], WarmWorker] = {}
        self._guard = threading.Lock()

    def worker(self, checkout: Checkout, project_root: Path, device: str | None) -> "WarmWorker":
        key = (str(checkout.python), str(checkout.root), device)
        with self._guard:
            if key not in self._workers:
                home = self.home / f"worker-{len(self._workers)}"
                env = child_env(home, project_root)
                if device is not None:
                    env["CUDA_VISIBLE_DEVICES"] = device
                cmd = [str(checkout.python), "-m", RUNNER_MODULE, "--serve"]
                self._workers[key] = WarmWorker(cmd, checkout.root, env, self.node, self.loads)
            return self._workers[key]

    def kill_all(self) -> None:
        """Stop every worker now (Ctrl-C): their episodes fail and their process groups die."""
        with self._guard:
            workers = list(self._workers.values())
        for worker in workers:
            worker.kill()

    def close_all(self) -> None:
        """End the batch: each worker exits at the end of its requests (killed if it lingers)."""
        with self._guard:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.close()
        shutil.rmtree(self.home, ignore_errors=True)


class WarmWorker:
    """One LatentSync process that renders the episodes sent to it, one at a time."""

    def __init__(self, cmd: list[str], cwd: Path, env: dict[str, str], node: str, loads: list[ModelLoad]):
        self.cmd, self.cwd, self.env, self.node = cmd, cwd, env, node
        self.loads = loads
        self.proc: subprocess.Popen | None = None
        self.load: ModelLoad | None = None        # what the running process has loaded
        self.episodes = 0                         # served by the running process

    def render(self, invocation: Invocation, episode_id: str, checkpoint: str,
               progress: Callable[[int, int], None], frames: int) -> None:
        """Render one episode; its output goes to its own log. Raises Failure when it fails
        (the process is gone then); on any other exception the process group is killed."""
        tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        meter = _Progress(progress, frames)
        with open(invocation.log, "wb") as log:
            if self.proc is None:
                self._start(log)
            else:
                log.write(f"(warm LatentSync worker, pid {self.proc.pid}: episode {self.episodes + 1} of this "
                          f"process; models loaded for {self.load.checkpoint if self.load else '-'})\n".encode())
            log.flush()
            proc = self.proc
            assert proc is not None and proc.stdin is not None
            try:
                proc.stdin.write((json.dumps({"args": str(invocation.args_file)}) + "\n").encode())
                proc.stdin.flush()
                status = self._pump(proc, log, tail, meter, checkpoint)
            except BrokenPipeError:
                status = None
            except BaseException:
                self.kill()
                raise
            self.episodes += 1
            if status == 0:
                assert self.load is not None
                self.load.episodes.append(episode_id)
                meter.finish()
                return
            code = self._reap(proc)
        if status is None:
            if code is not None and code < 0:
                why = f"killed by signal {-code}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
            else:
                why = f"exit status {code}"
        elif status == EXIT_NO_FRAMES:
            why = "it returned without writing its frames"
        else:
            why = f"exit status {status}"
        lines = "\n".join(tail) or "(no output)"
        raise Failure(f"LatentSync failed ({why}); last lines of its log:\n{lines}")

    def _start(self, log) -> None:
        log.write(f"$ (cd {self.cwd} && {' '.join(self.cmd)})\n".encode())
        try:
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise Failure(f"cannot start LatentSync's Python {self.cmd[0]}: {exc}") from None
        self.load = None
        self.episodes = 0
        self._pending = b""

    def _pump(self, proc: subprocess.Popen, log, tail: collections.deque, meter: "_Progress",
              checkpoint: str) -> int | None:
        """Copy the worker's output to the episode's log line by line (tqdm's carriage returns
        end lines too) until it says the episode is done: its status, or None if it died."""
        assert proc.stdout is not None
        while True:
            *lines, self._pending = self._pending.replace(b"\r", b"\n").split(b"\n")
            for number, raw in enumerate(lines):
                text = raw.decode("utf-8", "replace").rstrip()
                if text.startswith(DONE_PREFIX):
                    rest = b"\n".join(lines[number + 1:])
                    self._pending = rest + (b"\n" if rest else b"") + self._pending
                    return int(text.split()[1])
                if text.startswith(LOAD_PREFIX):
                    self.load = ModelLoad("latentsync", checkpoint, self.node)
                    self.loads.append(self.load)
                _line(raw, text, log, tail, meter)
            chunk = proc.stdout.read1(65536)
            if not chunk:
                if self._pending:
                    _line(self._pending, self._pending.decode("utf-8", "replace").rstrip(), log, tail, meter)
                    self._pending = b""
                return None
            self._pending += chunk

    def _reap(self, proc: subprocess.Popen) -> int | None:
        """The exit code of a worker that is leaving after a failure (killed if it lingers)."""
        try:
            code = proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()
            return proc.returncode
        self._close_pipes(proc)
        self.proc = None
        return code

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            _kill_group(proc)
            self._close_pipes(proc)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.close()  # end of requests: the runner leaves
            proc.wait(timeout=KILL_GRACE_S)
        except (OSError, subprocess.TimeoutExpired):
            _kill_group(proc)
        self._close_pipes(proc)

    @staticmethod
    def _close_pipes(proc: subprocess.Popen) -> None:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def child_env(own: Path, project_root: Path) -> dict[str, str]:
    """The environment of a process in LatentSync's Python that imports alpha's runner.

    PYTHONPATH gets one folder holding a minimal view of alpha's package: the real
    ``pipeline/__init__.py`` (version only) and the runner, linked, under empty ``stages`` and
    ``stages/lipsync`` package files. So ``-m pipeline.stages.lipsync.runner`` imports exactly
    what the runner needs (numpy, OpenCV), none of alpha's other
    dependencies (pydantic, ...), and nothing of alpha's site-packages can shadow LatentSync's.
    Also: unbuffered output, no bytecode written, and an `ffmpeg` on PATH if there is none.
    """
    from ...media import ffmpeg_exe

    package = Path(__file__).resolve().parents[2]  # .../pipeline
    view = own / "pythonpath" / "pipeline"
    (view / "stages" / "lipsync").mkdir(parents=True, exist_ok=True)
    for name in ("stages/__init__.py", "stages/lipsync/__init__.py"):
        (view / name).write_text('"""A view of alpha\'s package for the LatentSync runner."""\n')
    for name in ("__init__.py", "stages/lipsync/runner"):
        link = view / name
        if not link.is_symlink():
            link.symlink_to(package / name, target_is_directory=(package / name).is_dir())
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(view.parent), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    # Read the environment's existing bytecode but write none: the checkout stays untouched
    # (a PYTHONPYCACHEPREFIX would recompile all of torch and diffusers once per folder).
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPYCACHEPREFIX", None)
    if shutil.which("ffmpeg", path=env.get("PATH")) is None:
        bin_dir = own / "bin"
        bin_dir.mkdir(exist_ok=True)
        if not (bin_dir / "ffmpeg").exists():
            (bin_dir / "ffmpeg").symlink_to(ffmpeg_exe())
        env["PATH"] = os.pathsep.join([str(bin_dir), *filter(None, [env.get("PATH")])])
    return env


def _line(raw: bytes, text: str, log, tail: collections.deque, meter: "_Progress") -> None:
    if not text:
        return
    if text.startswith(PROGRESS_PREFIX):
        meter.update(text)
        return
    log.write(raw.rstrip() + b"\n")
    log.flush()
    tail.append(text)


class _Progress:
    """The runner's phases (align, infer, capture) as one frame count for the progress bar."""

    def __init__(self, callback: Callable[[int, int], None], frames: int):
        self.callback = callback
        self.frames = frames
        self.fraction = {name: 0.0 for name, _ in PHASES}
        self.weights = dict(PHASES)
        self.last = -1

    def update(self, line: str) -> None:
        parts = line.split()
        if len(parts) != 4 or parts[1] not in self.fraction:
            return
        try:
            done, total = int(parts[2]), int(parts[3])
        except ValueError:
            return
        self.fraction[parts[1]] = min(1.0, done / total) if total > 0 else 0.0
        overall = sum(self.weights[name] * value for name, value in self.fraction.items())
        done_frames = min(self.frames, int(round(overall * self.frames, 6)))
        if done_frames != self.last:
            self.last = done_frames
            self.callback(done_frames, self.frames)

    def finish(self) -> None:
        if self.last != self.frames:
            self.callback(self.frames, self.frames)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the runner's process group (LatentSync and its ffmpeg children), SIGKILL what
    is left after a grace period, and reap the runner."""
    pgid = proc.pid  # start_new_session: the runner leads its own process group
    try:
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_S
        while time.monotonic() < deadline and _group_alive(pgid):
            proc.poll()  # reap the leader as soon as it exits, so the group can empty
            time.sleep(0.05)
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


def complete_track(path: Path, telemetry: dict[str, Any], mask_image: Path) -> None:
    """Add to the runner's track what the restore stage needs besides: each frame's shot (the
    runner's cuts start them; output frame k is source frame k) and the generated region
    (LatentSync's mask.png at the crop size)."""
    import bisect
    import dataclasses

    import cv2
    import numpy as np

    from ...restore import inner_mask_from_latentsync_png, read_track, write_track

    track = read_track(str(path))
    cuts = sorted((telemetry.get("smoothing") or {}).get("cuts") or [])
    shot = np.array([bisect.bisect_right(cuts, k) for k in range(track.frames)], np.int32)
    inner = None
    if track.found.any():
        gray = cv2.imread(str(mask_image), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise Failure(f"cannot read LatentSync's mask image {mask_image}")
        width, height = track.crop_size
        inner = inner_mask_from_latentsync_png(gray, (height, width))
    write_track(str(path), dataclasses.replace(track, shot=shot, inner_mask=inner))


def summary(telemetry: dict[str, Any]) -> dict[str, Any]:
    """The sidecar without its per-frame lists: what goes into the lock as metrics.

    `frames` and `faces_missed` (output frames) have the meaning they have for every backend,
    so the quality gate and the site read them the same way; the details stay beside them.
    """
    faces = dict(telemetry.get("faces", {}))
    faces.pop("missed_source_frames", None)
    smoothing = dict(telemetry.get("smoothing", {}))
    cuts = smoothing.pop("cuts", [])
    smoothing["cut_count"] = len(cuts)
    return {
        "backend": "latentsync",
        "frames": (telemetry.get("frames") or {}).get("written"),
        "faces_missed": faces.get("kept_original_output_frames"),
        "frame_counts": telemetry.get("frames"),
        "faces": faces,
        "smoothing": smoothing,
        "raw_crops": telemetry.get("raw_crops"),
        "latentsync_reencode": telemetry.get("latentsync_reencode"),
        "runner_seconds": telemetry.get("seconds"),
    }
