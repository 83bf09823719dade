"""`alpha status`: which episodes are stale and exactly why."""

from __future__ import annotations

from pathlib import Path

from ..presentation import plans_json, print_plans
from ..workspace import open_workspace


def status(project_dir: Path | None, episodes: list[str], as_json: bool, check: bool,
           verbose: bool = False) -> int:
    workspace = open_workspace(project_dir)
    plans = workspace.plan(episodes)
    if as_json:
        print(plans_json(plans))
    else:
        print_plans(plans, verbose)
    return 1 if check and any(plan.stale for plan in plans) else 0
