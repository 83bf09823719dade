"""What this machine can and cannot render: the checks behind `alpha doctor`.

Each check says what it found, whether the project's episodes need it, and how to fix it.
Required means an episode of the project uses it (a `latentsync` episode needs the checkout,
its Python, its checkpoint and a GPU with enough memory; an episode with `source.flux`
enabled needs the Flux extra); everything else is reported for information only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .project.model import Project

OK, FAIL, WARN, INFO = "ok", "missing", "warning", "info"
PROBE_TIMEOUT_S = 180
# What LatentSync's inference imports at run time (scripts/inference.py and the modules it
# reaches, bytedance/LatentSync a229c39: checked by importing them), each with its
# distribution. Of requirements.txt, mediapipe, librosa, python_speech_features, scenedetect,
# lpips, face-alignment and gradio are not imported by inference; soundfile, matplotlib,
# scipy and tqdm are imported but not pinned there.
RUNTIME_MODULES = {
    "torch": "torch", "torchvision": "torchvision", "diffusers": "diffusers", "transformers": "transformers",
    "accelerate": "accelerate", "omegaconf": "omegaconf", "einops": "einops", "kornia": "kornia",
    "insightface": "insightface", "onnxruntime": "onnxruntime-gpu", "decord": "decord", "DeepCache": "DeepCache",
    "soundfile": "soundfile", "matplotlib": "matplotlib", "ffmpeg": "ffmpeg-python", "imageio": "imageio",
    "huggingface_hub": "huggingface-hub", "cv2": "opencv-python", "numpy": "numpy", "scipy": "scipy",
    "tqdm": "tqdm",
}
PROBE_MARK = "@alpha-doctor "
# Runs in LatentSync's Python with the checkout as working directory and alpha's package on
# PYTHONPATH (as the runner will be): imports every runtime module, then LatentSync's own
# modules, looking up each class, method and module attribute the runner's hooks patch.
PROBE_SCRIPT = f"""
import importlib, json, sys
out = {{"python": sys.version.split()[0], "modules": {{}}, "errors": {{}}}}
for name in {tuple(RUNTIME_MODULES)!r}:
    try:
        module = importlib.import_module(name)
        out["modules"][name] = str(getattr(module, "__version__", "?"))
    except Exception as exc:
        out["errors"][name] = type(exc).__name__ + ": " + str(exc)
onnxruntime = sys.modules.get("onnxruntime")
if onnxruntime is not None:
    try:
        out["onnx_providers"] = list(onnxruntime.get_available_providers())
    except Exception as exc:
        out["errors"]["onnxruntime providers"] = type(exc).__name__ + ": " + str(exc)
try:
    from pipeline.stages.lipsync.runner.hooks import find_targets
except Exception as exc:
    out["errors"]["alpha runner"] = type(exc).__name__ + ": " + str(exc)
else:
    try:
        out["hooks_missing"] = find_targets()[1]
    except BaseException as exc:
        out["hooks_error"] = type(exc).__name__ + ": " + str(exc)
torch = sys.modules.get("torch")
if torch is not None:
    try:
        out["cuda"] = bool(torch.cuda.is_available())
        if out["cuda"]:
            free, total = torch.cuda.mem_get_info()
            out["gpu"] = torch.cuda.get_device_name(0)
            out["free_gb"] = free / 1e9
            out["total_gb"] = total / 1e9
    except Exception as exc:
        out["errors"]["cuda"] = type(exc).__name__ + ": " + str(exc)
print({PROBE_MARK!r} + json.dumps(out), flush=True)
"""
FACE_MODELS = "checkpoints/auxiliary/models/buffalo_l"
# The two insightface models LatentSync's FaceDetector loads (detection, landmark_2d_106).
FACE_MODEL_FILES = ("det_10g.onnx", "2d106det.onnx")
BUFFALO_L_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip"


@dataclass
class Check:
    name: str
    status: str                  # OK, FAIL, WARN or INFO
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.required and self.status == FAIL


@dataclass
class Needs:
    """What the project's episodes use."""

    latentsync: dict[str, list[str]] = field(default_factory=dict)  # checkpoint -> episode ids
    flux: list[str] = field(default_factory=list)


def project_needs(project: Project) -> Needs:
    needs = Needs()
    for episode_id, resolved in sorted(project.episodes.items()):
        episode = resolved.settings
        if episode.lipsync.backend == "latentsync":
            needs.latentsync.setdefault(episode.lipsync.checkpoint, []).append(episode_id)
        if episode.source.flux.enabled:
            needs.flux.append(episode_id)
    return needs


