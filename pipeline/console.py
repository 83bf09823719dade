"""The one console for humans: everything goes to stderr, so stdout can carry JSON."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, highlight=False)


def info(message: str) -> None:
    console.print(escape(message), soft_wrap=True)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def error(message: str) -> None:
    # Unwrapped, so that file:line locations stay whole for editors and grep.
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
