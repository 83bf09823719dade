"""Output where people pipe it: a query's answer on stdout, progress and logs on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import run_alpha


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("streams") / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    return root


def piped(root, *args: str) -> subprocess.CompletedProcess:
    """`alpha ARGS | cat`: the real process, its stdout a pipe, as `| less` or `| grep` has it."""
    return subprocess.run([sys.executable, "-m", "pipeline", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def test_status_answers_on_stdout(demo):
    done = piped(demo, "status")
    assert done.returncode == 0
    assert "ep02-the-seam  stale: v0 → v1" in done.stdout
    assert "3 of 3 episodes stale" in done.stdout
    assert done.stderr == ""


def test_explain_and_doctor_answer_on_stdout(demo):
    done = piped(demo, "status", "ep01", "--explain")
    assert "restore.blend" in done.stdout and done.stderr == ""
    done = piped(demo, "doctor")
    assert "ffmpeg" in done.stdout and ("ready:" in done.stdout or "not ready:" in done.stdout)
    assert "Traceback" not in done.stderr


def test_json_is_alone_on_stdout_and_errors_go_to_stderr(demo):
    done = piped(demo, "status", "--json")
    assert [episode["id"] for episode in json.loads(done.stdout)["episodes"]] == [
        "ep01-hello", "ep02-the-seam", "ep03-rain"]
    done = piped(demo, "status", "nope")
    assert done.returncode == 2 and done.stdout == "" and "unknown episode 'nope'" in done.stderr
