"""`alpha proof`: write proof images for a rendered episode, without re-rendering it."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

from ..console import info
from ..errors import UserError
from ..stages.proof import write_proofs
from ..workspace import open_workspace


def proof(project_dir: Path | None, episode_id: str, at: list[float], out: Path | None) -> int:
    workspace = open_workspace(project_dir)
    project = workspace.project
    [episode_id] = workspace.select([episode_id])
    entry = workspace.lock.entry(episode_id)
    if entry is None:
        raise UserError(f"{episode_id} was never rendered: run `alpha render {episode_id}` first")
    upstream = {}
    for stage in ("lipsync", "mux"):
        for name, output in entry["stages"][stage]["outputs"].items():
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
