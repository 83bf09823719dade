"""`alpha deploy` for the tests, as a function and as a process (`python -m tests.deploy.shim`).

It calls `pipeline.commands.deploy.deploy` with the options `alpha deploy` has, and turns
errors into exit codes the way `pipeline.cli._run` does, so the tests do not depend on the
CLI wiring (tests/deploy/test_cli.py checks that separately).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path


def parse(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="alpha deploy")
    parser.add_argument("-C", "--project", type=Path)
    parser.add_argument("--target")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--rollback", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--rollback-on-failure", action="store_true")
    args = parser.parse_args(argv)
    return dict(project_dir=args.project, target=args.target, dry_run=args.dry_run,
                rollback=args.rollback, as_json=args.json, verify=not args.no_verify,
                rollback_on_failure=args.rollback_on_failure)


def main(argv: list[str]) -> int:
    from pipeline.commands.deploy import deploy
    from pipeline.console import error
    from pipeline.errors import Failure, UserError

    try:
        return deploy(**parse(argv))
    except (UserError, Failure) as exc:
        error(str(exc))
        return exc.exit_code


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run(*argv: str) -> Result:
    """In-process, with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Result(code, out.getvalue(), err.getvalue())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
