"""`alpha deploy` through the real CLI, once pipeline/cli.py wires it."""

from __future__ import annotations

import json

import pytest
import typer.main

from pipeline.cli import app
from tests.helpers import run_alpha


def wired() -> bool:
    return any(getattr(c, "name", None) == "deploy" or
               (c.callback is not None and c.callback.__name__ == "deploy")
               for c in app.registered_commands)


pytestmark = pytest.mark.skipif(not wired(), reason="`alpha deploy` is not wired in pipeline/cli.py yet")


def test_alpha_deploy_dry_run_json_and_help(project):
    project.build("build-1")
    result = run_alpha("-C", str(project.root), "deploy", "--target", "www", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["action"] == "dry-run"
    assert not project.www.exists()
    help_text = run_alpha("deploy", "--help").stdout
    for option in ("--target", "--dry-run", "--rollback", "--json", "--rollback-on-failure", "--no-verify"):
        assert option in help_text
    assert typer.main.get_command(app)  # the app still builds
