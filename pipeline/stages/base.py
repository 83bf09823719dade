"""What every render stage is: resolved parameters and files in, files in the store out.

Stages never read manifests. `spec()` maps a validated episode to the exact parameters and
input files the stage depends on (the plan compares these against the lock); `run()` receives
those, plus the outputs of upstream stages, and writes its outputs into a work folder.

`alpha status` imports every stage for `spec()` alone, so stage modules import their heavy
machinery (ffmpeg wrappers, opencv, models) inside `run()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from ..project.model import Project
from ..project.schema import Episode, ProjectSettings

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StageSpec:
    """Everything a stage's result depends on, apart from upstream outputs and its own code."""

    params: dict[str, Any]
    inputs: dict[str, str] = field(default_factory=dict)  # field -> project-relative path
    checkpoint: str | None = None  # path of a model checkpoint whose content matters
    # GPUs one run of the stage holds (0: a CPU stage). Where it runs, not what it makes:
    # never part of the key.
    gpus: int = 0


@dataclass
class StageRun:
    """What `run()` gets: resolved paths, a private work folder and a progress callback."""

    episode_id: str
    params: dict[str, Any]
    inputs: dict[str, Path]
    upstream: dict[str, Path]  # "<stage>.<output>" -> file
    work: Path
    progress: Progress
    # Where things are on this machine (the LatentSync checkout, the Flux model, devices):
    # needed to run, deliberately not part of the key, so a project moves between machines.
    root: Path
    settings: ProjectSettings
    # Set by the backend that runs the job: the GPU it was given (None: a CPU slot) and the
    # warm model workers of this batch (None: a stage that needs one starts its own).
    device: str | None = None
    workers: Any = None
    # The files the stage's prepare phase made, by output name (empty when it had none or
    # when `run()` is called on its own, which then prepares inline).
    prepared: dict[str, Path] = field(default_factory=dict)


@dataclass
class ModelLoad:
    """One load of a model into a worker process, and the episodes that load served."""

    backend: str
    checkpoint: str
    node: str
    episodes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "checkpoint": self.checkpoint, "node": self.node,
                "episodes": list(self.episodes)}


@dataclass
class StageResult:
    outputs: dict[str, Path]  # output name -> file inside the work folder
    metrics: dict[str, Any] = field(default_factory=dict)


class Stage(ABC):
    name: ClassVar[str]
    # Bump when the implementation changes what it produces: episodes re-run this stage with
    # the reason kind "code".
    version: ClassVar[int]
    upstream: ClassVar[tuple[str, ...]] = ()
    # Metrics that measure the machine, not the output (dotted paths into the metrics): kept
    # in the render's report, left out of alpha.lock so that a render elsewhere changes no line
    # of it that matters.
    timing_metrics: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def spec(self, episode: Episode, project: Project) -> StageSpec: ...

    @abstractmethod
    def run(self, job: StageRun) -> StageResult: ...

    def prepares(self, params: dict[str, Any]) -> bool:
        """Whether a run with `params` has a prepare phase: CPU work that a GPU stage does
        before it needs its device, run on a CPU slot so that the device never waits."""
        return False

    def prepare(self, job: StageRun) -> StageResult:
        """The prepare phase. Its outputs are outputs of the stage and reach `run()` as
        ``job.prepared``; its metrics are merged into the stage's."""
        raise NotImplementedError(f"the {self.name} stage has no prepare phase")
