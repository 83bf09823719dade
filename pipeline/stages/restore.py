"""Restore stage: the generated crops pasted back into their frames, written as the silent video.

A plain CPU stage in alpha's own process: it needs no model, only what the lipsync stage left
in the store, so a change of the paste-back settings (`restore.*`) re-runs this stage, mux and
proof, and never the model. Frames and crops stream from two decoders through one `Restorer`
per shot into one encoder: memory stays flat however long the episode is.

Upstream (outputs of the lipsync stage, every backend):

* ``lipsync.original``: the aligned frames, at the episode's size: a video at the track's
  rate, or one PNG (a still source) that every frame shows;
* ``lipsync.track``: ``track.npz`` (:mod:`pipeline.restore.track`): per frame the frame → crop
  matrix, whether there is a face, the shot; the rate; the crop box and the generated region
  (inner mask) in crop space;
* ``lipsync.crops``: lossless RGB video of the generated crops, one per track frame (black
  where there is no face); absent when no frame has one.

Output: ``video``, silent H.264 yuv420p at the episode's size, rate, crf and preset: one frame
per track frame, resampled from the track's rate when the episode's differs.

Metrics: ``frames`` (frames pasted), ``frames_written``, ``seconds``, ``fps`` and, when any
frame was pasted, the Restorer's summary merged over shots (blend, seams, fallbacks, ms_mean).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..project.model import Project
from ..project.schema import Episode
from .base import Progress, Stage, StageResult, StageRun, StageSpec

if TYPE_CHECKING:
    import numpy as np


class RestoreStage(Stage):
    name = "restore"
    version = 2
    timing_metrics = ("seconds", "fps")
    upstream = ("lipsync",)

    def spec(self, episode: Episode, project: Project) -> StageSpec:
        video = episode.video
        params: dict[str, Any] = {"video": video.model_dump()}
        # The `none` backend generates nothing to paste: its render does not go stale when
        # the restore settings it ignores change.
        if episode.lipsync.backend != "none":
            params["restore"] = episode.restore.model_dump()
        return StageSpec(params=params)

    def run(self, job: StageRun) -> StageResult:
        out = job.work / "restored.mp4"
        metrics = restore_clip(job.upstream["lipsync.original"], job.upstream["lipsync.track"],
                               job.upstream.get("lipsync.crops"), out, restore=job.params.get("restore"),
                               video=job.params["video"], progress=job.progress)
        return StageResult({"video": out}, metrics)


def restore_clip(original: Path, track_path: Path, crops: Path | None, out: Path, *,
                 restore: dict | None, video: dict, progress: Progress | None = None) -> dict[str, Any]:
    """Paste the crops of `crops` back into the frames of `original` as `track_path` says,
    and encode the result to `out` (silent H.264 at `video`'s size, fps, crf and preset).

    `restore` holds the Restorer's blend, blur and erode (None only when no frame has a face).
    Returns the stage's metrics. Raises ValueError when the inputs disagree (frame counts,
    sizes), naming the file.
    """
    import cv2

    from ..media import FrameWriter
    from ..media.decode import ReadAhead
    from ..restore import Restorer, merge_summaries, read_track

    started = time.monotonic()
    track = read_track(str(track_path))
    width, height = int(video["width"]), int(video["height"])
    total = track.frames
    if track.found.any() and (crops is None or restore is None):
        raise ValueError(f"{track_path} has faces but the lipsync stage left no crops video")
    summaries: list[dict] = []
    restorer: Restorer | None = None
    shot = None
    crop_w, crop_h = track.crop_size
    # Both decoders run ahead in threads while the Restorer works on the frame before.
    frames_in = ReadAhead(_frames(original, total))
    crops_in = ReadAhead(_crops(crops, total))
    written = 0
    try:
        with FrameWriter(out, width, height, track.fps, crf=int(video["crf"]), preset=video["preset"],
                         fps_out=float(video["fps"]), progress=progress, total=total) as writer:
            for index in range(total):
                frame = next(frames_in, None)
                crop = next(crops_in, None)
                if frame is None or (crops is not None and crop is None):
                    short = original if frame is None else crops
                    raise ValueError(f"{short} ends after {index} frames; the track {track_path} has {total}")
                if frame.shape != (height, width, 3):
                    raise ValueError(f"{original} has {frame.shape[1]}×{frame.shape[0]} frames; the episode "
                                     f"is {width}×{height}")
                if track.found[index]:
                    if restorer is None or track.shot[index] != shot:
                        if restorer is not None:
                            summaries.append(restorer.summary())
                        restorer = Restorer(restore["blend"], track.inner_mask, blur=int(restore["blur"]),
                                            erode=int(restore["erode"]))
                        shot = track.shot[index]
                    if crop.shape[:2] != (crop_h, crop_w):
                        # Crops kept at the model's resolution: to the crop box as LatentSync does.
                        crop = cv2.resize(crop, (crop_w, crop_h), interpolation=cv2.INTER_CUBIC)
                    frame = restorer.restore_img(frame, crop, track.affines[index])
                writer.write(frame)
                written += 1
    finally:
        frames_in.close()  # an early exit kills the decoders
        crops_in.close()
    if restorer is not None:
        summaries.append(restorer.summary())
    seconds = time.monotonic() - started
    metrics: dict[str, Any] = {"frames": sum(s["frames"] for s in summaries), "frames_written": written,
                               "seconds": round(seconds, 3),
                               "fps": round(written / seconds, 2) if seconds else None}
    if summaries:
        merged = merge_summaries(summaries, restore["blend"], int(restore["blur"]), int(restore["erode"]))
        metrics.update({key: value for key, value in merged.items() if key != "frames"})
    return metrics


def _frames(original: Path, total: int) -> Iterator[np.ndarray]:
    """The aligned frames: a video's, or a still's repeated `total` times."""
    import cv2

    from ..media import read_frames

    if original.suffix == ".png":
        still = cv2.imread(str(original), cv2.IMREAD_COLOR)
        if still is None:
            raise ValueError(f"cannot read the aligned still {original}")
        return itertools.repeat(cv2.cvtColor(still, cv2.COLOR_BGR2RGB), total)
    return read_frames(original)


def _crops(crops: Path | None, total: int) -> Iterator[np.ndarray | None]:
    from ..media import read_frames

    if crops is None:
        return itertools.repeat(None, total)
    return read_frames(crops)
