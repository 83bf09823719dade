"""The render report and the quality gate: what a render used, what it cost, how it looks.

Reports are JSON under `.alpha/reports/<episode>/`: `v<N>.json` for recorded renders, and
`failed-<time>.json` for renders the gate (or an error) stopped.
"""

from __future__ import annotations

import json
import os
import shutil
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
                          "metrics": record.get("metrics") or {}, "outputs": record.get("outputs") or {}}
                   for name, record in records.items()},
        "quality": quality_figures(records),
        # Logs the stages kept (e.g. LatentSync's), by stage: store paths relative to the project.
        "logs": {name: record["outputs"]["log"]["path"] for name, record in records.items()
                 if "log" in record.get("outputs", {})},
        "gate": {"limits": episode.quality.model_dump(), "passed": not violations,
                 "violations": [str(v) for v in violations]},
    }


def readable_proofs(project: Project, episode_id: str, label: str, records: dict[str, dict]) -> str | None:
    """The render's proof images under names a person can open:
    `.alpha/proofs/<episode>/<label>/<name>.png`, hard links to the store objects (copies where
    links are refused). `label` is `v<N>` or `failed-<time>`. Returns the folder, project-relative."""
    outputs = (records.get("proof") or {}).get("outputs") or {}
    images = {name: value for name, value in outputs.items() if ":" not in name}  # not display copies
    if not images:
        return None
    folder = project.state_dir / "proofs" / episode_id / label
    staging = folder.with_name(f".{label}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, value in images.items():
        source, target = project.path(value["path"]), staging / f"{name}.png"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.rename(staging, folder)  # the folder appears whole
    return f"{folder.relative_to(project.root)}/"


def episode_line(quality: dict[str, Any], limits: QualityGate, proofs: str | None) -> str:
    """One line after each rendered episode: its figures against the gate, and its proofs."""
    parts = []
    for figure, label, limit in (("seam", "seam step", limits.seam_max),
                                 ("flicker", "seam change/frame", limits.flicker_max)):
        value = quality.get(figure)
        if value is None:
            continue
        gate = "no gate" if limit is None else f"{'over' if value > limit else 'within'} gate {limit:g}"
        parts.append(f"{label} {value:.2f} grey levels ({gate})")
    if not parts:
        parts.append("no seam figures (nothing pasted back)")
    parts.append(f"proofs: {proofs}" if proofs else "no proof images")
    return " · ".join(parts)


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


def render_seconds(project: Project, entry: dict[str, Any]) -> float | None:
    """The stage seconds of the render an alpha.lock entry records, from its report (timings
    live only there); None where this machine has no report of it (a lock made elsewhere)."""
    name = entry.get("report")
    if not name:
        return None
    path = project.root / name
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise Failure(f"cannot read the render report {name}: {exc}") from None
    seconds = [stage.get("seconds") for stage in (report.get("stages") or {}).values()]
    return sum(float(value) for value in seconds if value) or None

