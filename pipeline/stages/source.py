"""Source stage: the reference image or clip the lip-sync starts from (optionally Flux-restyled)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..project.model import Project
from ..project.schema import Episode
from .base import Stage, StageResult, StageRun, StageSpec


class SourceStage(Stage):
    name = "source"
    version = 1
    timing_metrics = ("flux.seconds",)

    def spec(self, episode: Episode, project: Project) -> StageSpec:
        source = episode.source
        if source.video is not None:
            return StageSpec(params={"source": {"kind": "video"}}, inputs={"source.video": source.video})
        params: dict = {"source": {"kind": "image"}}
        if source.flux.enabled:
            # The model is named as written in alpha.yaml: which model, not where it lies.
            params["source"]["flux"] = {**source.flux.model_dump(exclude={"enabled"}),
                                        "model": project.settings.flux.model}
        return StageSpec(params=params, inputs={"source.image": source.image})

    def run(self, job: StageRun) -> StageResult:
        if job.params["source"]["kind"] == "video":
            original = job.inputs["source.video"]
            out = job.work / f"source{original.suffix.lower()}"
            shutil.copyfile(original, out)
            return StageResult({"media": out})
        original = job.inputs["source.image"]
        flux = job.params["source"].get("flux")
        if flux is None:
            out = job.work / f"source{original.suffix.lower()}"
            shutil.copyfile(original, out)
            return StageResult({"media": out})
        from ..flux import restyle

        machine = job.settings.flux
        model = Path(machine.model).expanduser()
        out = job.work / "source.png"
        metrics = restyle(original, out, model=model if model.is_absolute() else job.root / model,
                          strength=flux["strength"], prompt=flux["prompt"], seed=flux["seed"],
                          steps=flux["steps"], guidance=flux["guidance"], device=machine.device)
        return StageResult({"media": out}, {"flux": metrics})

