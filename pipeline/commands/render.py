"""`alpha render`: render the stale episodes (or those named), resumably."""

from __future__ import annotations

import json
from pathlib import Path

from ..console import console
from ..errors import ManifestError, UserError
from ..execute import Executor, LocalBackend
from ..plan.media_check import MediaChecks
from ..presentation import RenderProgress, model_loads_line, plans_json, print_plans
from ..project.schema import check_host_port
from ..runlock import exclusive
from ..store import Store
from ..workspace import open_workspace


def render(project_dir: Path | None, episodes: list[str], render_all: bool, dry_run: bool,
           force: bool, as_json: bool, keep_going: bool, wait: bool, jobs: int | None = None,
           cluster: str | None = None, local: bool = False) -> int:
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
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
        workspace.reload_lock()
        store = Store(project.state_dir)
        swept = store.sweep_temporaries()
        if swept:
            console.print(f"removed {swept} temporary file(s) left by an interrupted render")
        plans = workspace.plan(None if render_all else episodes, force=force)
        todo = [plan for plan in plans if plan.stale]
        checks = MediaChecks(project, workspace.hashes)
        problems = checks.problems([plan.id for plan in todo])
        if problems:
            raise ManifestError(problems)
        # The model's time grows with the output's length: the longest episodes go to the GPU
        # first, so the batch ends on a short one's CPU stages (and GPUs end together).
        work = checks.voice_seconds([plan.id for plan in todo])
        if not todo:
            console.print("nothing to render: every episode is up to date")
        address = cluster or (None if local or project.settings.cluster is None
                              else project.settings.cluster.address)
        backend = LocalBackend(project.root, project.settings, store.tmp, jobs=jobs)
        if address is not None and todo:
            backend = ray_backend(address, project, backend, todo)
        with RenderProgress(len(todo)) as progress:
            executor = Executor(project, workspace.lock, workspace.hashes, progress, backend,
                                force=force, keep_going=keep_going, gpu_work=work)
            outcomes = executor.render(todo)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    cluster_report = getattr(backend, "summary", None)
    if as_json:
        report = {"episodes": [outcome.as_json() for outcome in outcomes],
                  "model_loads": [load.as_json() for load in executor.model_loads]}
        if cluster_report is not None:
            report["cluster"] = cluster_report()
        print(json.dumps(report, indent=2))
    if cluster_report is not None and cluster_report()["retries"]:
        console.print(f"{len(cluster_report()['retries'])} job(s) retried after a host was lost")
    if todo:
        loads = model_loads_line(executor.model_loads)
        if loads:
            console.print(loads)
        console.print(f"{len(outcomes) - len(failed)} rendered, {len(failed)} failed"
                      + (f", {len(todo) - len(outcomes)} not attempted" if len(outcomes) < len(todo) else ""))
    return 1 if failed else 0


def ray_backend(address: str, project, local: LocalBackend, todo):
    """The Ray cluster at `address` for the GPU jobs; CPU jobs stay with `local` (Ray is
    imported only here, when a cluster is used)."""
    from ..cluster.backend import RayBackend

    console.print(f"joining the Ray cluster at {address}")
    backend = RayBackend(address, project, local,
                         events=lambda message: console.print(f"  {message}", markup=False, soft_wrap=True))
    try:
        backend.start_workers(todo)
    except BaseException:
        backend.close()
        raise
    return backend
