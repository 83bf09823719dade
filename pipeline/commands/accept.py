"""`alpha accept`: record an episode's current inputs as rendered, without rendering."""

from __future__ import annotations

from pathlib import Path

from ..console import console
from ..errors import UserError
from ..execute import now_iso
from ..plan.lock import write_lock
from ..plan.plan import EpisodePlan
from ..presentation import describe
from ..project.schema import COSMETIC_PARAMS
from ..runlock import exclusive
from ..workspace import open_workspace


def not_cosmetic(plan: EpisodePlan) -> list[str]:
    """The changes of a stale episode that alter its pixels or samples, described."""
    return [describe(reason) for reason in plan.reasons
            if not (reason.kind == "param" and reason.field in COSMETIC_PARAMS)]


def accept(project_dir: Path | None, episodes: list[str], force: bool = False) -> int:
    if not episodes:
        raise UserError("name the episodes to accept, e.g. `alpha accept ep01`")
    workspace = open_workspace(project_dir)
    project = workspace.project
    with exclusive(project.state_dir / "render.lock", "alpha render"):
        workspace.reload_lock()
        lock = workspace.lock
        plans = workspace.plan(episodes)
        for plan in plans:
            entry = lock.entry(plan.id)
            if entry is None:
                raise UserError(f"{plan.id} was never rendered: there is nothing to accept")
            damaged = [r.field for r in plan.reasons if r.kind == "output"]
            if damaged:
                raise UserError(f"{plan.id}: outputs missing or modified ({', '.join(damaged)}); "
                                "render it instead")
            added = [s.stage.name for s in plan.stages if s.stage.name not in entry["stages"]]
            if added:
                raise UserError(f"{plan.id}: stage(s) {', '.join(added)} never ran; render it instead")
            changes = not_cosmetic(plan) if plan.stale else []
            if changes and not force:
                raise UserError(f"{plan.id}: not a cosmetic edit, it changes the video: {'; '.join(changes)}. "
                                "Render it, or pass --force to record it as rendered anyway")
        for plan in plans:
            if not plan.stale:
                console.print(f"{plan.id}: already up to date")
                continue
            entry = lock.entry(plan.id)
            for stage_plan in plan.stages:
                record = entry["stages"][stage_plan.stage.name]
                record.update(stage_plan.key.record())
            forced = bool(not_cosmetic(plan))
            entry["history"].append({"version": entry["version"], "at": now_iso(), "action": "accept",
                                     "reasons": [reason.as_json() for reason in plan.reasons],
                                     **({"forced": True} if forced else {})})
            console.print(f"{plan.id}: accepted {len(plan.reasons)} change(s) as rendered (v{entry['version']})"
                          + (", forced: the video does not show them" if forced else ""))
        write_lock(lock)
    return 0
