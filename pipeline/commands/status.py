"""`alpha status`: which episodes are stale and exactly why."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape

from ..console import answer
from ..project import provenance
from ..project.load import episode_layers
from ..plan.hashing import short
from ..plan.plan import EpisodePlan, Reason
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
        print_plans(plans, verbose)
    return 1 if check and any(plan.stale for plan in plans) else 0


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
        shown = min(max(len(_value(setting.value)) for setting in settings), 24)
        for setting in settings:
            origin = setting.origin
            answer.print(f"  {setting.key:<{width}}  {escape(_value(setting.value)):<{shown}}  "
                         f"[dim]{escape(origin.source)} {escape(origin.file)}:{origin.line}[/]")
            for hidden in setting.overridden:
                # The surprise worth a word: a changed default that a named fix shadows.
                shadowed = origin.source.startswith("fix ") and hidden.value != setting.value
                note = " [yellow](has no effect here)[/]" if shadowed else ""
                answer.print(f"  {'':<{width}}    overrides {escape(hidden.source)} {escape(_value(hidden.value))} "
                             f"at {escape(hidden.file)}:{hidden.line}{note}")
    return 0


def _relative(root: Path, path: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def plans_json(plans: list[EpisodePlan]) -> str:
    return json.dumps({"episodes": [plan.as_json() for plan in plans]}, indent=2)


def describe(reason: Reason) -> str:
    """One line a person can act on: what changed, old -> new."""
    if reason.kind == "new":
        return "never rendered"
    if reason.kind == "param":
        return f"{reason.field}: {_value(reason.old)} → {_value(reason.new)}"
    if reason.kind == "input":
        if reason.old is None:
            return f"{reason.field}: added {reason.path} ({short(reason.new)})"
        if reason.new is None:
            return f"{reason.field}: removed {reason.path} (was {short(reason.old)})"
        return f"{reason.field}: {reason.path} changed {short(reason.old)} → {short(reason.new)}"
    if reason.kind == "checkpoint":
        return f"checkpoint {reason.path}: {short(reason.old) or 'missing'} → {short(reason.new) or 'missing'}"
    if reason.kind == "code":
        return f"stage {reason.field} implementation: v{reason.old} → v{reason.new}"
    if reason.kind == "output":
        state = "missing" if reason.new is None else f"modified ({short(reason.old)} → {short(reason.new)})"
        return f"output {reason.field} {state}: {reason.path}"
    return f"{reason.kind} {reason.field}"


def _value(value) -> str:
    return "(unset)" if value is None else json.dumps(value)


def print_plans(plans: list[EpisodePlan], verbose: bool = False) -> None:
    """Stale episodes with their reasons; up-to-date ones only when asked (a big project has many)."""
    stale = [plan for plan in plans if plan.stale]
    for plan in plans:
        if not plan.stale:
            if verbose:
                answer.print(f"[green]✓[/] {plan.id}  up to date (v{plan.version})")
            continue
        answer.print(f"[yellow]●[/] {plan.id}  stale: v{plan.version} → v{plan.version + 1}")
        for reason in plan.reasons:
            answer.print(f"    [dim]{reason.kind:<10}[/] {escape(describe(reason))}")
        runs = [s.stage.name for s in plan.stages if s.run]
        answer.print(f"    [dim]{'runs':<10}[/] {', '.join(runs)}")
    answer.print(f"{len(stale)} of {len(plans)} episode{'s' if len(plans) != 1 else ''} stale"
                  + ("" if verbose or len(stale) == len(plans) else " (-v lists the others)"))