def run_checks(project: Project | None, probe_timeout: float = PROBE_TIMEOUT_S) -> list[Check]:
    """Every check, in the order they are shown."""
    checks = [check_ffmpeg()]
    if project is None:
        checks.append(check_gpu(None, {}, required=False))
        return checks
    needs = project_needs(project)
    checks += check_latentsync(project, needs, probe_timeout)
    checks.append(check_flux(project, needs))
    return checks


# -- ffmpeg --------------------------------------------------------------------------------

def check_ffmpeg() -> Check:
    from .media import FrameWriter, MediaError, ffmpeg_exe, probe

    fix = "pip install --force-reinstall imageio-ffmpeg (or set IMAGEIO_FFMPEG_EXE to an ffmpeg with libx264)"
    try:
        exe = ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg missing or without a binary for this platform
        return Check("ffmpeg", FAIL, f"no ffmpeg binary: {exc}", fix)
    try:
        import numpy as np

        with tempfile.TemporaryDirectory(prefix="alpha-doctor-") as folder:
            out = Path(folder) / "tiny.mp4"
            with FrameWriter(out, 16, 16, 25) as writer:
                for k in range(3):
                    writer.write(np.full((16, 16, 3), 40 * k, np.uint8))
            info = probe(out)
        if info.video_codec != "h264":
            return Check("ffmpeg", FAIL, f"{exe}: a test encode gave {info.video_codec}, not H.264", fix)
    except (MediaError, OSError) as exc:
        return Check("ffmpeg", FAIL, f"{exe}: a tiny H.264 test encode failed: {_first_line(exc)}", fix)
    return Check("ffmpeg", OK, f"{exe} (H.264 test encode ok)")


# -- LatentSync ----------------------------------------------------------------------------

def check_latentsync(project: Project, needs: Needs, probe_timeout: float) -> list[Check]:
    from .stages.lipsync.latentsync import (REPOSITORY, VRAM_GB_BY_RESOLUTION, checkout_python,
                                            checkout_root, resolve_checkout)

    settings = project.settings.latentsync
    required = bool(needs.latentsync)
    users = _episodes(sorted(e for ids in needs.latentsync.values() for e in ids))
    why = f"used by {users}" if required else "no episode uses lipsync.backend: latentsync"
    checks: list[Check] = []
    try:
        root = checkout_root(settings, project.root)
    except UserError as exc:
        fix = (f"git clone {REPOSITORY} and set latentsync.root in alpha.yaml to that folder"
               if settings.root else f"set latentsync.root in alpha.yaml to a LatentSync checkout ({REPOSITORY})")
        checks.append(Check("LatentSync checkout", FAIL if required else INFO, f"{exc} ({why})", fix, required))
        checks.append(check_gpu(None, _vram_needs(settings, needs, VRAM_GB_BY_RESOLUTION), required))
        return checks
    checks.append(Check("LatentSync checkout", OK, f"{root} ({why})", required=required))

    probe: dict[str, Any] | None = None
    try:
        python = checkout_python(settings, project.root, root)
    except UserError as exc:
        checks.append(Check("LatentSync Python", FAIL if required else INFO, str(exc),
                            "set latentsync.python in alpha.yaml to the python of LatentSync's "
                            "environment (conda/venv with its requirements.txt)", required))
    else:
        probe, error = probe_env(python, root, project.root, probe_timeout)
        checks.append(_env_check(python, probe, error, required))
        if probe is not None:
            checks.append(_modules_check(root, probe, required))
            onnx = _onnx_check(probe, required)
            if onnx is not None:
                checks.append(onnx)
    checks.append(check_version(root, probe, required))

    vram = _vram_needs(settings, needs, VRAM_GB_BY_RESOLUTION)
    for version in sorted(settings.checkpoints):
        checks.append(_checkpoint_check(settings, project.root, version, needs, resolve_checkout))
    checks.append(check_face_models(root, required))
    checks.append(check_vae(required))
    checks.append(check_gpu(probe, vram, required))
    return checks


VAE_REPO = "stabilityai/sd-vae-ft-mse"


