"""The physical plan: one job per stage of an episode that must run, and what comes back.

A job carries everything a stage needs and nothing that ties it to a place: the stage's
resolved parameters, its input files by path and content hash, the upstream outputs it
consumes (also by path and hash) and the resources it asks for. A result carries the outputs
as temporary files with their hashes and sizes, the stage's metrics, the node that ran it and
the seconds it took. Both are plain data, so a backend may ship them to another process or
host (see :mod:`pipeline.execute`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..stages.base import ModelLoad

__all__ = ["PREPARE", "RUN", "FileRef", "Job", "ModelLoad", "OutputFile", "Result"]


@dataclass(frozen=True)
class FileRef:
    """A file by where it is on the controller's machine and what it holds."""

    path: Path
    hash: str


PREPARE = "prepare"
RUN = "run"


@dataclass(frozen=True)
class Job:
    """One phase of one stage of one episode.

    A GPU stage that has CPU work to do before it needs its device (LatentSync's input clip)
    runs as two jobs: ``prepare`` on a CPU slot, then ``run`` on a GPU slot with the prepared
    files in ``prepared``. So the GPU never waits for that work: it is done while the device
    renders another episode.
    """

    episode_id: str
    stage: str                      # a name in pipeline.stages.STAGES
    gpus: int                       # GPUs of the run phase; 0: a CPU stage
    params: dict[str, Any]          # the resolved parameters of the stage's key
    inputs: dict[str, FileRef]      # manifest field ("audio.voice") -> file
    upstream: dict[str, FileRef]    # "<stage>.<output>" -> file
    digest: str                     # the run-cache key: what makes two jobs the same work
    phase: str = RUN                # PREPARE or RUN
    prepared: dict[str, FileRef] = field(default_factory=dict)  # what the prepare phase made

    @property
    def name(self) -> str:
        """The stage, and the phase when it is not the run itself ("lipsync:prepare")."""
        return self.stage if self.phase == RUN else f"{self.stage}:{self.phase}"

    @property
    def id(self) -> str:
        return f"{self.episode_id}/{self.name}"

    @property
    def kind(self) -> str:
        return "gpu" if self.gpus > 0 and self.phase == RUN else "cpu"


@dataclass(frozen=True)
class OutputFile:
    """An output a backend produced: a temporary file on the controller's file system."""

    path: Path
    hash: str
    size: int


@dataclass
class Result:
    """Exactly one per started job: its outputs, or why it has none."""

    job: Job
    outputs: dict[str, OutputFile] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    node: str = "local"
    seconds: float = 0.0
    error: str | None = None        # one line for the user; None on success
    details: str | None = None      # a traceback or a log tail, written to the episode's log
    scratch: Path | None = None     # a folder the controller removes once outputs are adopted

    @property
    def ok(self) -> bool:
        return self.error is None
