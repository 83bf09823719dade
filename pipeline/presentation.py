"""What `alpha status` and `alpha render` print: plans, reasons and render progress.

One module for both commands, so that a stale episode reads the same whether `status` lists it
or `render --dry-run` does, and so that no command imports another.
"""

from __future__ import annotations

import json
import threading
import time

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from .console import answer, console
from .plan.hashing import short
from .plan.plan import EpisodePlan, Reason

def plans_json(plans: list[EpisodePlan]) -> str:
    return json.dumps({"episodes": [plan.as_json() for plan in plans]}, indent=2)


def describe(reason: Reason) -> str:
    """One line a person can act on: what changed, old -> new."""
    if reason.kind == "new":
        return "never rendered"
    if reason.kind == "param":
        return f"{reason.field}: {show_value(reason.old)} → {show_value(reason.new)}"
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


def show_value(value) -> str:
    return "(unset)" if value is None else json.dumps(value)


def print_plans(plans: list[EpisodePlan], verbose: bool = False,
                cached: dict[str, set[str]] | None = None) -> None:
    """Stale episodes with their reasons; up-to-date ones only when asked (a big project has many).

    `cached` names the stale stages whose outputs the run cache holds: they are not said to run."""
    stale = [plan for plan in plans if plan.stale]
    for plan in plans:
        if not plan.stale:
            if verbose:
                answer.print(f"[green]✓[/] {plan.id}  up to date (v{plan.version})")
            continue
        answer.print(f"[yellow]●[/] {plan.id}  stale: v{plan.version} → v{plan.version + 1}")
        for reason in plan.reasons:
            answer.print(f"    [dim]{reason.kind:<10}[/] {escape(describe(reason))}")
        hits = (cached or {}).get(plan.id, set())
        runs = [s.stage.name for s in plan.stages if s.run and s.stage.name not in hits]
        answer.print(f"    [dim]{'runs':<10}[/] {', '.join(runs) or 'nothing: the stale stages are all cached'}")
        if hits:
            kept = [s.stage.name for s in plan.stages if s.stage.name in hits]
            answer.print(f"    [dim]{'cached':<10}[/] {', '.join(kept)} (outputs of an earlier render, reused)")
    answer.print(f"{len(stale)} of {len(plans)} episode{'s' if len(plans) != 1 else ''} stale"
                  + ("" if verbose or len(stale) == len(plans) else " (-v lists the others)"))


# -- render progress -----------------------------------------------------------------------

# Without a terminal a long stage still says how far it is, this often.
PLAIN_EVERY_S = 5.0


def slot_label(slot: str | None) -> str:
    return f"[{slot}] " if slot else ""


class RenderProgress:
    """What `alpha render` shows while it runs, on stderr.

    On a terminal: one live bar per busy slot ("gpu0 ep02 · lipsync") above a bar of episodes.
    Without one: a line per finished stage and, for a stage still running, a line every
    PLAIN_EVERY_S seconds with its frame count, so a log shows a long render is alive.
    The controller calls every method but `stage_progress`, which may come from any thread.
    """

    def __init__(self, episodes: int):
        self.live = console.is_terminal
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=True,
                                 disable=not self.live)
        self.episodes = self.progress.add_task("episodes", total=episodes)
        self._bars: dict[str, TaskID] = {}                   # job id -> bar
        self._running: dict[str, list] = {}                  # job id -> [label, done, total, started, said]
        self._lock = threading.Lock()

    def __enter__(self) -> "RenderProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def stage_started(self, job, slot: str) -> None:
        label = f"{slot} {job.episode_id} · {job.name}"
        now = time.monotonic()
        with self._lock:
            self._running[job.id] = [label, 0, 0, now, now]
        if self.live:
            self._bars[job.id] = self.progress.add_task(f"  {escape(label)}", total=None)

    def stage_progress(self, job, done: int, total: int) -> None:
        with self._lock:
            state = self._running.get(job.id)
            if state is not None:
                state[1], state[2] = done, total
        bar = self._bars.get(job.id)
        if bar is not None:
            self.progress.update(bar, completed=done, total=total or None)

    def stage_finished(self, episode_id: str, stage: str, how: str, seconds: float,
                       slot: str | None) -> None:
        job_id = f"{episode_id}/{stage}"
        with self._lock:
            self._running.pop(job_id, None)
        bar = self._bars.pop(job_id, None)
        if bar is not None:
            self.progress.remove_task(bar)
        console.print(f"  {escape(slot_label(slot))}{episode_id} · {stage}: {how}"
                      + (f" in {seconds:.1f} s" if how == "ran" else ""))

    def episode_finished(self, outcome) -> None:
        self.progress.advance(self.episodes)
        if outcome.ok:
            same = " [dim]same output as before: still this version[/]" if outcome.same_output else ""
            console.print(f"[green]✓[/] {outcome.id} v{outcome.version} ({outcome.seconds:.1f} s){same}")
        else:
            console.print(f"[red]✗[/] {outcome.id} failed: {escape(outcome.error or '')}"
                          + (f"\n    details: {outcome.log}" if outcome.log else ""))
        if outcome.summary:
            console.print(f"    {escape(outcome.summary)}", soft_wrap=True)

    def tick(self) -> None:
        if self.live:
            return
        now = time.monotonic()
        with self._lock:
            due = [state for state in self._running.values() if now - state[4] >= PLAIN_EVERY_S]
            for state in due:
                state[4] = now
            lines = [self._plain(state, now) for state in due]
        for line in lines:
            console.print(line)

    @staticmethod
    def _plain(state: list, now: float) -> str:
        label, done, total, started, _ = state
        count = f"{done}/{total} frames ({100 * done // total}%)" if total else f"{done} frames" if done else "running"
        return f"  {escape(label)}: {count}, {now - started:.0f} s"


def model_loads_line(loads) -> str | None:
    """'models loaded 1× for 6 episodes (latentsync 1.6 on local)' — None when nothing loaded."""
    if not loads:
        return None
    served = sum(len(load.episodes) for load in loads)
    which = ", ".join(sorted({f"{load.backend} {load.checkpoint} on {load.node}" for load in loads}))
    return f"models loaded {len(loads)}× for {served} episode run{'s' if served != 1 else ''} ({which})"
