"""Rendering episodes in a LatentSync process that keeps its models loaded.

The pipeline is built from the classes ``scripts/inference.py`` itself imports, taken from that
module's namespace, in the order and with the settings its ``main`` uses: the DDIM scheduler
from ``configs``, the Whisper audio encoder the config's ``cross_attention_dim`` names, the VAE
(scaling factor 0.18215, shift 0), the UNet from the checkpoint, ``LipsyncPipeline`` on
"cuda", DeepCache when asked. It is kept while the next episode asks for the same config,
checkpoint and DeepCache setting, and rebuilt (the old one dropped first) when it asks for
another. Each episode then gets what ``main`` does per run: a fresh :class:`RunnerState` for
the hooks, its own seed, and one ``pipeline(...)`` call with its flags.

Protocol with alpha (:mod:`pipeline.stages.lipsync.latentsync`), one JSON request per line on
stdin: ``{"args": "<args.json>"}``. For each, LatentSync's own output and alpha's progress
lines, then ``@alpha-load <seconds>`` whenever models were (re)loaded, and finally
``@alpha-done <status>`` (0: outputs written). After a failed episode the process exits, so
that the next episode starts from a clean process (CUDA state included); end of stdin ends it.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

from . import ARGS_VERSION, DONE_PREFIX, EXIT_NO_FRAMES, LOAD_PREFIX
from . import hooks
from .state import RunnerState

# The SD VAE's latent scale, as scripts/inference.py sets it.
VAE_SCALING = 0.18215
WHISPER_BY_DIM = {768: "checkpoints/whisper/small.pt", 384: "checkpoints/whisper/tiny.pt"}


class BadArgs(Exception):
    pass


def read_args(path: str) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        args = json.load(handle)
    if args.get("version") != ARGS_VERSION:
        raise BadArgs(f"args file version {args.get('version')!r}, this runner reads {ARGS_VERSION}")
    return args


def parse_flags(argv: List[str]) -> argparse.Namespace:
    """The flags alpha passes, read as scripts/inference.py's command line defines them."""
    parser = argparse.ArgumentParser(prog="scripts/inference.py")
    parser.add_argument("--unet_config_path", default="configs/unet.yaml")
    parser.add_argument("--inference_ckpt_path", required=True)
    parser.add_argument("--video_path", required=True)
    parser.add_argument("--audio_path", required=True)
    parser.add_argument("--video_out_path", required=True)
    parser.add_argument("--inference_steps", type=int, default=20)
    parser.add_argument("--guidance_scale", type=float, default=1.0)
    parser.add_argument("--temp_dir", default="temp")
    parser.add_argument("--seed", type=int, default=1247)
    parser.add_argument("--enable_deepcache", action="store_true")
    return parser.parse_args(argv)


class Models:
    """The loaded pipeline of this process, by (config, checkpoint, DeepCache)."""

    def __init__(self):
        self.key: Optional[Tuple[str, str, bool]] = None
        self.pipeline: Any = None
        self.config: Any = None
        self.dtype: Any = None
        self.loads = 0

    def get(self, flags: argparse.Namespace):
        key = (flags.unet_config_path, flags.inference_ckpt_path, bool(flags.enable_deepcache))
        if key != self.key:
            self._drop()
            started = time.monotonic()
            self.pipeline, self.config, self.dtype = build_pipeline(flags)
            self.key = key
            self.loads += 1
            print(f"{LOAD_PREFIX} {time.monotonic() - started:.3f}", flush=True)
        return self.pipeline, self.config, self.dtype

    def _drop(self) -> None:
        if self.pipeline is None:
            return
        self.pipeline = self.config = self.dtype = self.key = None
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def build_pipeline(flags: argparse.Namespace):
    """LatentSync's pipeline for one config and checkpoint, as scripts/inference.py builds it."""
    print(f"alpha runner: loading LatentSync's models: config {flags.unet_config_path}, "
          f"checkpoint {flags.inference_ckpt_path}", flush=True)
    script = importlib.import_module("scripts.inference")
    torch = script.torch
    config = script.OmegaConf.load(flags.unet_config_path)
    fp16 = torch.cuda.is_available() and torch.cuda.get_device_capability()[0] > 7
    dtype = torch.float16 if fp16 else torch.float32
    scheduler = script.DDIMScheduler.from_pretrained("configs")
    whisper = WHISPER_BY_DIM.get(config.model.cross_attention_dim)
    if whisper is None:
        raise NotImplementedError("cross_attention_dim must be 768 or 384")
    audio_encoder = script.Audio2Feature(model_path=whisper, device="cuda", num_frames=config.data.num_frames,
                                         audio_feat_length=config.data.audio_feat_length)
    vae = script.AutoencoderKL.from_pretrained("stabilityai/sd-vae-ft-mse", torch_dtype=dtype)
    vae.config.scaling_factor = VAE_SCALING
    vae.config.shift_factor = 0
    unet, _ = script.UNet3DConditionModel.from_pretrained(script.OmegaConf.to_container(config.model),
                                                          flags.inference_ckpt_path, device="cpu")
    unet = unet.to(dtype=dtype)
    pipeline = script.LipsyncPipeline(vae=vae, audio_encoder=audio_encoder, unet=unet,
                                      scheduler=scheduler).to("cuda")
    if flags.enable_deepcache:
        helper = script.DeepCacheSDHelper(pipe=pipeline)
        helper.set_params(cache_interval=3, cache_branch_id=0)
        helper.enable()
    return pipeline, config, dtype