def check_vae(required: bool) -> Check:
    """LatentSync loads its VAE from the Hugging Face hub cache, downloading it on first use."""
    import os

    folder = f"models--{VAE_REPO.replace('/', '--')}"
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    path = Path(hub) / folder
    if path.is_dir():
        return Check("VAE", OK if required else INFO, f"{VAE_REPO} in {hub}", required=required)
    return Check("VAE", WARN if required else INFO,
                 f"{VAE_REPO} is not in the Hugging Face cache {hub}: the first render downloads it "
                 "(needs network access)", f"huggingface-cli download {VAE_REPO}", required)


def probe_env(python: Path, root: Path, project_root: Path,
              timeout: float = PROBE_TIMEOUT_S) -> tuple[dict[str, Any] | None, str]:
    """Run the probe script in LatentSync's Python: (its report, "") or (None, why not)."""
    from .stages.lipsync.latentsync import child_env

    with tempfile.TemporaryDirectory(prefix="alpha-doctor-") as scratch:
        env = child_env(Path(scratch), project_root)
        try:
            done = subprocess.run([str(python), "-c", PROBE_SCRIPT], cwd=root, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"{python} did not answer within {timeout:.0f} s"
        except OSError as exc:
            return None, f"cannot run {python}: {exc}"
    output = done.stdout.decode("utf-8", "replace")
    for line in reversed(output.splitlines()):
        if line.startswith(PROBE_MARK):
            try:
                return json.loads(line[len(PROBE_MARK):]), ""
            except json.JSONDecodeError:
                break
    tail = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no output)"])[-1]
    return None, f"{python} exited with status {done.returncode}: {tail}"


def _env_check(python: Path, probe: dict[str, Any] | None, error: str, required: bool) -> Check:
    """The interpreter itself: it answers, is new enough, and imports alpha's runner."""
    name = "LatentSync Python"
    fix = "create LatentSync's environment: Python 3.10 and `pip install -r requirements.txt` in the checkout"
    if probe is None:
        return Check(name, FAIL if required else WARN, error, fix, required)
    modules = probe.get("modules", {})
    found = ", ".join(f"{k} {modules[k]}" for k in ("torch", "diffusers", "cv2", "numpy", "scipy") if k in modules)
    detail = f"{python}: Python {probe.get('python', '?')}; {found or 'no modules found'}"
    version = tuple(int(p) for p in str(probe.get("python", "0.0")).split(".")[:2] if p.isdigit())
    if version and version < (3, 10):
        return Check(name, FAIL if required else WARN,
                     f"{detail}; Python {probe.get('python')} is older than 3.10, which alpha's runner needs",
                     fix, required)
    runner_error = probe.get("errors", {}).get("alpha runner")
    if runner_error:
        return Check(name, FAIL if required else WARN, f"{detail}; cannot import alpha's runner: {runner_error}",
                     "alpha's runner must import there (numpy, opencv); "
                     "pip install numpy opencv-python in LatentSync's environment", required)
    return Check(name, OK, detail, required=required)


def _modules_check(root: Path, probe: dict[str, Any], required: bool) -> Check:
    """Every module LatentSync's inference imports, so none is found missing mid-render."""
    name = "LatentSync modules"
    errors = probe.get("errors", {})
    missing = [module for module in RUNTIME_MODULES if module in errors]
    if not missing:
        return Check(name, OK, f"all {len(RUNTIME_MODULES)} modules inference imports load "
                     f"({', '.join(RUNTIME_MODULES)})", required=required)
    pins = requirement_pins(root)
    wanted = " ".join(pins.get(RUNTIME_MODULES[m].lower(), RUNTIME_MODULES[m]) for m in missing)
    detail = "; ".join(f"{module}: {_first_line_of(errors[module])}" for module in missing)
    return Check(name, FAIL if required else WARN, f"LatentSync's inference imports them, and they fail: {detail}",
                 f"in LatentSync's environment: pip install {wanted} (the pins of {root / 'requirements.txt'})",
                 required)


def _onnx_check(probe: dict[str, Any], required: bool) -> Check | None:
    """LatentSync's face detector asks onnxruntime for CUDAExecutionProvider only."""
    name = "face detector on GPU"
    providers = probe.get("onnx_providers")
    if providers is None:
        return None  # onnxruntime does not import: the modules check says so
    if "CUDAExecutionProvider" in providers:
        return Check(name, OK, f"onnxruntime providers: {', '.join(providers)}", required=required)
    return Check(name, WARN if required else INFO,
                 f"onnxruntime has no CUDAExecutionProvider (it has {', '.join(providers) or 'none'}): insightface "
                 "falls back to the CPU, and face detection becomes the slowest part of a render",
                 "pip uninstall -y onnxruntime && pip install onnxruntime-gpu==1.21.0 in LatentSync's environment",
                 required)


