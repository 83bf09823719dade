"""Opening a project: find it, validate its manifests, read its lock and hash cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .gcpause import gc_paused
from .plan.hashing import HashCache
from .plan.lock import Lock, read_lock
from .plan.plan import EpisodePlan, plan_project
from .project.keys import did_you_mean
from .project.load import find_root, load_project
from .project.model import Project


@dataclass
class Workspace:
    project: Project
    lock: Lock
    hashes: HashCache

    def select(self, names: list[str] | None) -> list[str] | None:
        """Validate episode ids named on the command line (None means all)."""
        if not names:
            return None
        unknown = [name for name in names if name not in self.project.episodes]
        if unknown:
            hints = "".join(did_you_mean(name, self.project.episodes) for name in unknown[:1])
            raise UserError(f"unknown episode {', '.join(map(repr, unknown))}{hints}")
        return list(dict.fromkeys(names))

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
