"""Opening a project: find it, validate its manifests, read its lock and hash cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .gcpause import gc_paused
from .plan.hashing import HashCache
from .plan.lock import Lock, read_lock
from .plan.plan import EpisodePlan, plan_project
from .project.ids import resolve_ids
from .project.load import find_root, load_project
from .project.model import Project


@dataclass
class Workspace:
    project: Project
    lock: Lock
    hashes: HashCache

    def select(self, names: list[str] | None) -> list[str] | None:
        """The full ids of episodes named on the command line, by id or unique prefix
        (None means all)."""
        if not names:
            return None
        return resolve_ids(names, self.project.episodes)

    def reload_lock(self) -> None:
        """Read alpha.lock again: call it once holding the render lock, so that what another
        render recorded meanwhile is planned from and never written back stale."""
        self.lock = read_lock(self.project.lock_path)

    def plan(self, names: list[str] | None = None, force: bool = False) -> list[EpisodePlan]:
        with gc_paused():
            plans = plan_project(self.project, self.lock, self.hashes, self.select(names), force)
        self.hashes.save()
        return plans


def open_workspace(project_dir: Path | None) -> Workspace:
    root = find_root(project_dir if project_dir is not None else Path.cwd())
    if project_dir is not None and root != project_dir.resolve():
        root = project_dir.resolve()
        if not (root / "alpha.yaml").is_file():
            raise UserError(f"{root} has no alpha.yaml")
    with gc_paused():
        project = load_project(root)
        lock = read_lock(project.lock_path)
        hashes = HashCache(root, project.state_dir / "cache" / "hashes.json")
    return Workspace(project, lock, hashes)
