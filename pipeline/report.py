"""The render report and the quality gate: what a render used, what it cost, how it looks.

Reports are JSON under `.alpha/reports/<episode>/`: `v<N>.json` for recorded renders, and
`failed-<time>.json` for renders the gate (or an error) stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .errors import Failure
from .project.model import Project
from .project.schema import Episode, QualityGate


class QualityGateFailure(Failure):
    pass


@dataclass(frozen=True)
class Violation:
    figure: str
    value: float
    limit: float

    def __str__(self) -> str:
        return f"{self.figure} {self.value:.3g} > {self.limit:g}"


def quality_figures(records: dict[str, dict]) -> dict[str, Any]:
    """The figures the gate and the site read: faces from the lipsync stage's metrics, the
    paste-back's from the restore stage's (present when it pasted any frame)."""
    metrics = records.get("lipsync", {}).get("metrics", {}) or {}
    restore = records.get("restore", {}).get("metrics", {}) or {}
    if "blend" not in restore:
        restore = {}
    frames = metrics.get("frames") or restore.get("frames") or 0
    figures: dict[str, Any] = {"frames": frames}
    if "faces_missed" in metrics:
        figures["faces_missed"] = metrics["faces_missed"]
        figures["faces_missed_ratio"] = metrics["faces_missed"] / frames if frames else 0.0
    if restore:
        figures["fallbacks"] = restore.get("fallbacks", 0)
        figures["fallback_reasons"] = restore.get("fallback_reasons", {})
        seams = [restore.get(key) for key in ("seam_rect_mean", "seam_inner_mean")]
        seams = [value for value in seams if value is not None]
        figures["seam"] = max(seams) if seams else None
        figures["seam_rect_mean"] = restore.get("seam_rect_mean")
        figures["seam_inner_mean"] = restore.get("seam_inner_mean")
        figures["flicker"] = restore.get("seam_temporal_mean")
        figures["restore_ms_per_frame"] = restore.get("ms_mean")
    return figures


def check_gate(gate: QualityGate, figures: dict[str, Any]) -> list[Violation]:
    """Every limit the figures exceed; figures a backend does not produce are not judged."""
    checks = [("seam", gate.seam_max), ("flicker", gate.flicker_max),
              ("fallbacks", gate.fallbacks_max), ("faces_missed_ratio", gate.faces_missed_max)]
    violations = []
    for figure, limit in checks:
        value = figures.get(figure)
        if limit is not None and value is not None and value > limit:
            violations.append(Violation(figure, float(value), float(limit)))
    return violations


def build_report(project: Project, episode_id: str, version: int, records: dict[str, dict],
                 how: dict[str, str], violations: list[Violation]) -> dict[str, Any]:
    episode: Episode = project.episodes[episode_id].settings
    return {
        "episode": episode_id,
        "version": version,
        "fix_stack": {
            "source.flux": episode.source.flux.model_dump() if episode.source.flux.enabled else None,
            "lipsync": episode.lipsync.model_dump(),
            "restore": episode.restore.model_dump(),
            "named_fixes": [fix.model_dump() for fix in project.fixes_applying_to(episode)],
        },
        # Outputs too: a render the gate stops is recorded nowhere else, and its proof images
        # are the evidence (`alpha proof EP --failed`).
        "stages": {name: {"how": how.get(name, "kept"), "seconds": record.get("seconds"),
                          "outputs": record.get("outputs") or {}}
                   for name, record in records.items()},
        "quality": quality_figures(records),
        "gate": {"limits": episode.quality.model_dump(), "passed": not violations,
                 "violations": [str(v) for v in violations]},
    }


def latest_failed_report(project: Project, episode_id: str) -> Path | None:
    """The newest `failed-<time>.json` report of an episode, if any."""
    folder = project.state_dir / "reports" / episode_id
    failed = sorted(folder.glob("failed-*.json")) if folder.is_dir() else []
    return failed[-1] if failed else None


def read_report(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Failure(f"{path}: unreadable report ({exc})") from None


def write_report(project: Project, report: dict[str, Any], name: str) -> str:
    folder = project.state_dir / "reports" / report["episode"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    atomic_write_text(path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return str(path.relative_to(project.root))