def check_version(root: Path, probe: dict[str, Any] | None, required: bool) -> Check:
    """The checkout is one the runner fits: scripts/inference.py takes every flag alpha passes
    (read from its source), and every hook target exists (imported in LatentSync's Python)."""
    from .stages.lipsync.latentsync import FIRST_WITH_FLAGS, KNOWN_GOOD, checkout_advice, missing_flags

    name = "LatentSync version"
    problems = []
    try:
        flags = missing_flags(root)
    except UserError as exc:
        return Check(name, FAIL if required else INFO, str(exc), checkout_advice(root), required)
    if flags:
        problems.append(f"scripts/inference.py does not accept {', '.join(flags)} (they exist since "
                        f"{FIRST_WITH_FLAGS}; the 1.6 release d058a61 and the 1.5 release 75a4a17 lack them)")
    hooks = None if probe is None else probe.get("hooks_missing")
    if hooks:
        problems.append(f"the runner's hook targets are missing: {', '.join(hooks)}")
    if problems:
        return Check(name, FAIL if required else INFO, "; ".join(problems), checkout_advice(root), required)
    if hooks is None:
        why = ("LatentSync's Python did not answer" if probe is None
               else "its modules do not import: "
               + _first_line_of(probe.get("hooks_error") or probe["errors"].get("alpha runner", "?")))
        return Check(name, FAIL if required else INFO,
                     f"flags ok; the hook targets could not be checked ({why})",
                     "fix LatentSync's environment first (see the checks above)", required)
    return Check(name, OK, f"flags and all hook targets present (known good: {KNOWN_GOOD})", required=required)


def check_face_models(root: Path, required: bool) -> Check:
    """insightface's buffalo_l models, which LatentSync's FaceDetector loads from the checkout."""
    name = "face detector models"
    folder = root / FACE_MODELS
    absent = [f for f in FACE_MODEL_FILES if not (folder / f).is_file()]
    if not absent:
        return Check(name, OK if required else INFO, f"{folder} ({', '.join(FACE_MODEL_FILES)})", required=required)
    return Check(name, WARN if required else INFO,
                 f"{folder} lacks {', '.join(absent)}: on the first render insightface downloads buffalo_l.zip "
                 f"from GitHub into {root / 'checkpoints/auxiliary/models'} (needs network access, and writes "
                 "into the checkout)",
                 f"fetch it once: curl -L -o /tmp/buffalo_l.zip {BUFFALO_L_URL} && "
                 f"unzip -o /tmp/buffalo_l.zip -d {folder}", required)


def requirement_pins(root: Path) -> dict[str, str]:
    """``{distribution (lower case): requirement line}`` from the checkout's requirements.txt."""
    import re

    try:
        lines = (root / "requirements.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(==|>=|~=)", line)
        if match:
            pins[match.group(1).lower()] = line.replace(" ", "")
    return pins


def _checkpoint_check(settings, project_root: Path, version: str, needs: Needs, resolve) -> Check:
    name = f"checkpoint {version}"
    required = version in needs.latentsync
    why = f"used by {_episodes(needs.latentsync[version])}" if required else "not used by any episode"
    try:
        checkout = resolve(settings, project_root, version)
    except UserError as exc:
        message = str(exc)
        if "download it with:" in message:
            detail, fix = message.split("; download it with: ", 1)
            fix = f"download it: {fix}"
        elif "resolution" in message:
            detail, fix = message, (f"pair the checkpoint with its own config in alpha.yaml "
                                   f"(latentsync.checkpoints[{version!r}].config)")
        else:
            detail, fix = message, "restore the file in the checkout (git checkout -- <file>) or fix the registry"
        return Check(name, FAIL if required else INFO, f"{detail} ({why})", fix, required)
    missing = [str(path) for path in (checkout.mask_image, checkout.whisper) if path is not None and not path.is_file()]
    size_mb = checkout.checkpoint.stat().st_size / 1e6
    detail = (f"{checkout.checkpoint_arg} ({size_mb:.0f} MB) with {checkout.config_arg} "
              f"(resolution {checkout.resolution}) ({why})")
    if missing:
        return Check(name, FAIL if required else INFO, f"{detail}; missing: {', '.join(missing)}",
                     f"download LatentSync's auxiliary files: huggingface-cli download ByteDance/LatentSync-{version} "
                     f"--local-dir {checkout.root / 'checkpoints'}", required)
    return Check(name, OK, detail, required=required)


