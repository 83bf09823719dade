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
    version = 4
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
