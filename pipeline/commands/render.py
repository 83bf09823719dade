"""`alpha render`: render the stale episodes (or those named), resumably."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..console import console
from ..errors import UserError
from ..project.schema import check_host_port
from ..execute import EpisodeOutcome, Executor
from ..plan.plan import EpisodePlan
from ..runlock import exclusive
from ..store import Store
from ..workspace import open_workspace
from .status import plans_json, print_plans


class ProgressReporter:
    """Episodes, stages and frames as rich progress bars on stderr; plain lines when not a tty."""

    def __init__(self, progress: Progress, episodes: int):
        self.progress = progress
        self.episodes = progress.add_task("episodes", total=episodes)
        self.frames = progress.add_task("", total=None, visible=False)

    def episode_started(self, plan: EpisodePlan) -> None:
        self.progress.update(self.episodes, description=f"episode {plan.id}")

    def stage_started(self, episode_id: str, stage: str) -> None:
        self.progress.reset(self.frames, total=None, description=f"  {episode_id} · {stage}", visible=True)

    def stage_progress(self, done: int, total: int) -> None:
        self.progress.update(self.frames, completed=done, total=total or None)

    def stage_finished(self, episode_id: str, stage: str, how: str, seconds: float) -> None:
        self.progress.update(self.frames, visible=False)
        console.print(f"  {episode_id} · {stage}: {how}" + (f" in {seconds:.1f} s" if how == "ran" else ""))

    def episode_finished(self, outcome: EpisodeOutcome) -> None:
        self.progress.advance(self.episodes)
        if outcome.ok:
            console.print(f"[green]✓[/] {outcome.id} v{outcome.version} ({outcome.seconds:.1f} s)")
        else:
            console.print(f"[red]✗[/] {outcome.id} failed: {escape(outcome.error or '')}"
                          + (f"\n    details: {outcome.log}" if outcome.log else ""))


def render(project_dir: Path | None, episodes: list[str], render_all: bool, dry_run: bool,
           force: bool, as_json: bool, keep_going: bool, wait: bool,
           cluster: str | None = None, local: bool = False) -> int:
    if cluster is not None and local:
        raise UserError("--cluster and --local contradict each other: give one")
    if cluster is not None:
        try:
            cluster = check_host_port(cluster)
        except ValueError as exc:
            raise UserError(f"--cluster: {exc}") from None
    workspace = open_workspace(project_dir)
    if dry_run:
        plans = workspace.plan(episodes, force=force)
        print(plans_json(plans)) if as_json else print_plans(plans)
        return 0
    project = workspace.project
    with exclusive(project.state_dir / "render.lock", "alpha render", wait=wait):
        swept = Store(project.state_dir).sweep_temporaries()
        if swept:
            console.print(f"removed {swept} temporary file(s) left by an interrupted render")
        plans = workspace.plan(None if render_all else episodes, force=force)
        todo = [plan for plan in plans if plan.stale]
        if not todo:
            console.print("nothing to render: every episode is up to date")
        cluster_report = None
        address = cluster or (None if local or project.settings.cluster is None
                              else project.settings.cluster.address)
        on_cluster = None
        if address is not None and todo:
            on_cluster = connect_cluster(address, project.root)
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True,
                          disable=not console.is_terminal) as progress:
                reporter = ProgressReporter(progress, len(todo))
                if on_cluster is None:
                    executor = Executor(project, workspace.lock, workspace.hashes, reporter, force=force,
                                        keep_going=keep_going)
                else:
                    executor = cluster_executor(project, workspace.lock, workspace.hashes, reporter,
                                                on_cluster, todo, force=force, keep_going=keep_going)
                outcomes = executor.render(todo)
        finally:
            if on_cluster is not None:
                cluster_report = on_cluster.summary()
                on_cluster.close()
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if as_json:
        report = {"episodes": [outcome.as_json() for outcome in outcomes]}
        if cluster_report is not None:
            report["cluster"] = cluster_report
        print(json.dumps(report, indent=2))
    if cluster_report is not None and cluster_report["retries"]:
        console.print(f"{len(cluster_report['retries'])} job(s) retried after a host was lost")
    if todo:
        console.print(f"{len(outcomes) - len(failed)} rendered, {len(failed)} failed"
                      + (f", {len(todo) - len(outcomes)} not attempted" if len(outcomes) < len(todo) else ""))
    return 1 if failed else 0


def connect_cluster(address: str, root: Path):
    """Join the Ray cluster at `address` (Ray is imported only here, when a cluster is used)."""
    from ..cluster.backend import Cluster

    console.print(f"joining the Ray cluster at {address}")
    cluster = Cluster(address, root)
    cluster.events = lambda message: console.print(f"  {escape(message)}", soft_wrap=True)
    return cluster


def cluster_executor(project, lock, hashes, reporter, cluster, todo, force: bool, keep_going: bool):
    from ..cluster.executor import ClusterExecutor

    executor = ClusterExecutor(project, lock, hashes, reporter, cluster=cluster, force=force,
                               keep_going=keep_going)
    kinds = executor.slot_kinds(todo)
    if kinds:
        cluster.start_workers(kinds)
        for worker in cluster.workers:
            console.print(f"  worker on {worker.node}" + (f" ({worker.kind.gpus} GPU)" if worker.kind.gpus else ""))
    return executor
