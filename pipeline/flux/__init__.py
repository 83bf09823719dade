"""Flux img2img restyle of the reference image (the source stage's optional ``source.flux``).

torch, diffusers and transformers are an optional extra (``pip install 'alpha-pipeline[flux]'``).
Nothing here imports them at module import time: the rest of alpha works without the extra, and a
run that needs Flux gets :class:`FluxUnavailable`, naming the extra and the missing module.

``restyle`` loads a diffusers ``FluxImg2ImgPipeline`` from a local model folder (no hub access),
runs img2img at the image's own size (rounded to the pipeline's multiple, then resized back so the
reference keeps its geometry) and writes a PNG. ``build_tiny_pipeline`` saves a tiny, randomly
initialised but structurally real Flux pipeline, for tests and a CPU demo.
"""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import UserError

__all__ = ["FluxUnavailable", "restyle", "build_tiny_pipeline", "clear_cache", "resolve_device"]

EXTRA_HINT = "pip install 'alpha-pipeline[flux]'"
_BACKEND_MODULES = ("torch", "diffusers", "transformers")


class FluxUnavailable(UserError):
    """The optional Flux extra (torch, diffusers, transformers) is not installed."""


def _require_backend() -> None:
    """Import the heavy modules, or raise :class:`FluxUnavailable` naming the first one missing."""
    for name in _BACKEND_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # ModuleNotFoundError included; a broken install counts as missing
            missing = getattr(exc, "name", None) or name
            raise FluxUnavailable(
                f"source.flux needs the optional extra: {EXTRA_HINT} (missing module: {missing})"
            ) from exc


# --- pipeline cache: one loaded pipeline per (model folder, device, dtype) in this process ------

_CACHE: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every loaded pipeline (frees its memory once nothing else holds it)."""
    with _LOCK:
        _CACHE.clear()


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a CUDA device is usable, else ``"cpu"``; anything else as given."""
    _require_backend()
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _dtype_for(device: str):
    import torch

    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def _dtype_keyword() -> str:
    """Newer diffusers take ``dtype=`` and deprecate ``torch_dtype=``; older ones know only the latter."""
    from diffusers.pipelines import pipeline_utils

    return "dtype" if hasattr(pipeline_utils, "_resolve_dtype") else "torch_dtype"


def _check_model_folder(model: Path) -> Path:
    model = Path(model).expanduser()
    if not model.is_dir():
        raise FileNotFoundError(
            f"Flux model folder not found: {model} (settings.flux.model must name a local diffusers "
            "Flux folder, e.g. a downloaded black-forest-labs/FLUX.1-dev; nothing is downloaded)"
        )
    if not (model / "model_index.json").is_file():
        raise FileNotFoundError(
            f"Flux model folder {model} has no model_index.json: not a diffusers pipeline folder"
        )
    return model.resolve()


def _load(model: Path, device: str, dtype) -> tuple[Any, bool]:
    """The cached pipeline for (model, device, dtype), loading it on first use. Returns (pipe, was_cached)."""
    key = (str(model), device, str(dtype))
    with _LOCK:
        pipe = _CACHE.get(key)
        if pipe is not None:
            return pipe, True
        from diffusers import FluxImg2ImgPipeline

        kwargs = {_dtype_keyword(): dtype, "local_files_only": True}
        pipe = FluxImg2ImgPipeline.from_pretrained(str(model), **kwargs)
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        _CACHE[key] = pipe
        return pipe, False


def _round_to_multiple(value: int, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def restyle(
    image_path: Path,
    out_path: Path,
    *,
    model: Path,
    strength: float,
    prompt: str,
    seed: int,
    steps: int,
    guidance: float,
    device: str = "auto",
) -> dict:
    """Restyle ``image_path`` with Flux img2img and write a PNG to exactly ``out_path``.

    ``strength`` is img2img's: the share of the noise schedule that is re-run (0 keeps the image,
    1 ignores it). ``strength == 0`` runs no step at all (diffusers would refuse a zero-step run): the
    image is written back unchanged as an RGB PNG, without loading the model. The output always has
    the input's size. Returns JSON-able metrics.
    """
    if not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"strength must be within [0, 1], not {strength}")
    if int(steps) < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    _require_backend()
    import torch
    from PIL import Image

    started = time.perf_counter()
    model = _check_model_folder(model)
    image_path, out_path = Path(image_path), Path(out_path)
    with Image.open(image_path) as src:
        image = src.convert("RGB")
    width, height = image.size
    metrics: dict[str, Any] = {
        "model": model.name,
        "width": width,
        "height": height,
        "strength": float(strength),
        "steps": int(steps),
        "seed": int(seed),
        "guidance": float(guidance),
    }

    if float(strength) == 0.0:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        image.save(out_path, format="PNG")
        metrics.update(device="none", dtype="none", run_width=width, run_height=height,
                       denoise_steps=0, cached=False, load_seconds=0.0,
                       seconds=round(time.perf_counter() - started, 3))
        return metrics

    device = resolve_device(device)
    dtype = _dtype_for(device)
    t_load = time.perf_counter()
    pipe, cached = _load(model, device, dtype)
    load_seconds = time.perf_counter() - t_load

    multiple = pipe.vae_scale_factor * 2
    run_w, run_h = _round_to_multiple(width, multiple), _round_to_multiple(height, multiple)
    run_image = image if (run_w, run_h) == (width, height) else image.resize((run_w, run_h), Image.LANCZOS)
    generator = torch.Generator(device).manual_seed(int(seed))
    result = pipe(
        prompt=prompt,
        image=run_image,
        height=run_h,
        width=run_w,
        strength=float(strength),
        num_inference_steps=int(steps),
        guidance_scale=float(guidance),
        generator=generator,
        output_type="pil",
    )
    out = result.images[0].convert("RGB")
    if out.size != (width, height):
        out = out.resize((width, height), Image.LANCZOS)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out.save(out_path, format="PNG")
    metrics.update(
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        run_width=run_w,
        run_height=run_h,
        denoise_steps=int(getattr(pipe, "num_timesteps", 0) or 0),
        cached=cached,
        load_seconds=round(load_seconds, 3),
        seconds=round(time.perf_counter() - started, 3),
    )
    return metrics


def build_tiny_pipeline(folder: Path, seed: int = 0) -> None:
    """Save a tiny, randomly initialised Flux img2img pipeline to ``folder`` (see :mod:`.tiny`)."""
    _require_backend()
    from .tiny import build

    build(Path(folder), seed=seed)
