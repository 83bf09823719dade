"""Errors the CLI turns into a message and an exit code instead of a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UserError(Exception):
    """Bad usage or bad input: printed without a traceback, exit code 2."""

    exit_code = 2


class Failure(Exception):
    """Work that was attempted and failed (a render, a deploy): exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest, located by file, line and key path."""

    file: Path
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ManifestError(UserError):
    """Every problem found in the manifests, reported at once."""

    def __init__(self, problems: list[Problem]):
        # A bad default inherited by many episodes is one problem, at one place.
        self.problems = sorted(set(problems), key=lambda p: (str(p.file), p.line, p.key))
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the manifests:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))
