"""alpha.lock is only ever changed on fresh data, and `accept` records only cosmetic edits."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import alpha_process, run_alpha


def _lock(root: Path) -> dict:
    return json.loads((root / "alpha.lock").read_text())["episodes"]


def _edit(root: Path, episode: str, old: str, new: str) -> None:
    path = root / "episodes" / f"{episode}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _holds_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def test_waiting_render_plans_from_what_the_render_before_it_recorded(demo):
    for episode in ("ep01-hello", "ep03-rain"):
        path = demo / "episodes" / f"{episode}.yaml"
        path.write_text(path.read_text() + "video: {crf: 30}\n")
    before = _lock(demo)["ep01-hello"]["version"]
    render_lock = demo / ".alpha" / "render.lock"
    fd = os.open(render_lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # the test plays a render that is running
    try:
        first = alpha_process("render", "ep01-hello", "--wait", cwd=demo)
        second = alpha_process("render", "--wait", cwd=demo)
        deadline = time.monotonic() + 120
        # Both have read alpha.lock and are waiting for the render lock.
        while not (_holds_open(first.pid, render_lock) and _holds_open(second.pid, render_lock)):
            assert time.monotonic() < deadline, "the renders never reached the render lock"
            time.sleep(0.05)
    finally:
        os.close(fd)
    for child in (first, second):
        _, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, stderr
    episodes = _lock(demo)
    # ep01 was rendered once: whichever render came second found it up to date.
    assert episodes["ep01-hello"]["version"] == before + 1
    assert [h["action"] for h in episodes["ep01-hello"]["history"]].count("render") == before + 1
    assert episodes["ep03-rain"]["version"] == before + 1
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 0


@pytest.mark.parametrize("old,new,field", [
    ("voice: media/ep01-voice.wav", "voice: media/ep02-voice.wav", "audio.voice"),
    ("title: Hello, world", "title: Hello, world\nvideo: {crf: 30}", "video.crf"),
    ("gain_db: -24", "gain_db: -23", "audio.foley[0].gain_db"),
])
def test_accept_refuses_a_change_that_alters_the_video(demo, old, new, field):
    _edit(demo, "ep01-hello", old, new)
    lock_before = (demo / "alpha.lock").read_bytes()
    result = run_alpha("-C", str(demo), "accept", "ep01-hello")
    assert result.exit_code == 2, result.stderr
    assert "not a cosmetic edit" in result.stderr and field in result.stderr
    assert "--force" in result.stderr
    assert (demo / "alpha.lock").read_bytes() == lock_before
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 1


def test_voice_file_edited_in_place_is_not_cosmetic(demo):
    voice = demo / "media/ep01-voice.wav"
    voice.write_bytes(voice.read_bytes()[:-4000])
    result = run_alpha("-C", str(demo), "accept", "ep01-hello")
    assert result.exit_code == 2 and "audio.voice" in result.stderr


def test_forced_accept_is_recorded_as_forced(demo):
    _edit(demo, "ep01-hello", "title: Hello, world", "title: Hello, world\nvideo: {crf: 30}")
    result = run_alpha("-C", str(demo), "accept", "ep01-hello", "--force")
    assert result.exit_code == 0, result.stderr
    last = _lock(demo)["ep01-hello"]["history"][-1]
    assert last["action"] == "accept" and last["forced"] is True
    assert {reason["field"] for reason in last["reasons"]} >= {"video.crf"}
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 0


def test_proof_times_and_titles_are_cosmetic(demo):
    _edit(demo, "ep01-hello", "at: [2, 5]", "at: [1, 5]")
    _edit(demo, "ep01-hello", "title: Hello, world", "title: Hello, everyone")
    result = run_alpha("-C", str(demo), "accept", "ep01-hello")
    assert result.exit_code == 0, result.stderr
    assert "forced" not in _lock(demo)["ep01-hello"]["history"][-1]
