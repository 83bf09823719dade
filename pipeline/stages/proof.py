"""Proof stage: still frames of the finished episode at the `proof.at` seconds."""

from __future__ import annotations

from ..project.model import Project
from ..project.schema import Episode
from .base import Stage, StageResult, StageRun, StageSpec


def proof_name(seconds: float) -> str:
    """Output name of the proof frame at `seconds`, stable across runs (`frame@5.0s`)."""
    return f"frame@{seconds:g}s"


class ProofStage(Stage):
    name = "proof"
    version = 1
    upstream = ("mux",)

    def spec(self, episode: Episode, project: Project) -> StageSpec:
        return StageSpec(params={"proof": {"at": sorted(set(episode.proof.at))}})

    def run(self, job: StageRun) -> StageResult:
        from ..media import frame_at, probe
        import cv2
        video = job.upstream["mux.video"]
        duration = probe(video).duration
        outputs = {}
        clamped = []
        for seconds in job.params["proof"]["at"]:
            # A proof time past the end shows the last frame rather than failing the render.
            moment = min(seconds, max(duration - 0.05, 0.0))
            if moment != seconds:
                clamped.append(seconds)
            frame = frame_at(video, moment)
            out = job.work / f"{proof_name(seconds)}.png"
            if not cv2.imwrite(str(out), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write {out}")
            outputs[proof_name(seconds)] = out
        return StageResult(outputs, {"clamped_to_end": clamped})


