"""`alpha doctor`: what this machine can and cannot render, and how to fix what is missing."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ..console import answer
from ..doctor import FAIL, INFO, OK, WARN, Check, run_checks
from ..errors import UserError
from ..project.load import find_root
from ..project.schema import check_host_port
from ..workspace import open_workspace

_STYLE = {OK: "[green]ok[/]", FAIL: "[red]missing[/]", WARN: "[yellow]warning[/]", INFO: "[dim]info[/]"}


def doctor(project_dir: Path | None, cluster: str | None = None) -> int:
    """Print the checks; 0 when everything the project's episodes need is here, 1 otherwise.

    Outside a project (none found from the current folder) only the machine is checked. With
    `cluster`, the same checks run on every host of that Ray cluster too.
    """
    if cluster is not None:
        try:
            cluster = check_host_port(cluster)
        except ValueError as exc:
            raise UserError(f"--cluster: {exc}") from None
    project = None
    if project_dir is not None or _inside_project():
        project = open_workspace(project_dir).project
    checks = run_checks(project)
    print_checks(checks, project.root if project is not None else None)
    failed = any(check.failed for check in checks)
    if cluster is not None:
        from ..cluster.doctor import check_cluster

        for host in check_cluster(cluster, project):
            print_checks(host.checks, None, title=f"alpha doctor on {host.name} of {cluster}")
            failed = failed or any(check.failed for check in host.checks)
    return 1 if failed else 0


def _inside_project() -> bool:
    try:
        find_root(Path.cwd())
    except UserError:
        return False
    return True


def print_checks(checks: list[Check], root: Path | None, title: str | None = None) -> None:
    if title is None:
        title = f"alpha doctor: {root}" if root is not None else "alpha doctor (no project found: machine only)"
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("details")
    for check in checks:
        status = _STYLE.get(check.status, check.status)
        if not check.required and check.status in (FAIL, WARN):
            status += " [dim](not needed)[/]"
        table.add_row(escape(check.name), status, escape(check.detail))
    answer.print(table)
    # The actionable lines again, unwrapped, so they survive narrow terminals, logs and grep.
    todo = [check for check in checks if check.status in (FAIL, WARN) and (check.required or check.fix)]
    for check in todo:
        mark = "[red]✗[/]" if check.failed else "[yellow]![/]"
        need = "" if check.required else " (not needed by any episode)"
        answer.print(f"{mark} {escape(check.name)}{need}: {escape(check.detail)}", soft_wrap=True)
        if check.fix:
            answer.print(f"    fix: {escape(check.fix)}", soft_wrap=True)
    failed = [check.name for check in checks if check.failed]
    if failed:
        answer.print(f"[red]not ready:[/] {escape(', '.join(failed))}", soft_wrap=True)
    else:
        answer.print("[green]ready:[/] everything the project's episodes need is here", soft_wrap=True)
