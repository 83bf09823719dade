"""The warm LatentSync worker on the stand-in checkout: one process and one model load for a
batch, a clean state and a log per episode, and one crashing episode survived.

LatentSync is the labelled stand-in under ./standin (no GPU, no weights here); the runner,
its serve loop and alpha's process management are real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import Failure
from pipeline.stages.lipsync.latentsync import ModelWorkers, run_latentsync
from tests.helpers import alpha_process, run_alpha, write, write_voice
from tests.latentsync.conftest import copy_checkout, make_job, settings_for
from tests.latentsync.test_backend import tree_digest


def worker_pid(log: str) -> int:
    """The pid of the LatentSync process that rendered an episode, from its log."""
    match = re.search(r"alpha runner \(pid (\d+)\)|warm LatentSync worker, pid (\d+)", log)
    assert match, log
    return int(match.group(1) or match.group(2))


def render_batch(tmp_path: Path, checkout: Path, media, voices: dict[str, Path], checkpoints=None):
    """Episodes one after another through one ModelWorkers, as a render batch does."""
    workers = ModelWorkers(tmp_path / "workers")
    outcomes = {}
    try:
        for episode, voice in voices.items():
            job = make_job(tmp_path / episode, media["clip"], voice, steps=2,
                           checkpoint=(checkpoints or {}).get(episode, "1.5"))
            job.episode_id, job.workers = episode, workers
            try:
                result = run_latentsync(job, settings_for(checkout), tmp_path)
                outcomes[episode] = result
            except Failure as exc:
                outcomes[episode] = exc
    finally:
        workers.close_all()
    logs = {episode: (tmp_path / episode / "latentsync" / "latentsync.log").read_text() for episode in voices}
    return outcomes, workers.loads, logs


@pytest.fixture
def voices(tmp_path, media) -> dict[str, Path]:
    folder = tmp_path / "voices"
    folder.mkdir()
    return {"ep01": write_voice(folder / "one.wav", seconds=1.2), "ep02": write_voice(folder / "two.wav", seconds=0.8),
            "ep03": write_voice(folder / "three.wav", seconds=1.0)}


def test_one_process_one_model_load_serves_every_episode(tmp_path, checkout, media, voices):
    before = tree_digest(checkout)
    outcomes, loads, logs = render_batch(tmp_path, checkout, media, voices)
    assert [(load.backend, load.checkpoint, load.node, load.episodes) for load in loads] == [
        ("latentsync", "1.5", "local", ["ep01", "ep02", "ep03"])]
    assert len({worker_pid(log) for log in logs.values()}) == 1
    # Each episode has its own log with only its own run in it, and its own outputs.
    assert logs["ep01"].count("Stand-in UNet loaded") == 1
    assert "Stand-in UNet loaded" not in logs["ep02"] + logs["ep03"]
    for episode, seconds in (("ep01", 1.2), ("ep02", 0.8), ("ep03", 1.0)):
        assert str(voices[episode]) in logs[episode]
        assert all(str(other) not in logs[episode] for name, other in voices.items() if name != episode)
        telemetry = json.loads(outcomes[episode].outputs["telemetry"].read_text())
        assert telemetry["frames"]["written"] == round(seconds * 25)
        # A clean state per episode: the clip's faceless frames counted afresh each time.
        assert telemetry["faces"]["missed"] == 3
    assert tree_digest(checkout) == before


def test_a_crashing_episode_fails_alone_and_the_worker_is_restarted(tmp_path, checkout, media, voices,
                                                                  monkeypatch):
    monkeypatch.setenv("STANDIN_CRASH_ON_AUDIO", voices["ep02"].name)  # ep02 dies mid-run
    outcomes, loads, logs = render_batch(tmp_path, checkout, media, voices)
    assert isinstance(outcomes["ep02"], Failure)
    assert "killed by signal 9" in str(outcomes["ep02"]) and "simulated crash" in str(outcomes["ep02"])
    assert not list((tmp_path / "ep02").glob("crops.*"))
    assert all(outcomes[ep].outputs["crops"].is_file() for ep in ("ep01", "ep03"))
    # The crash cost the worker; the next episode got a fresh one, which loaded the models again.
    assert [load.episodes for load in loads] == [["ep01"], ["ep03"]]
    assert worker_pid(logs["ep01"]) == worker_pid(logs["ep02"]) != worker_pid(logs["ep03"])


def test_an_error_raised_in_one_episode_fails_it_alone(tmp_path, checkout, media, voices, monkeypatch):
    # An exception inside LatentSync (as CUDA's out-of-memory error is), not a dead process.
    monkeypatch.setenv("STANDIN_RAISE_ON_AUDIO", voices["ep02"].name)
    outcomes, loads, logs = render_batch(tmp_path, checkout, media, voices)
    assert isinstance(outcomes["ep02"], Failure)
    assert "exit status 1" in str(outcomes["ep02"]) and "simulated out of memory" in str(outcomes["ep02"])
    assert "Traceback" in logs["ep02"]
    assert all(outcomes[ep].outputs["crops"].is_file() for ep in ("ep01", "ep03"))
    assert [load.episodes for load in loads] == [["ep01"], ["ep03"]]
    assert worker_pid(logs["ep02"]) != worker_pid(logs["ep03"])


def test_another_checkpoint_reloads_in_the_same_process(tmp_path, checkout, media, voices):
    outcomes, loads, logs = render_batch(tmp_path, checkout, media, voices,
                                         checkpoints={"ep02": "1.6", "ep03": "1.6"})
    assert [(load.checkpoint, load.episodes) for load in loads] == [("1.5", ["ep01"]), ("1.6", ["ep02", "ep03"])]
    assert len({worker_pid(log) for log in logs.values()}) == 1
    assert json.loads(outcomes["ep03"].outputs["telemetry"].read_text())["frames"]["written"] == 25


@pytest.fixture
def show(tmp_path, media) -> Path:
    """A latentsync project of two episodes on a copy of the stand-in."""
    root = tmp_path / "show"
    checkout = copy_checkout(tmp_path / "LatentSync")
    (root / "media").mkdir(parents=True)
    shutil.copyfile(media["clip"], root / "media/clip.mp4")
    write_voice(root / "media/one.wav", seconds=1.2)
    write_voice(root / "media/two.wav", seconds=1.1)
    write(root / "alpha.yaml", f"""
        latentsync:
          root: {checkout}
          python: {sys.executable}
        defaults:
          lipsync: {{backend: latentsync, checkpoint: "1.5", steps: 2}}
          video: {{width: 192, height: 144}}
          proof: {{at: [0.2]}}
          quality: {{faces_missed_max: 0.5}}
    """)
    for number, voice in ((1, "one"), (2, "two")):
        write(root / f"episodes/ep0{number}.yaml", f"""
            title: Episode {number}
            date: 2026-01-0{number}
            source: {{video: media/clip.mp4}}
            audio: {{voice: media/{voice}.wav}}
        """)
    return root


def test_render_batch_reports_model_loads(show):
    result = run_alpha("-C", str(show), "render", "--json", "--jobs", "2")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    # One load served both (in the order their input clips were ready).
    [load] = report["model_loads"]
    assert sorted(load["episodes"]) == ["ep01", "ep02"]
    assert {key: load[key] for key in ("backend", "checkpoint", "node")} == {
        "backend": "latentsync", "checkpoint": "1.5", "node": "local"}
    for episode in report["episodes"]:
        lipsync = next(stage for stage in episode["stages"] if stage["name"] == "lipsync")
        assert lipsync["how"] == "ran" and lipsync["node"] == "local"
    assert "models loaded 1× for 2 episode runs (latentsync 1.5 on local)" in result.stderr
    assert "[gpu0] ep01 · lipsync: ran" in result.stderr
    # The batch's worker is gone with the batch, and so are its files.
    assert not any((show / ".alpha/tmp").iterdir())


def test_a_killed_render_leaves_no_worker_behind(show):
    process = alpha_process("render", cwd=show)
    try:
        log = None
        deadline = time.monotonic() + 120
        while log is None and time.monotonic() < deadline:
            # The first episode on the worker, whichever the scheduler sent first, names it.
            for path in (show / ".alpha/tmp").glob("ep0*-lipsync-*/latentsync/latentsync.log"):
                if re.search(r"alpha runner \(pid \d+\)", path.read_text()):
                    log = path.read_text()
            time.sleep(0.1)
        assert log is not None, "the worker never started"
        process.send_signal(signal.SIGKILL)  # no cleanup of alpha's runs: the worker must notice
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    pid = worker_pid(log)
    # Well before the episode could end by itself: the worker polls for its parent every second.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    assert not alive(pid), f"worker {pid} outlived the render"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for a parent that will never reap it (init will).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False
