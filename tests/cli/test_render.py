"""`alpha render` end to end on the demo project: real ffmpeg, real files, real processes."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.commands.init import init
from pipeline.demo import synth_speech
from pipeline.media import probe
from tests.helpers import alpha_process, run_alpha

EPISODES = ["ep01-hello", "ep02-the-seam", "ep03-rain"]


@pytest.fixture(scope="session")
def pristine_demo(tmp_path_factory) -> Path:
    """The demo project on the `none` backend: these tests are about planning, storing and
    resuming, so they skip the preview model's per-frame work (tests/stages cover that)."""
    root = tmp_path_factory.mktemp("pristine") / "demo"
    init(root)
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: preview", "backend: none"))
    return root


@pytest.fixture
def demo(pristine_demo, tmp_path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(pristine_demo, root)
    return root


def lock(root: Path) -> dict:
    return json.loads((root / "alpha.lock").read_text())["episodes"]


def render_json(root: Path, *args: str) -> tuple[int, dict]:
    result = run_alpha("-C", str(root), "render", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def test_render_produces_published_mp4_and_records_versions(demo):
    code, report = render_json(demo)
    assert code == 0
    assert [(e["id"], e["ok"], e["version"]) for e in report["episodes"]] == [(e, True, 1) for e in EPISODES]
    entry = lock(demo)["ep02-the-seam"]
    video = demo / entry["stages"]["mux"]["outputs"]["video"]["path"]
    info = probe(video)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.sample_rate == 48000 and info.channels == 2
    assert abs(info.duration - probe(demo / "media/ep02-voice.wav").duration) < 0.05
    assert set(entry["stages"]["proof"]["outputs"]) == {"frame@3s", "frame@6s", "frame@3s:view", "frame@3s:thumb",
                                                        "frame@6s:view", "frame@6s:thumb"}
    assert entry["history"] == [{"version": 1, "at": entry["rendered_at"], "action": "render",
                                 "reasons": [{"kind": "new"}]}]
    # Nothing left stale, nothing half-written.
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 0
    assert not any((demo / ".alpha/tmp").iterdir())


def test_second_render_does_nothing_and_proof_change_reruns_only_proof(demo):
    render_json(demo)
    code, report = render_json(demo)
    assert code == 0 and report["episodes"] == []
    episode = demo / "episodes/ep03-rain.yaml"
    episode.write_text(episode.read_text() + "proof: {at: [1, 4]}\n")
    status = json.loads(run_alpha("-C", str(demo), "status", "--json").stdout)
    ep03 = next(e for e in status["episodes"] if e["id"] == "ep03-rain")
    assert ep03["reasons"] == [{"kind": "param", "field": "proof.at", "old": [5.0], "new": [1.0, 4.0]}]
    code, report = render_json(demo)
    [outcome] = report["episodes"]
    assert outcome["id"] == "ep03-rain" and outcome["ran"] == ["proof"] and outcome["version"] == 2
    history = lock(demo)["ep03-rain"]["history"]
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["reasons"] == ep03["reasons"]


def test_changed_input_rerenders_and_changes_the_video(demo):
    render_json(demo)
    before = lock(demo)["ep01-hello"]["stages"]["mux"]["outputs"]["video"]["hash"]
    synth_speech(demo / "media/ep01-voice.wav", seconds=6.5, seed=99)  # a new take
    code, report = render_json(demo)
    [outcome] = report["episodes"]
    assert outcome["ran"] == ["lipsync", "restore", "mux", "proof"] and outcome["reused"] == []
    assert lock(demo)["ep01-hello"]["stages"]["mux"]["outputs"]["video"]["hash"] != before


def test_identical_work_is_shared_between_episodes(demo):
    render_json(demo)
    # ep01 now asks for exactly what ep02's lipsync and restore already made: same image,
    # voice, settings.
    shutil.copyfile(demo / "media/ep02-voice.wav", demo / "media/ep01-voice.wav")
    code, report = render_json(demo)
    [outcome] = report["episodes"]
    assert outcome["reused"] == ["lipsync", "restore"] and outcome["ran"] == ["mux", "proof"]


def test_reverting_a_change_reuses_earlier_outputs(demo):
    render_json(demo)
    episode = demo / "episodes/ep02-the-seam.yaml"
    original = episode.read_text()
    episode.write_text(original.replace("gain_db: -20", "gain_db: -10"))
    render_json(demo, "ep02-the-seam")
    episode.write_text(original)
    code, report = render_json(demo, "ep02-the-seam")
    [outcome] = report["episodes"]
    assert outcome["ran"] == [] and outcome["reused"] == ["mux", "proof"]
    assert outcome["version"] == 3


def test_kill_loses_at_most_the_stage_in_flight(demo):
    # One CPU slot: the stages run one after another, so "ep01 finished" is certain below.
    process = alpha_process("render", "--jobs", "1", cwd=demo)
    try:
        # Kill -9 while ep02's lipsync stage is running: ep01 is finished by then.
        wait_for(lambda: list((demo / ".alpha/tmp").glob("ep02-the-seam-lipsync-*")))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert list(lock(demo)) == ["ep01-hello"]
    code, report = render_json(demo)
    assert code == 0
    outcomes = {e["id"]: e for e in report["episodes"]}
    assert "ep01-hello" not in outcomes  # finished episodes are never redone
    assert "source" in outcomes["ep02-the-seam"]["reused"]  # nor finished stages
    assert "lipsync" in outcomes["ep02-the-seam"]["ran"]
    assert set(lock(demo)) == set(EPISODES)
    assert not any((demo / ".alpha/tmp").iterdir())  # the killed run's leftovers are swept


def test_kill_during_restore_keeps_the_finished_lipsync_stage(demo):
    process = alpha_process("render", "ep02-the-seam", cwd=demo)
    try:
        wait_for(lambda: list((demo / ".alpha/tmp").glob("ep02-the-seam-restore-*")))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert not (demo / "alpha.lock").exists()
    code, report = render_json(demo, "ep02-the-seam")
    [outcome] = report["episodes"]
    assert code == 0 and outcome["reused"] == ["source", "lipsync"]  # recorded in the run cache at once
    assert outcome["ran"] == ["restore", "mux", "proof"]


def test_ctrl_c_stops_cleanly_with_no_orphan_ffmpeg(demo):
    process = alpha_process("render", cwd=demo)
    wait_for(lambda: list((demo / ".alpha/tmp").glob("ep01-hello-lipsync-*")))
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    orphans = subprocess.run(["pgrep", "-f", str(demo)], capture_output=True, text=True).stdout
    assert orphans.strip() == ""
    assert not (demo / "alpha.lock").exists()
    assert run_alpha("-C", str(demo), "render").exit_code == 0


def test_second_render_is_refused_while_one_runs(demo):
    process = alpha_process("render", cwd=demo)
    try:
        wait_for(lambda: list((demo / ".alpha/tmp").glob("ep01-hello-*")))
        result = run_alpha("-C", str(demo), "render")
        assert result.exit_code == 1
        assert "another alpha render is running on this project (pid" in result.stderr
    finally:
        process.wait(timeout=60)
    assert process.returncode == 0


def _fails_at_run_time(demo: Path, episode: str) -> None:
    """Bad media is refused before anything runs; a missing LatentSync fails in its stage."""
    path = demo / "episodes" / f"{episode}.yaml"
    path.write_text(path.read_text() + "lipsync: {backend: latentsync}\n")
    config = demo / "alpha.yaml"
    config.write_text(config.read_text().replace("root: ~/LatentSync", f"root: {demo / 'no-latentsync'}"))


def test_a_failing_episode_does_not_stop_the_others(demo):
    _fails_at_run_time(demo, "ep02-the-seam")
    result = run_alpha("-C", str(demo), "render", "--json")
    assert result.exit_code == 1
    outcomes = {e["id"]: e for e in json.loads(result.stdout)["episodes"]}
    assert outcomes["ep01-hello"]["ok"] and outcomes["ep03-rain"]["ok"]
    assert not outcomes["ep02-the-seam"]["ok"]
    assert "no-latentsync" in outcomes["ep02-the-seam"]["error"]
    assert (demo / outcomes["ep02-the-seam"]["log"]).is_file()
    assert "2 rendered, 1 failed" in result.stderr
    assert set(lock(demo)) == {"ep01-hello", "ep03-rain"}


def test_fail_fast_stops_after_the_first_failure(demo):
    _fails_at_run_time(demo, "ep01-hello")
    result = run_alpha("-C", str(demo), "render", "--fail-fast")
    assert result.exit_code == 1
    assert "0 rendered, 1 failed, 2 not attempted" in result.stderr


def test_modified_output_is_detected_and_rerendered(demo):
    render_json(demo)
    proof = demo / lock(demo)["ep01-hello"]["stages"]["proof"]["outputs"]["frame@2s"]["path"]
    proof.chmod(0o644)
    proof.write_bytes(b"not a png any more")
    status = json.loads(run_alpha("-C", str(demo), "status", "--json").stdout)
    ep01 = next(e for e in status["episodes"] if e["id"] == "ep01-hello")
    # Other outputs identical to the broken one (a still shot on the `none` backend) share its
    # store object and are named too.
    assert ("output", "proof.frame@2s") in {(r["kind"], r["field"]) for r in ep01["reasons"]}
    assert {r["kind"] for r in ep01["reasons"]} == {"output"}
    # One CPU slot, so that the episodes' proofs run one after another (with more slots they
    # would repair the shared object side by side, each re-running its proof).
    code, report = render_json(demo, "--jobs", "1")
    assert report["episodes"][0]["id"] == "ep01-hello" and report["episodes"][0]["ran"] == ["proof"]
    # Episodes whose frames look the same share that store object; the re-render repaired it
    # for them too, so they are reused rather than re-run.
    assert all(e["ran"] == [] for e in report["episodes"][1:])
    assert proof.read_bytes().startswith(b"\x89PNG")
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 0


def test_force_rerenders_everything(demo):
    render_json(demo)
    code, report = render_json(demo, "--force", "ep01-hello")
    [outcome] = report["episodes"]
    assert outcome["ran"] == ["source", "lipsync", "restore", "mux", "proof"]
    # The same bytes again: still v1, with no new history (tests/cli/test_forced_same_output.py).
    assert outcome["same_output"] and lock(demo)["ep01-hello"]["version"] == 1


def test_dry_run_is_status(demo):
    result = run_alpha("-C", str(demo), "render", "--dry-run", "--json")
    assert result.exit_code == 0
    assert [e["stale"] for e in json.loads(result.stdout)["episodes"]] == [True, True, True]
    assert not (demo / "alpha.lock").exists()


def test_unknown_episode_is_a_usage_error(demo):
    result = run_alpha("-C", str(demo), "render", "ep02-the-seem")
    assert result.exit_code == 2
    assert "unknown episode 'ep02-the-seem'; did you mean ep02-the-seam?" in result.stderr


def test_accept_records_cosmetic_edit_without_rendering(demo):
    render_json(demo)
    episode = demo / "episodes/ep01-hello.yaml"
    episode.write_text(episode.read_text().replace("at: [2, 5]", "at: [2, 4]"))
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 1
    result = run_alpha("-C", str(demo), "accept", "ep01-hello")
    assert result.exit_code == 0, result.stderr
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 0
    entry = lock(demo)["ep01-hello"]
    assert entry["version"] == 1
    assert entry["history"][-1]["action"] == "accept"
    assert entry["history"][-1]["reasons"][0]["field"] == "proof.at"
    assert "forced" not in entry["history"][-1]


def test_accept_refuses_what_was_never_rendered(demo):
    result = run_alpha("-C", str(demo), "accept", "ep01-hello")
    assert result.exit_code == 2
    assert "never rendered" in result.stderr
