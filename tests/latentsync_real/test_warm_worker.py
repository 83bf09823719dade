"""The warm worker on the real LatentSync code: episodes through one model load, and a worker
killed in the middle of one episode costs that episode only.

The real `alpha render` with one GPU slot (a CPU here) renders four short episodes, the
longest first (ep04, then ep03). While ep03 is in LatentSync, the test SIGKILLs the worker
process, as the kernel's out-of-memory killer would. Expected: ep04 served by the first load,
ep03 failed with the signal named, ep01 and ep02 rendered by a fresh worker with its own load;
a rerun renders ep03 alone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.latentsync_real.conftest import RENDER_TIMEOUT_S, RealEpisode

# Voices of different lengths: identical episodes would share one lip-sync run.
EPISODES = [RealEpisode(f"ep0{k}", seconds=0.36 + 0.04 * k) for k in range(1, 5)]
WORKER = re.compile(rb"warm LatentSync worker, pid (\d+): episode (\d+)")


def kill_worker_during(root: Path, episode: str, process: subprocess.Popen) -> int:
    """Wait until `episode` is in the warm worker, then SIGKILL that worker; its pid."""
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        for log in (root / ".alpha" / "tmp").glob(f"{episode}-lipsync-*/latentsync/latentsync.log"):
            match = WORKER.search(log.read_bytes())
            if match:
                pid = int(match.group(1))
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.2)
    raise AssertionError(f"{episode} never reached the warm worker")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_episodes_share_a_load_and_a_killed_worker_fails_one_episode(tmp_path, latentsync_env, make_project):
    root = make_project(tmp_path / "show", EPISODES)
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "-C", str(root), "render", "--json", "--jobs", "1"],
                               env=latentsync_env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    try:
        killed = kill_worker_during(root, "ep03", process)
        stdout, stderr = process.communicate(timeout=RENDER_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr.decode()[-3000:]
    report = json.loads(stdout)
    outcomes = {episode["id"]: episode for episode in report["episodes"]}
    assert [outcomes[f"ep0{k}"]["ok"] for k in range(1, 5)] == [True, True, False, True]
    assert "killed by signal 9" in outcomes["ep03"]["error"]
    loads = report["model_loads"]
    assert [(load["backend"], load["checkpoint"], sorted(load["episodes"])) for load in loads] == [
        ("latentsync", "1.5", ["ep04"]), ("latentsync", "1.5", ["ep01", "ep02"])]
    assert "Traceback" not in stderr.decode()
    assert not alive(killed)

    again = latentsync_env.alpha(root, "render", "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads(again.stdout)
    assert [episode["id"] for episode in rerun["episodes"]] == ["ep03"]
    assert [load["episodes"] for load in rerun["model_loads"]] == [["ep03"]]