def render_episode(args: Dict[str, Any], models: Models) -> int:
    """One episode through the loaded (or freshly loaded) pipeline. 0 when its outputs are written."""
    flags = parse_flags(args["argv"])
    for path, what in ((flags.video_path, "Video"), (flags.audio_path, "Audio")):
        if not os.path.exists(path):
            raise RuntimeError(f"{what} path '{path}' not found")
    print(f"Input video path: {flags.video_path}\nInput audio path: {flags.audio_path}", flush=True)
    run = RunnerState(args)
    try:
        # Hooks first: a checkout whose layout the runner cannot patch is refused before a
        # model load is spent on it.
        targets = hooks.activate(run)
        if targets:
            print(f"alpha runner (pid {os.getpid()}): patched {', '.join(targets)}", flush=True)
        pipeline, config, dtype = models.get(flags)
        script = sys.modules["scripts.inference"]
        if flags.seed != -1:
            script.set_seed(flags.seed)
        else:
            script.torch.seed()
        print(f"Initial seed: {script.torch.initial_seed()}", flush=True)
        pipeline(video_path=flags.video_path, audio_path=flags.audio_path, video_out_path=flags.video_out_path,
                 num_frames=config.data.num_frames, num_inference_steps=flags.inference_steps,
                 guidance_scale=flags.guidance_scale, weight_dtype=dtype, width=config.data.resolution,
                 height=config.data.resolution, mask_image_path=config.data.mask_image_path,
                 temp_dir=flags.temp_dir)
    except hooks.LatentSyncDone:
        pass
    except BaseException:
        run.abort()
        raise
    else:
        run.abort()
        print("error: LatentSync returned without handing its frames to write_video", file=sys.stderr, flush=True)
        return EXIT_NO_FRAMES
    print(f"alpha runner: track written to {run.write_track()}", flush=True)
    run.write_telemetry(args["telemetry"])
    print(f"alpha runner: telemetry written to {args['telemetry']}", flush=True)
    return 0


def watch_parent(every_s: float = 1.0) -> None:
    """End this process group (the worker and its encoders) once alpha is gone: a killed
    render (kill -9, a crash) must not leave a worker holding the GPU for an episode nobody
    will collect. A thread, since the kernel's parent-death signal follows the spawning
    thread, not the process, and alpha spawns workers from short-lived job threads."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="alpha parent watch", daemon=True).start()


def serve(requests, models: Optional[Models] = None) -> int:
    """Render every requested episode; stop after the first that fails (its status)."""
    watch_parent()
    models = models or Models()
    for line in requests:
        if not line.strip():
            continue
        try:
            status = render_episode(read_args(json.loads(line)["args"]), models)
        except Exception:
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            status = 1
        print(f"{DONE_PREFIX} {status}", flush=True)
        if status != 0:
            return status
    return 0
