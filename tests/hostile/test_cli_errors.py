"""No traceback reaches the user: bad option values, wrong-kind paths, unexpected errors."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from pipeline.crash import describe_os_error, describe_unexpected
from tests.helpers import alpha_process, run_alpha


def test_unexpected_error_is_one_line_with_a_kept_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHA_CRASH_DIR", str(tmp_path / "crashes"))

    def broken():
        raise ValueError("the widget\nspans lines")

    with pytest.raises(ValueError) as caught:
        broken()
    message = describe_unexpected(caught.value)
    assert message.startswith("unexpected ValueError: the widget (traceback kept in ")
    [log] = (tmp_path / "crashes").iterdir()
    assert str(log) in message
    text = log.read_text()
    assert "Traceback" in text and "in broken" in text and "spans lines" in text


def test_full_disk_names_the_folder():
    exc = OSError(errno.ENOSPC, "No space left on device", "/srv/project/.alpha/tmp/x.mp4")
    assert describe_os_error(exc) == "no space left on device (writing in /srv/project/.alpha/tmp)"


def test_state_folder_that_is_a_file_is_a_message_not_a_traceback(tmp_path):
    project = tmp_path / "p"
    assert run_alpha("init", str(project)).exit_code == 0
    (project / ".alpha").write_text("not a folder")
    child = alpha_process("status", cwd=project)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert ".alpha" in stderr and "error:" in stderr


def test_init_into_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = run_alpha("init", str(target))
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.stderr
    assert target.read_text() == "x"


@pytest.mark.parametrize("port", ["99999", "0", "-5", "http"])
def test_serve_port_out_of_range_is_a_usage_error(tmp_path, port):
    result = run_alpha("serve", "--port", port)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "--port" in result.stderr


@pytest.mark.parametrize("at", ["nan", "inf", "-1"])
def test_proof_times_must_be_finite_seconds(rendered_demo, at):
    result = run_alpha("-C", str(rendered_demo), "proof", "ep01-hello", "--at", at)
    assert result.exit_code == 2, result.stderr
    assert "--at takes seconds" in result.stderr


def test_proof_out_that_is_a_file_is_refused(rendered_demo):
    out = rendered_demo / "a-file"
    out.write_text("keep me")
    result = run_alpha("-C", str(rendered_demo), "proof", "ep01-hello", "--out", str(out))
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.stderr
    assert out.read_text() == "keep me"
