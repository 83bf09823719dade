"""The patches applied to LatentSync's classes and modules before its inference runs.

Every target is patched on the class (or module), never on an instance, because
``LipsyncPipeline.__call__`` builds its ``ImageProcessor`` and ``AlignRestore`` itself. The
call flow of ``LipsyncPipeline.__call__`` (bytedance/LatentSync a229c39) and what each hook does:

1. ``read_video(video_path, use_decord=False)`` — module attribute of lipsync_pipeline.
   Stock: re-encodes the input to 25 fps into ``./temp`` of the checkout (a hard-coded path,
   shared by concurrent runs) and reads it back. Hook: alpha already made a 25 fps clip, so
   its frames are decoded directly; the checkout is never written to.
2. ``loop_video`` → ``affine_transform_video`` → ``ImageProcessor.affine_transform`` per frame.
   ``affine_transform`` hook: a frame without a face no longer raises
   ``RuntimeError("Face not detected")``; it gets a placeholder crop and is remembered.
   ``affine_transform_video`` hook: after all frames are aligned, the matrices are smoothed
   over time (:mod:`.smoothing`) and the crops cut again with the smoothed matrices, so the
   model sees what will be pasted back.
3. Per 16-frame chunk, ``paste_surrounding_pixels_back`` (staticmethod) composites the VAE
   output into the original crop with mask.png's hard edge. Hook: the raw VAE output is kept
   (as uint8) before calling the stock composite, whose result LatentSync only hands on to
   ``restore_video``.
4. ``restore_video(faces, frames, boxes, matrices)``. Stock: pastes every composited crop
   back into its frame on the GPU process's CPU, holding the whole clip in memory. Hook:
   capture only. Each output frame's RAW generated crop, at the model's resolution (black
   for a frame without a face), streams into the one encoder (the lossless crops video) and
   its smoothed matrix goes into the track (track.npz). Paste-back is alpha's restore stage,
   in alpha's own process, after the GPU is free; a light token stands in for the frame
   stack LatentSync would hold.
5. ``write_video(path, frames, fps)`` — module attribute of lipsync_pipeline. Stock: imageio
   encode (crf 13), then LatentSync writes 16 kHz audio and shells out to ffmpeg to re-encode
   (crf 18) and mux. Hook: finishes the crops encoder (exact frame count) and raises
   :class:`LatentSyncDone`, which unwinds ``__call__`` before the audio write and the ffmpeg
   command; the runner treats it as success. alpha muxes the original audio later.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from . import KNOWN_GOOD, KNOWN_GOOD_COMMIT, media, tensors
from .smoothing import smooth_affines
from .state import RunnerState

FACE_NOT_DETECTED = "Face not detected"
# What the hooks patch: name -> (module, class or None for the module itself, attribute).
TARGETS = {
    "latentsync.pipelines.lipsync_pipeline.read_video": ("latentsync.pipelines.lipsync_pipeline", None, "read_video"),
    "latentsync.pipelines.lipsync_pipeline.write_video": ("latentsync.pipelines.lipsync_pipeline", None, "write_video"),
    "LipsyncPipeline.affine_transform_video": ("latentsync.pipelines.lipsync_pipeline", "LipsyncPipeline",
                                               "affine_transform_video"),
    "LipsyncPipeline.paste_surrounding_pixels_back": ("latentsync.pipelines.lipsync_pipeline", "LipsyncPipeline",
                                                      "paste_surrounding_pixels_back"),
    "LipsyncPipeline.restore_video": ("latentsync.pipelines.lipsync_pipeline", "LipsyncPipeline", "restore_video"),
    "ImageProcessor.affine_transform": ("latentsync.utils.image_processor", "ImageProcessor", "affine_transform"),
}

_STATE: Optional[RunnerState] = None


class LatentSyncDone(BaseException):
    """Raised by the write_video hook once the encoder holds the whole clip.

    A BaseException, so no ``except Exception`` inside LatentSync can swallow it.
    """


class Streamed:
    """What the restore_video hook returns instead of the (n, H, W, 3) frame stack: the
    crops already went to the encoder; LatentSync only reads ``.shape[0]``."""

    def __init__(self, count: int, frame_shape: Tuple[int, ...]):
        self.shape = (count, *frame_shape)

    def __len__(self) -> int:
        return self.shape[0]


def state() -> RunnerState:
    if _STATE is None:
        raise RuntimeError("the alpha runner's hooks are not installed")
    return _STATE


# -- installing ----------------------------------------------------------------------------

def find_targets() -> Tuple[Dict[str, Tuple[Any, str]], List[str]]:
    """Import LatentSync's modules (from the working directory) and look up every hook
    target: ``({name: (owner, attribute)}, [names missing])``. An import error propagates."""
    modules = {module: importlib.import_module(module) for module, _, _ in TARGETS.values()}
    found: Dict[str, Tuple[Any, str]] = {}
    missing: List[str] = []
    for name, (module, cls, attr) in TARGETS.items():
        owner = modules[module] if cls is None else getattr(modules[module], cls, None)
        if owner is None or not hasattr(owner, attr):
            missing.append(name)
        else:
            found[name] = (owner, attr)
    return found, missing


def install(run: RunnerState) -> List[str]:
    """Patch LatentSync (already importable from the working directory). Returns the targets."""
    global _STATE
    wanted, missing = find_targets()
    if missing:
        raise RuntimeError(f"this LatentSync checkout lacks {', '.join(missing)}; the alpha runner "
                           f"patches the layout of {KNOWN_GOOD}: check out that commit "
                           f"(git checkout {KNOWN_GOOD_COMMIT})")
    lp = importlib.import_module("latentsync.pipelines.lipsync_pipeline")
    pipeline_cls = lp.LipsyncPipeline
    processor_cls = importlib.import_module("latentsync.utils.image_processor").ImageProcessor
    originals: Dict[str, Any] = {name: getattr(owner, attr) for name, (owner, attr) in wanted.items()}
    run.originals = originals
    lp.read_video = _read_video
    lp.write_video = _write_video
    pipeline_cls.affine_transform_video = _affine_transform_video
    if isinstance(pipeline_cls.__dict__.get("paste_surrounding_pixels_back"), staticmethod):
        pipeline_cls.paste_surrounding_pixels_back = staticmethod(_paste_surrounding_pixels_back)
    else:  # a plain method in some other version: same arguments after self
        pipeline_cls.paste_surrounding_pixels_back = _paste_method
    pipeline_cls.restore_video = _restore_video
    processor_cls.affine_transform = _affine_transform
    _STATE = run
    return list(wanted)


def activate(run: RunnerState) -> List[str]:
    """Point the hooks at a new episode's state, installing them on the first call (a warm
    worker renders many episodes; each gets a clean state). Returns the targets patched now."""
    global _STATE
    if _STATE is None:
        return install(run)
    run.originals = _STATE.originals
    _STATE = run
    return []


# -- 1. reading the input ------------------------------------------------------------------

def _read_video(video_path, *args, **kwargs):
    run = state()
    if os.path.abspath(str(video_path)) != os.path.abspath(run.input_video):
        return run.originals["latentsync.pipelines.lipsync_pipeline.read_video"](video_path, *args, **kwargs)
    frames = media.read_video(run.ffmpeg, run.input_video, run.width, run.height)
    print(f"alpha runner: read {len(frames)} frames of {video_path} directly (already 25 fps)", flush=True)
    return frames


# -- 2. alignment --------------------------------------------------------------------------

def _affine_transform(self, image, *args, **kwargs):
    run = state()
    try:
        face, box, affine = run.originals["ImageProcessor.affine_transform"](self, image, *args, **kwargs)
    except RuntimeError as exc:
        if FACE_NOT_DETECTED not in str(exc):
            raise
        frame = np.asarray(image)
        face_wh = _face_wh(self)
        guess = run.last_good if run.last_good is not None else default_matrix(frame.shape, face_wh)
        face, box = cut_face(self, frame, guess)
        placeholder = np.array(guess, dtype=np.float64)
        run.mark_no_face(placeholder)
        return face, box, placeholder
    run.last_good = tensors.matrix(affine)
    return face, box, affine


def _affine_transform_video(self, video_frames):
    run = state()
    count = len(video_frames)
    print(f"Affine transforming {count} faces (alpha runner: frames without a face are kept, "
          f"matrices smoothed, sigma {run.sigma:g} frames)...", flush=True)
    run.progress("align", 0, count)
    results = []
    for k in range(count):
        results.append(self.image_processor.affine_transform(video_frames[k]))
        run.progress("align", k + 1, count)
    face_wh = _face_wh(self.image_processor)
    run.crop_wh = face_wh
    run.resolution = int(self.image_processor.resolution)
    raw = [None if id(affine) in run.no_face_ids else tensors.matrix(affine) for _, _, affine in results]
    fallback = default_matrix(np.asarray(video_frames[0]).shape, face_wh)
    smoothed, cuts, _ = smooth_affines(raw, face_wh, run.sigma, fallback)
    faces, boxes, matrices = [], [], []
    for k, ((face, box, _), before, after) in enumerate(zip(results, raw, smoothed)):
        if before is None or not np.allclose(before, after, rtol=0.0, atol=1e-3):
            face, box = cut_face(self.image_processor, np.asarray(video_frames[k]), after)
        affine = run.keep(np.array(after, dtype=np.float64))
        run.source_of[id(affine)] = k
        faces.append(face)
        boxes.append(box)
        matrices.append(affine)
    run.raw_matrices, run.smoothed, run.cuts = raw, smoothed, cuts
    missed = sum(1 for m in raw if m is None)
    if missed:
        print(f"alpha runner: no face in {missed} of {count} frames; they keep their original pixels",
              flush=True)
    return tensors.stack(faces), boxes, matrices


def default_matrix(frame_shape, face_wh: Tuple[int, int]) -> np.ndarray:
    """A crop of the frame's middle, for frames before any face was seen."""
    height, width = frame_shape[:2]
    w, h = face_wh
    scale = min(w / width, h / height)
    return np.array([[scale, 0.0, w / 2.0 - scale * width / 2.0],
                     [0.0, scale, h / 2.0 - scale * height / 2.0]])


