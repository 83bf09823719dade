"""Lip-sync stage: the source animated to the voice track, as a silent video.

Backends: `none` (the source looped to the voice's length, no model), `preview` (a CPU stand-in
for the model) and `latentsync` (the real model, in its own process).
"""

from __future__ import annotations

from ...project.model import Project
from ...project.schema import Episode
from ..base import Stage, StageResult, StageRun, StageSpec


class LipsyncStage(Stage):
    name = "lipsync"
    version = 2
    upstream = ("source",)

    def spec(self, episode: Episode, project: Project) -> StageSpec:
        lipsync = episode.lipsync
        params: dict = {
            "lipsync": {"backend": lipsync.backend},
            "source": {"kind": "video" if episode.source.video is not None else "image"},
            "video": episode.video.model_dump(),
        }
        # Only what a backend actually uses is part of its key: a `none` render does not go
        # stale when the restore settings it ignores change.
        if lipsync.backend != "none":
            params["restore"] = episode.restore.model_dump()
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

    def run(self, job: StageRun) -> StageResult:
        backend = job.params["lipsync"]["backend"]
        if backend == "preview":
            from .preview import run_preview

            return run_preview(job)
        if backend == "latentsync":
            from .latentsync import run_latentsync

            return run_latentsync(job, job.settings.latentsync, job.root)
        from ...media import loop_video, probe, still_to_video

        duration = probe(job.inputs["audio.voice"]).duration
        source = job.upstream["source.media"]
        out = job.work / "lipsync.mp4"
        video = job.params["video"]
        encode = loop_video if job.params["source"]["kind"] == "video" else still_to_video
        encode(source, out, duration=duration, fps=video["fps"], size=(video["width"], video["height"]),
               crf=video["crf"], preset=video["preset"], progress=job.progress)
        return StageResult({"video": out}, {"duration": duration})


def _under(root: str | None, path: str) -> str:
    if root is None or path.startswith(("/", "~")):
        return path
    return f"{root.rstrip('/')}/{path}"
