"""`alpha status`: which episodes are stale and exactly why."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape

from ..console import answer
from ..presentation import plans_json, print_plans, show_value
from ..plan.plan import EpisodePlan
from ..plan.reuse import cached_stages
from ..project import provenance
from ..project.load import episode_layers
from ..project.model import Project
from ..store import RunCache
from ..workspace import Workspace, open_workspace


def status(project_dir: Path | None, episodes: list[str], as_json: bool, check: bool,
           verbose: bool = False, explain: bool = False) -> int:
    workspace = open_workspace(project_dir)
    if explain:
        return explain_settings(workspace, episodes, as_json)
    plans = workspace.plan(episodes)
    if as_json:
        print(plans_json(plans))
    else:
        print_plans(plans, verbose, cached=cache_hits(workspace, plans))
        if verbose:
            print_misfits(workspace.project, [plan.id for plan in plans])
    return 1 if check and any(plan.stale for plan in plans) else 0


def cache_hits(workspace: Workspace, plans: list[EpisodePlan]) -> dict[str, set[str]]:
    """Per stale episode, the stale stages a render would take from the run cache."""
    runs = RunCache(workspace.project.state_dir)
    hits = {plan.id: cached_stages(plan, (workspace.lock.entry(plan.id) or {}).get("stages", {}), runs,
                                   workspace.hashes)
            for plan in plans if plan.stale}
    workspace.hashes.save()
    return hits


def print_misfits(project: Project, episode_ids: list[str]) -> None:
    """Named fixes that cannot apply to an episode (Flux on a video source), and why."""
    for episode_id in episode_ids:
        for fix, why in project.fixes_not_fitting(project.episodes[episode_id].settings):
            answer.print(f"    [dim]{episode_id}: fix {fix.id} does not apply:[/] {escape(why)}", soft_wrap=True)


def explain_settings(workspace: Workspace, episodes: list[str], as_json: bool) -> int:
    """`--explain`: every resolved setting of the episodes with its source and file:line."""
    project = workspace.project
    explained = []
    for episode_id in workspace.select(episodes) or sorted(project.episodes):
        resolved = project.episodes[episode_id]
        layers = episode_layers(project.root, resolved.file)
        explained.append((resolved, provenance.explain(resolved.settings, layers)))
    if as_json:
        print(json.dumps({"episodes": [{"id": resolved.id, "file": _relative(project.root, resolved.file),
                                        "settings": [setting.as_json() for setting in settings]}
                                       for resolved, settings in explained]}, indent=2))
        return 0
    for resolved, settings in explained:
        answer.print(f"[bold]{resolved.id}[/]  ({escape(_relative(project.root, resolved.file))})")
        width = max(len(setting.key) for setting in settings)
        shown = min(max(len(show_value(setting.value)) for setting in settings), 24)
        for setting in settings:
            origin = setting.origin
            answer.print(f"  {setting.key:<{width}}  {escape(show_value(setting.value)):<{shown}}  "
                         f"[dim]{escape(origin.source)} {escape(origin.file)}:{origin.line}[/]")
            for hidden in setting.overridden:
                # The surprise worth a word: a changed default that a named fix shadows.
                shadowed = origin.source.startswith("fix ") and hidden.value != setting.value
                note = " [yellow](has no effect here)[/]" if shadowed else ""
                answer.print(f"  {'':<{width}}    overrides {escape(hidden.source)} {escape(show_value(hidden.value))} "
                             f"at {escape(hidden.file)}:{hidden.line}{note}")
    return 0


def _relative(root: Path, path: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
