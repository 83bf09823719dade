"""Lip-sync stage: the model's work only; the restore stage pastes its crops back.

Backends: `none` (no model: the source fitted and looped to the voice's length), `preview` (a
CPU stand-in for the model) and `latentsync` (the real model, in its own process).

Outputs, the same names for every backend (the restore and proof stages read them):

* ``original``: the aligned frames at the episode's size (:mod:`.frames`): ``original.png``
  for a still source, else a video at the track's rate;
* ``track``: ``track.npz`` (:mod:`pipeline.restore.track`), one entry per aligned frame;
* ``crops``: lossless RGB video (``crops.mkv``) of the generated crops, frame for frame with
  the track; only when some frame has a face.

The latentsync backend adds ``telemetry`` (the runner's sidecar).
"""

from __future__ import annotations

from ...project.model import Project
from ...project.schema import Episode
from ..base import Stage, StageResult, StageRun, StageSpec


class LipsyncStage(Stage):
    name = "lipsync"
    version = 4
    timing_metrics = ("seconds", "fps", "runner_seconds")
    upstream = ("source",)

    def spec(self, episode: Episode, project: Project) -> StageSpec:
        lipsync = episode.lipsync
        video = episode.video
        params: dict = {
            "lipsync": {"backend": lipsync.backend},
            "source": {"kind": "video" if episode.source.video is not None else "image"},
            # The aligned frames depend on the size and rate only: crf and preset are the
            # restore stage's encode.
            "video": {"fps": video.fps, "width": video.width, "height": video.height},
        }
        if lipsync.backend == "latentsync":
            # LatentSync aligns and generates at 25 fps whatever the episode's rate.
            del params["video"]["fps"]
        checkpoint = None
        if lipsync.backend == "preview":
            params["lipsync"].update(checkpoint=lipsync.checkpoint, drift=lipsync.drift)
        if lipsync.backend == "latentsync":
            entry = project.settings.latentsync.checkpoints[lipsync.checkpoint]
            params["lipsync"].update(lipsync.model_dump(exclude={"backend", "drift", "gpus"}),
                                     config=entry.config)
            checkpoint = _under(project.settings.latentsync.root, entry.checkpoint)
        return StageSpec(params=params, inputs={"audio.voice": episode.audio.voice},
                         checkpoint=checkpoint, gpus=lipsync.gpus_per_job)

    def prepares(self, params: dict) -> bool:
        # LatentSync's input clip is made on a CPU slot before the GPU is taken.
        return params["lipsync"]["backend"] == "latentsync"

    def prepare(self, job: StageRun) -> StageResult:
        from .latentsync import prepare_latentsync

        return prepare_latentsync(job, job.settings.latentsync, job.root)

    def run(self, job: StageRun) -> StageResult:
        backend = job.params["lipsync"]["backend"]
        if backend == "preview":
            from .preview import run_preview

            return run_preview(job)
        if backend == "latentsync":
            from .latentsync import run_latentsync

            return run_latentsync(job, job.settings.latentsync, job.root)
        return run_none(job)


def run_none(job: StageRun) -> StageResult:
    """No model: the source's frames as they are, for the restore stage to encode."""
    from ...media import probe
    from ...media.filters import frame_count
    from ...restore import Track, write_track
    from .frames import aligned_frames

    duration = probe(job.inputs["audio.voice"]).duration
    video = job.params["video"]
    original, _ = aligned_frames(job.upstream["source.media"], job.params["source"]["kind"], job.work,
                                 duration=duration, fps=video["fps"], size=(video["width"], video["height"]))
    track = job.work / "track.npz"
    write_track(str(track), Track.without_faces(frame_count(duration, video["fps"]), video["fps"]))
    return StageResult({"original": original, "track": track}, {"duration": duration})


def _under(root: str | None, path: str) -> str:
    if root is None or path.startswith(("/", "~")):
        return path
    return f"{root.rstrip('/')}/{path}"
