"""`alpha proof`: write proof images for a rendered episode, without re-rendering it."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

from ..console import info
from ..errors import Failure, UserError
from ..report import latest_failed_report, read_report
from ..stages.proof import write_proofs
from ..workspace import open_workspace


def proof(project_dir: Path | None, episode_id: str, at: list[float], out: Path | None,
          failed: bool = False) -> int:
    workspace = open_workspace(project_dir)
    project = workspace.project
    [episode_id] = workspace.select([episode_id])
    if failed:
        if at:
            raise UserError("--failed shows the images the failed render made; it takes no --at")
        return failed_proofs(project, episode_id, out)
    entry = workspace.lock.entry(episode_id)
    if entry is None:
        hint = ""
        if latest_failed_report(project, episode_id) is not None:
            hint = f"; its last render failed the quality gate: `alpha proof {episode_id} --failed` shows its proofs"
        raise UserError(f"{episode_id} was never rendered{hint or f': run `alpha render {episode_id}` first'}")
    upstream = {}
    for stage in ("lipsync", "restore", "mux"):
        record = entry["stages"].get(stage)
        if record is None:
            raise UserError(f"{episode_id} was rendered before alpha had a {stage} stage: "
                            f"run `alpha render {episode_id}`")
        for name, output in record["outputs"].items():
            path = project.path(output["path"])
            if workspace.hashes.hash_if_exists(output["path"]) != output["hash"]:
                raise UserError(f"{episode_id}: render output {stage}.{name} is missing or modified "
                                f"({output['path']}); run `alpha render {episode_id}`")
            upstream[f"{stage}.{name}"] = path
    times = sorted(set(at)) if at else sorted(set(project.episodes[episode_id].settings.proof.at))
    if any(not math.isfinite(t) or t < 0 for t in times):
        raise UserError("--at takes seconds from the start, 0 or more")
    target = (out or project.root / "proofs" / episode_id).resolve()
    if target.exists() and not target.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    target.mkdir(parents=True, exist_ok=True)
    restore = project.episodes[episode_id].settings.restore.model_dump()
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        written, metrics = write_proofs(upstream, times, restore, Path(scratch))
        for name, path in sorted(written.items()):
            final = target / f"{name}.png"
            shutil.move(str(path), final)  # same folder: a rename, so no half-written image
            info(f"{final.relative_to(project.root) if final.is_relative_to(project.root) else final}")
    if metrics["clamped_to_end"]:
        info(f"past the end, shown at the last frame: {', '.join(f'{t:g}s' for t in metrics['clamped_to_end'])}")
    if metrics["no_face_at"]:
        info(f"no face tracked at: {', '.join(f'{t:g}s' for t in metrics['no_face_at'])} (full frame only)")
    workspace.hashes.save()
    return 0


def failed_proofs(project, episode_id: str, out: Path | None) -> int:
    """Copy the proof images of the episode's newest gate-stopped render out of the store."""
    report_path = latest_failed_report(project, episode_id)
    if report_path is None:
        raise UserError(f"{episode_id} has no render that failed its quality gate")
    report = read_report(report_path)
    outputs = (report.get("stages", {}).get("proof") or {}).get("outputs") or {}
    images = {name: value for name, value in outputs.items() if ":" not in name}  # not display copies
    if not images:
        raise UserError(f"{_shown(project.root, report_path)} lists no proof images "
                        "(written by an older alpha?); run `alpha render` again to make them")
    target = (out or project.root / "proofs" / episode_id / "failed").resolve()
    target.mkdir(parents=True, exist_ok=True)
    info(f"{episode_id}: render v{report.get('version')} stopped by the quality gate: "
         f"{', '.join(report.get('gate', {}).get('violations') or []) or 'see the report'}")
    info(f"report: {_shown(project.root, report_path)}")
    for name, value in sorted(images.items()):
        source = project.path(value["path"])
        if not source.is_file():
            raise Failure(f"{value['path']} ({name}) is gone from the store")
        final = target / f"{name}.png"
        with tempfile.NamedTemporaryFile(dir=target, suffix=".tmp", delete=False) as scratch:
            shutil.copyfileobj(source.open("rb"), scratch)
        os.replace(scratch.name, final)  # same folder: a rename, so no half-written image
        info(_shown(project.root, final))
    return 0


def _shown(root: Path, path: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
