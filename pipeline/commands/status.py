"""`alpha status`: which episodes are stale and exactly why."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape

from ..console import console
from ..plan.hashing import short
from ..plan.plan import EpisodePlan, Reason
from ..project.model import Project
from ..workspace import open_workspace


def status(project_dir: Path | None, episodes: list[str], as_json: bool, check: bool,
           verbose: bool = False) -> int:
    workspace = open_workspace(project_dir)
    plans = workspace.plan(episodes)
    if as_json:
        print(plans_json(plans))
    else:
        print_plans(plans, verbose)
        if verbose:
            print_misfits(workspace.project, [plan.id for plan in plans])
    return 1 if check and any(plan.stale for plan in plans) else 0


def print_misfits(project: Project, episode_ids: list[str]) -> None:
    """Named fixes that cannot apply to an episode (Flux on a video source), and why."""
    for episode_id in episode_ids:
        for fix, why in project.fixes_not_fitting(project.episodes[episode_id].settings):
            console.print(f"    [dim]{episode_id}: fix {fix.id} does not apply:[/] {escape(why)}", soft_wrap=True)


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
                console.print(f"[green]✓[/] {plan.id}  up to date (v{plan.version})")
            continue
        console.print(f"[yellow]●[/] {plan.id}  stale: v{plan.version} → v{plan.version + 1}")
        for reason in plan.reasons:
            console.print(f"    [dim]{reason.kind:<10}[/] {escape(describe(reason))}")
        runs = [s.stage.name for s in plan.stages if s.run]
        console.print(f"    [dim]{'runs':<10}[/] {', '.join(runs)}")
    console.print(f"{len(stale)} of {len(plans)} episode{'s' if len(plans) != 1 else ''} stale"
                  + ("" if verbose or len(stale) == len(plans) else " (-v lists the others)"))