def cut_face(image_processor, frame: np.ndarray, affine: np.ndarray):
    """The aligned crop LatentSync's model takes, cut with `affine`: warped to the crop box
    (bilinear, grey fill), resized to the model's resolution, as a (c, h, w) uint8 tensor."""
    w, h = _face_wh(image_processor)
    crop = cv2.warpAffine(np.ascontiguousarray(frame, dtype=np.uint8), np.asarray(affine, np.float64),
                          (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=_fill_value(image_processor.restorer))
    res = int(image_processor.resolution)
    crop = cv2.resize(crop, (res, res), interpolation=cv2.INTER_LANCZOS4)
    return tensors.as_tensor(np.ascontiguousarray(crop.transpose(2, 0, 1))), [0, 0, w, h]


def _face_wh(image_processor) -> Tuple[int, int]:
    w, h = image_processor.restorer.face_size
    return int(w), int(h)


def _fill_value(align_restore) -> Tuple[float, float, float]:
    value = getattr(align_restore, "fill_value", None)
    if value is None:
        return (127.0, 127.0, 127.0)
    arr = np.asarray(tensors.to_numpy(value), dtype=np.float64).reshape(-1)
    return tuple(float(v) for v in (arr if arr.size == 3 else np.repeat(arr[:1], 3)))


# -- 3. generation -------------------------------------------------------------------------

def _capture(decoded_latents) -> None:
    run = state()
    run.raw_crops.extend(tensors.batch_signed_to_uint8(decoded_latents))
    run.frames_generated = len(run.raw_crops)
    run.progress("infer", min(run.frames_generated, run.frames_target), run.frames_target)


def _paste_surrounding_pixels_back(decoded_latents, pixel_values, masks, device, weight_dtype):
    _capture(decoded_latents)
    original = state().originals["LipsyncPipeline.paste_surrounding_pixels_back"]
    return _off_device(original(decoded_latents, pixel_values, masks, device, weight_dtype))


def _paste_method(self, decoded_latents, pixel_values, masks, device, weight_dtype):
    _capture(decoded_latents)
    original = state().originals["LipsyncPipeline.paste_surrounding_pixels_back"]
    return _off_device(original(self, decoded_latents, pixel_values, masks, device, weight_dtype))


def _off_device(composited):
    """LatentSync keeps every chunk's composite until the clip ends (about 1.5 MB of VRAM per
    frame at 512); the restore_video hook reads them only as a fallback, so they wait in RAM."""
    return composited.cpu() if hasattr(composited, "cpu") else composited


# -- 4. capture and encoding ---------------------------------------------------------------

def _restore_video(self, faces, video_frames, boxes, affine_matrices):
    run = state()
    count = len(faces)
    raw = run.raw_crops if len(run.raw_crops) == count else None
    run.used_raw_crops = raw is not None
    if raw is None:
        print(f"alpha runner: warning: {len(run.raw_crops)} raw crops captured for {count} faces; "
              f"keeping LatentSync's composited crops instead", flush=True)
    total = min(count, run.frames_target)
    print(f"Capturing {total} generated crops (alpha runner: paste-back is alpha's restore stage)...",
          flush=True)
    run.progress("capture", 0, total)
    for i in range(count):
        k = run.source_of.get(id(affine_matrices[i]))
        if k is not None and run.raw_matrices[k] is None:
            run.record(None, None)
        else:
            crop = raw[i] if raw is not None else tensors.chw_signed_to_hwc_uint8(faces[i])
            run.record(crop, tensors.matrix(affine_matrices[i]))
        run.progress("capture", min(i + 1, total), total)
    run.raw_crops = []
    return Streamed(count, np.asarray(video_frames[0]).shape)


def _write_video(video_output_path, video_frames, fps=25, *args, **kwargs):
    run = state()
    if not isinstance(video_frames, Streamed):
        raise RuntimeError("LatentSync wrote its video without calling restore_video, so the runner "
                           f"captured no crops; the hooks patch the call flow of {KNOWN_GOOD}")
    num, _, den = run.fps_in.partition("/")
    if abs(float(fps) - float(num) / float(den or 1)) > 1e-6:
        raise RuntimeError(f"LatentSync wrote its frames at {fps} fps; the runner expected {run.fps_in}")
    run.finish_track()
    run.reencode_skipped = True
    print(f"alpha runner: {run.crops.written} crops encoded to {run.crops.out}; LatentSync's paste-back, "
          f"its write to {video_output_path}, its re-encode and its 16 kHz mux are skipped", flush=True)
    raise LatentSyncDone()
