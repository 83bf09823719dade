"""The consoles, as git and DVC split them: a query's answer (status, doctor, explain) goes to
stdout, where `| less` and `| grep` find it; progress, logs and warnings go to stderr, so that
stdout carries only the answer (or only JSON with `--json`)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, highlight=False)
answer = Console(highlight=False, soft_wrap=True)  # stdout: the answer to a query command


def info(message: str) -> None:
    console.print(escape(message), soft_wrap=True)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def error(message: str) -> None:
    # Unwrapped, so that file:line locations stay whole for editors and grep.
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
