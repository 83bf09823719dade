"""Proof stage: evidence that a render is right, at the `proof.at` seconds.

For every time it writes the full frame of the finished episode; where the lip-sync stage
tracked a face it also writes the face crop and a before/after comparison: LatentSync's
stock paste-back against the episode's own blend on the same frame and generated crop, with
a heat-map of their difference. Images are PNG, RGB.

Reads ``mux.video`` (the finished episode), ``restore.video`` (the silent paste-back) and the
lipsync stage's ``original``, ``crops`` and ``track`` (see :mod:`.lipsync`). Outputs
``frame@<t>s``, ``face@<t>s``, ``compare@<t>s`` (:func:`proof_name`) and their display copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..project.model import Project
from ..project.schema import Episode
from .base import Stage, StageResult, StageRun, StageSpec

if TYPE_CHECKING:
    import numpy as np


def proof_name(kind: str, seconds: float) -> str:
    """Output name of a proof image, stable across runs: `frame@5s`, `compare@2.5s`."""
    return f"{kind}@{seconds:g}s"


class ProofStage(Stage):
    name = "proof"
    version = 5
    upstream = ("lipsync", "restore", "mux")

    def spec(self, episode: Episode, project: Project) -> StageSpec:
        params = {"proof": {"at": sorted(set(episode.proof.at))}}
        if episode.lipsync.backend != "none":  # the before/after panels need a face
            params["restore"] = episode.restore.model_dump()
        if episode.poster_at is not None:  # only when set, so renders made before it stay current
            params["poster"] = {"at": episode.poster_at}
        return StageSpec(params=params)

    def run(self, job: StageRun) -> StageResult:
        outputs, metrics = write_proofs(job.upstream, job.params["proof"]["at"], job.params.get("restore"), job.work)
        aimed, worst = write_artifact_proofs(job.upstream, job.params.get("restore"), job.work)
        outputs.update(aimed)
        metrics.update(worst)
        if "poster" in job.params:
            outputs.update(write_poster(job.upstream["mux.video"], job.params["poster"]["at"], job.work))
        copies, sizes = display_copies(outputs, job.work)
        return StageResult({**outputs, **copies}, {**metrics, "sizes": sizes})


def display_copies(proofs: dict[str, Path], out_dir: Path) -> tuple[dict[str, Path], dict[str, list[int]]]:
    """Web-sized JPEGs of proof PNGs, made with the render so a site build only links them.

    Every proof `<name>` gets `<name>:view`; full frames and the poster also get `<name>:thumb`. Returns the
    copies and the pixel size (width, height) of every image, originals included.
    """
    import cv2

    from ..media.images import display_jpeg

    copies: dict[str, Path] = {}
    sizes: dict[str, list[int]] = {}
    for name, path in proofs.items():
        pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
        sizes[name] = [pixels.shape[1], pixels.shape[0]]
        for view in ("view", "thumb") if name.startswith(("frame@", "poster@")) else ("view",):
            data, width, height = display_jpeg(pixels, view)
            copy = out_dir / f"{name}-{view}.jpg"
            copy.write_bytes(data)
            copies[f"{name}:{view}"] = copy
            sizes[f"{name}:{view}"] = [width, height]
    return copies, sizes


def write_proofs(upstream: dict[str, Path], times: list[float], restore: dict | None,
                 out_dir: Path) -> tuple[dict[str, Path], dict]:
    """Write the proof images for `times` from a render's outputs into `out_dir`.

    `upstream` maps "<stage>.<output>" to files: `mux.video` always; `lipsync.original`,
    `lipsync.crops` and `lipsync.track` when the backend tracked a face. The generated region
    is the track's inner mask (a stand-in of LatentSync's where an older track has none).
    """
    import cv2

    from ..media import frame_at, probe
    from ..restore import Restorer, read_track, synthetic_inner_mask
    from .lipsync.comparison import compare_blends

    video = upstream["mux.video"]
    duration = probe(video).duration
    track_path = upstream.get("lipsync.track")
    track = read_track(str(track_path)) if track_path is not None else None
    outputs: dict[str, Path] = {}
    clamped, without_face = [], []
    for seconds in times:
        # A proof time past the end shows the last frame rather than failing the render.
        moment = min(seconds, max(duration - 0.05, 0.0))
        if moment != seconds:
            clamped.append(seconds)
        final = frame_at(video, moment)
        outputs[proof_name("frame", seconds)] = _write_png(out_dir, proof_name("frame", seconds), final)
        if track is None or "lipsync.crops" not in upstream or restore is None:
            continue
        index = min(int(round(moment * track.fps)), track.frames - 1)
        if not track.found[index]:
            without_face.append(seconds)
            continue
        affine = track.affines[index]
        width, height = track.crop_size
        outputs[proof_name("face", seconds)] = _write_png(
            out_dir, proof_name("face", seconds),
            cv2.warpAffine(final, affine, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
        original = _frame(upstream["lipsync.original"], moment)
        crop = frame_at(upstream["lipsync.crops"], moment)
        if crop.shape[:2] != (height, width):
            crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC)
        inner = track.inner_mask if track.inner_mask is not None else synthetic_inner_mask((height, width))
        stock = Restorer("alpha", inner, blur=0, erode=0, seam_stats=False)
        chosen = Restorer(restore["blend"], inner, blur=restore["blur"], erode=restore["erode"], seam_stats=False)
        panel = compare_blends(original, crop, affine, stock, chosen,
                               labels=("stock alpha paste-back", f"{restore['blend']} (this episode)"))
        outputs[proof_name("compare", seconds)] = _write_png(out_dir, proof_name("compare", seconds), panel)
    return outputs, {"clamped_to_end": clamped, "no_face_at": without_face}


# The mouth and jaw in the aligned crop (fractions of its width and height), and how much
# the zoomed proof enlarges them.
MOUTH_AND_JAW = ((0.12, 0.88), (0.45, 1.0))
ZOOM = 2


def write_artifact_proofs(upstream: dict[str, Path], restore: dict | None,
                          out_dir: Path) -> tuple[dict[str, Path], dict]:
    """Proofs aimed at the artifact rather than at fixed seconds: the frame where the seam
    figure is worst (`worst-seam@<s>s`) and the one where it changes most from the frame
    before (`worst-change@<s>s`), each with a zoom of the mouth and jaw beside a seam heat map
    on a fixed scale (`zoom-seam@<s>s`, `zoom-change@<s>s`). Nothing without a face track.

    Returns the images and metrics `{"worst_seam": {"seconds", "value"}, "worst_change": …}`.
    """
    import itertools

    import numpy as np

    from ..media import frame_at, probe, read_frames
    from ..restore import read_track, synthetic_inner_mask
    from ..restore.masks import GENERATED_THRESHOLD, feather
    from ..restore.quality import seam_series, worst_frame

    track_path = upstream.get("lipsync.track")
    if track_path is None or "restore.video" not in upstream or restore is None:
        return {}, {}
    track = read_track(str(track_path))
    if not track.found.any():
        return {}, {}
    width, height = track.crop_size
    inner = track.inner_mask if track.inner_mask is not None else synthetic_inner_mask((height, width))
    paste = feather(inner, int(restore["erode"]), int(restore["blur"]))
    if not np.any(paste >= GENERATED_THRESHOLD):
        paste = inner  # as the Restorer does when erosion removes the whole region
    video = upstream["restore.video"]
    fps = probe(video).fps or track.fps
    # The paste-back video runs at the episode's rate, the track at the model's: pair each
    # finished frame with the track frame on screen at the same moment.
    indices = [min(int(round(i * track.fps / fps)), track.frames - 1) for i in range(int(round(track.frames * fps / track.fps)))]
    original_path = upstream["lipsync.original"]
    if original_path.suffix == ".png":
        originals = itertools.repeat(_frame(original_path, 0.0))
    else:
        originals = _resampled(read_frames(original_path), indices)
    # Streamed: one frame of each video in memory at a time; the two worst are decoded again.
    seam, change = seam_series(read_frames(video), originals, track.affines[indices],
                               track.found[indices], (height, width), paste)
    outputs: dict[str, Path] = {}
    metrics: dict[str, dict] = {}
    for kind, values in (("seam", seam), ("change", change)):
        index = worst_frame(values)
        if index is None:
            continue
        seconds = round(index / fps, 2)
        final = frame_at(video, (index + 0.5) / fps)
        original = _frame(original_path, (indices[index] + 0.5) / track.fps)
        affine = track.affines[indices[index]]
        outputs[proof_name(f"worst-{kind}", seconds)] = _write_png(out_dir, proof_name(f"worst-{kind}", seconds), final)
        panel = mouth_zoom(_to_crop(final, affine, (width, height)), _to_crop(original, affine, (width, height)))
        outputs[proof_name(f"zoom-{kind}", seconds)] = _write_png(out_dir, proof_name(f"zoom-{kind}", seconds), panel)
        metrics[f"worst_{kind}"] = {"seconds": seconds, "value": round(float(values[index]), 4)}
    return outputs, metrics


def _resampled(frames, indices: list[int]):
    """The frames at `indices` (non-decreasing) of a stream, repeating or skipping as needed."""
    current, position = None, -1
    for index in indices:
        while position < index:
            try:
                current = next(frames)
            except StopIteration:
                break  # a short stream: its last frame stands for the rest
            position += 1
        if current is None:
            return
        yield current


def _to_crop(frame: np.ndarray, affine: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.warpAffine(frame, affine, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def mouth_zoom(final: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The mouth and jaw of the aligned crop, enlarged, beside a heat map of what the
    paste-back changed there, with its scale in grey levels.

    Args:
        final, original: ``h×w×3`` uint8 RGB, the aligned crop after and before paste-back.
    Returns:
        One ``H×W×3`` uint8 RGB panel: zoom | heat map | scale bar (labelled 0 to the top).
    """
    import cv2
    import numpy as np

    from ..restore.quality import SEAM_HEAT_SCALE, heat_scale_bar, seam_heat

    h, w = final.shape[:2]
    x0, x1 = int(MOUTH_AND_JAW[0][0] * w), int(MOUTH_AND_JAW[0][1] * w)
    y0, y1 = int(MOUTH_AND_JAW[1][0] * h), int(MOUTH_AND_JAW[1][1] * h)
    size = ((x1 - x0) * ZOOM, (y1 - y0) * ZOOM)
    # Nearest-neighbour enlargement keeps a one-pixel step one step wide.
    zoom = cv2.resize(final[y0:y1, x0:x1], size, interpolation=cv2.INTER_NEAREST)
    heat = cv2.resize(seam_heat(final[y0:y1, x0:x1], original[y0:y1, x0:x1]), size, interpolation=cv2.INTER_NEAREST)
    bar_h = size[1] - 40
    bar = heat_scale_bar(bar_h, 24)
    legend = np.full((size[1], 150, 3), 255, np.uint8)
    legend[20:20 + bar_h, 10:34] = bar
    for fraction, text in ((0.0, f"{SEAM_HEAT_SCALE:g}"), (0.5, f"{SEAM_HEAT_SCALE / 2:g}"), (1.0, "0")):
        y = 20 + int(fraction * (bar_h - 1))
        cv2.putText(legend, text, (40, y + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(legend, "grey levels", (40, 20 + bar_h // 2 + 25), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    gap = np.full((size[1], 8, 3), 255, np.uint8)
    return np.hstack([zoom, gap, heat, gap, legend])


def write_poster(video: Path, seconds: float, out_dir: Path) -> dict[str, Path]:
    """The episode's poster: the finished video's frame at `seconds` (the last frame when past
    the end), as `poster@<seconds>s`. The site prefers it to the first proof frame."""
    from ..media import frame_at, probe

    moment = min(seconds, max(probe(video).duration - 0.05, 0.0))
    name = proof_name("poster", seconds)
    return {name: _write_png(out_dir, name, frame_at(video, moment))}


def _frame(path: Path, seconds: float) -> np.ndarray:
    """The frame at `seconds` of a video, or the still image a still source was rendered from."""
    import cv2

    from ..media import frame_at

    if path.suffix == ".png":
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return frame_at(path, seconds)


def _write_png(folder: Path, name: str, rgb: np.ndarray) -> Path:
    import cv2

    path = folder / f"{name}.png"
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path
