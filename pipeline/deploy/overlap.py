"""A local deploy target must stay apart from what the project owns.

A deploy prunes releases and collects unreferenced objects in the target's own `store/`; a
target over the project, its state folder or its site would delete render outputs, sources
or the site being published.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..project.load import input_fields
from ..project.model import LOCK_NAME, Project

# What a deploy writes into its target: a folder holding any of these is a target already.
TARGET_MARKS = ("releases", "manifests", ".deploy.lock")
SOURCE_NAMES = ("alpha.yaml", LOCK_NAME, "episodes", "posts", "templates")


def owned_paths(project: Project) -> list[tuple[str, Path]]:
    """(what, path) for every place of the project a deploy must not touch."""
    owned = [("the project", project.root), ("the state folder", project.state_dir), ("the site", project.site_dir)]
    owned += [(name, project.root / name) for name in SOURCE_NAMES]
    for resolved in project.episodes.values():
        for field, (_, relative) in input_fields(resolved.settings).items():
            owned.append((f"{resolved.id} {field}", project.path(relative)))
    return [(what, path.resolve()) for what, path in owned]


def check_target_apart(project: Project, name: str, path: Path) -> None:
    """Refuse a local target that holds, or lies inside, what the project owns (exit 2)."""
    target = path.resolve()
    for what, owned in owned_paths(project):
        inside_ok = what == "the project" or what == "the state folder"  # checked below
        if owned == target or owned.is_relative_to(target) or (not inside_ok and target.is_relative_to(owned)):
            raise UserError(f"deploy target {name!r} ({path}) overlaps {what} ({owned}): a deploy prunes "
                            "and collects files there; deploy to a folder of its own")
    if target.is_relative_to(project.root.resolve()) and target.is_dir() and not _is_target(target):
        if any(target.iterdir()):
            raise UserError(f"deploy target {name!r} ({path}) is a folder of the project that holds other "
                            "files (not a deploy target's); deploy to a new or empty folder")


def _is_target(folder: Path) -> bool:
    return any((folder / mark).exists() for mark in TARGET_MARKS)