def _vram_needs(settings, needs: Needs, by_resolution: dict[int, int]) -> dict[str, int]:
    result = {}
    for version in needs.latentsync:
        entry = settings.checkpoints.get(version)
        if entry is not None:
            result[version] = by_resolution.get(entry.resolution, 18)
    return result


# -- GPU -----------------------------------------------------------------------------------

def check_gpu(probe: dict[str, Any] | None, vram: dict[str, int], required: bool) -> Check:
    """The GPU as LatentSync's torch sees it (or nvidia-smi when that Python cannot run)."""
    need = max(vram.values(), default=0)
    wants = ", ".join(f"{v} needs about {gb} GB" for v, gb in sorted(vram.items()))
    required = required and need > 0
    gpu = None
    if probe is not None and "cuda" in probe:
        if probe["cuda"]:
            gpu = (probe.get("gpu", "GPU"), probe.get("free_gb"), probe.get("total_gb"), "LatentSync's torch")
        elif need:
            return Check("GPU", FAIL if required else INFO,
                         f"LatentSync's torch sees no CUDA GPU ({wants})",
                         "run on a machine with an NVIDIA GPU and a CUDA build of torch in LatentSync's "
                         "environment (pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/cu121)",
                         required)
    if gpu is None:
        gpu = nvidia_smi()
    if gpu is None:
        detail = "no NVIDIA GPU found (nvidia-smi missing or failed)" + (f"; {wants}" if wants else "")
        return Check("GPU", FAIL if required else INFO, detail,
                     "LatentSync needs an NVIDIA GPU: render its episodes on a GPU machine, or use "
                     "lipsync.backend: preview here" if required else "", required)
    name, free, total, source = gpu
    detail = f"{name}: {_gb(free)} free of {_gb(total)} ({source})" + (f"; {wants}" if wants else "")
    if required and total is not None and total < need:
        return Check("GPU", FAIL, detail, f"a GPU with at least {need} GB is needed; use checkpoint 1.5 "
                     f"(about 8 GB) or a larger GPU", required)
    if required and free is not None and free < need:
        return Check("GPU", WARN, detail + " — other processes hold its memory now",
                     "free GPU memory before rendering (nvidia-smi lists the processes)", required)
    return Check("GPU", OK if required or need == 0 else INFO, detail, required=required)


def nvidia_smi() -> tuple[str, float | None, float | None, str] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--query-gpu=name,memory.free,memory.total",
                               "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        return None
    parts = [p.strip() for p in lines[0].split(",")]
    try:
        free, total = (float(parts[1]) * 1048576 / 1e9, float(parts[2]) * 1048576 / 1e9)
    except (IndexError, ValueError):
        free = total = None
    return parts[0], free, total, "nvidia-smi"


# -- Flux ----------------------------------------------------------------------------------

def check_flux(project: Project, needs: Needs) -> Check:
    import importlib.util

    from .flux import EXTRA_HINT

    required = bool(needs.flux)
    why = f"used by {_episodes(needs.flux)}" if required else "optional: no episode enables source.flux"
    missing = [name for name in ("torch", "diffusers", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        return Check("Flux extra", FAIL if required else INFO, f"not installed: {', '.join(missing)} ({why})",
                     EXTRA_HINT, required)
    model = project.settings.flux.model
    if model is None:
        return Check("Flux extra", FAIL if required else INFO, f"installed; flux.model is not set ({why})",
                     "set flux.model in alpha.yaml to a local Flux (diffusers) model folder", required)
    path = Path(model).expanduser()
    path = path if path.is_absolute() else project.root / path
    if not (path / "model_index.json").is_file():
        return Check("Flux extra", FAIL if required else INFO,
                     f"installed; flux.model {path} is not a diffusers model folder ({why})",
                     "download the model (e.g. huggingface-cli download black-forest-labs/FLUX.1-dev "
                     f"--local-dir {path})", required)
    return Check("Flux extra", OK if required else INFO, f"installed; model {path} ({why})", required=required)


# -- helpers -------------------------------------------------------------------------------

def _episodes(ids: list[str], limit: int = 4) -> str:
    shown = ", ".join(ids[:limit])
    more = len(ids) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def _gb(value: float | None) -> str:
    return "? GB" if value is None else f"{value:.1f} GB"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _first_line_of(text: str) -> str:
    return (str(text).strip().splitlines() or ["?"])[0]
