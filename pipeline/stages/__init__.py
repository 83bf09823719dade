"""The render stages in order; each names the stages whose outputs it consumes."""

from __future__ import annotations

from .base import Stage, StageResult, StageRun, StageSpec
from .lipsync import LipsyncStage
from .mux import MuxStage
from .proof import ProofStage
from .restore import RestoreStage
from .source import SourceStage

STAGES: tuple[Stage, ...] = (SourceStage(), LipsyncStage(), RestoreStage(), MuxStage(), ProofStage())

__all__ = ["STAGES", "Stage", "StageResult", "StageRun", "StageSpec"]
