"""`alpha render` with `lipsync.backend: latentsync`, end to end through the CLI.

LatentSync itself is the labelled stand-in under ./standin (no GPU, no weights here); alpha's
side (planning, the runner in the checkout's process, the store, the lock) is real.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import run_alpha, write
from tests.latentsync.conftest import copy_checkout, drop_flags


@pytest.fixture
def project(tmp_path, media) -> Path:
    root = tmp_path / "show"
    checkout = copy_checkout(tmp_path / "LatentSync")
    (root / "media").mkdir(parents=True)
    for name in ("clip", "voice"):
        (root / "media" / media[name].name).write_bytes(media[name].read_bytes())
    write(root / "alpha.yaml", f"""
        latentsync:
          root: {checkout}
          python: {sys.executable}
        defaults:
          lipsync: {{backend: latentsync, checkpoint: "1.5", steps: 3}}
          video: {{width: 192, height: 144}}
          proof: {{at: [0.2]}}
          quality: {{faces_missed_max: 0.5, seam_max: null}}  # the stand-in drifts its colours a lot
    """)
    write(root / "episodes/ep01.yaml", f"""
        title: One
        date: 2026-01-01
        source: {{video: media/{media['clip'].name}}}
        audio: {{voice: media/{media['voice'].name}}}
    """)
    return root


def lock(root: Path) -> dict:
    return json.loads((root / "alpha.lock").read_text())["episodes"]["ep01"]


def test_render_status_and_checkpoint_key(project):
    result = run_alpha("-C", str(project), "render", "--json")
    assert result.exit_code == 0, result.stderr
    entry = lock(project)
    lipsync = entry["stages"]["lipsync"]
    assert lipsync["params"]["lipsync"]["config"] == "configs/unet/stage2.yaml"
    assert lipsync["checkpoint"]["hash"] is not None  # the checkpoint's content is part of the key
    assert entry["quality"]["faces_missed"] == 3  # the stand-in clip's faceless frames, counted
    assert {"frame@0.2s", "face@0.2s", "compare@0.2s"} <= set(entry["stages"]["proof"]["outputs"])
    assert run_alpha("-C", str(project), "status", "--check").exit_code == 0

    # A paste-back change re-runs the CPU stages from the stored crops, never LatentSync.
    episode = project / "episodes/ep01.yaml"
    # Stock-like feathering shows its seam, so this episode's seam gate is off (as the demo's ep01).
    episode.write_text(episode.read_text() + "restore: {blend: alpha, blur: 4}\nquality: {seam_max: null}\n")
    status = json.loads(run_alpha("-C", str(project), "status", "--json").stdout)["episodes"][0]
    assert [s["name"] for s in status["stages"] if s["run"]] == ["restore", "mux", "proof"]
    result = run_alpha("-C", str(project), "render", "--json")
    assert result.exit_code == 0, result.stderr
    [outcome] = json.loads(result.stdout)["episodes"]
    assert outcome["ran"] == ["restore", "mux", "proof"] and "lipsync" not in outcome["ran"]
    assert lock(project)["stages"]["restore"]["metrics"]["blend"] == "alpha"
    assert lock(project)["stages"]["lipsync"] == lipsync

    checkpoint = Path(lipsync["checkpoint"]["path"])
    checkpoint.write_bytes(checkpoint.read_bytes() + b"retrained")
    status = json.loads(run_alpha("-C", str(project), "status", "--json").stdout)["episodes"][0]
    assert [r["kind"] for r in status["reasons"]] == ["checkpoint"]


def test_a_crash_mid_run_fails_the_episode_and_the_rerun_resumes(project, monkeypatch):
    monkeypatch.setenv("STANDIN_CRASH_AT_CHUNK", "1")
    result = run_alpha("-C", str(project), "render", "--json")
    assert result.exit_code == 1
    [outcome] = json.loads(result.stdout)["episodes"]
    assert "simulated crash at chunk 1" in outcome["error"]
    assert outcome["ran"] == ["source"]  # the finished stage is kept in the run cache
    assert not (project / "alpha.lock").exists()

    monkeypatch.delenv("STANDIN_CRASH_AT_CHUNK")
    result = run_alpha("-C", str(project), "render", "--json")
    assert result.exit_code == 0, result.stderr
    [outcome] = json.loads(result.stdout)["episodes"]
    assert outcome["reused"] == ["source"] and outcome["ran"] == ["lipsync", "restore", "mux", "proof"]


def test_a_checkout_too_old_for_the_flags_is_refused_before_latentsync_starts(project):
    checkout = project.parent / "LatentSync"
    drop_flags(checkout, "--temp_dir")
    result = run_alpha("-C", str(project), "render", "--json")
    assert result.exit_code == 1
    [outcome] = json.loads(result.stdout)["episodes"]
    assert "does not accept --temp_dir" in outcome["error"] and "a229c39" in outcome["error"]
    assert outcome["ran"] == ["source"]


def test_the_input_clip_is_made_on_a_cpu_slot_and_only_the_model_takes_the_gpu(project):
    result = run_alpha("-C", str(project), "render")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    prepared = next(k for k, line in enumerate(lines) if "ep01 · lipsync:prepare: ran" in line)
    ran = next(k for k, line in enumerate(lines) if "ep01 · lipsync: ran" in line)
    assert "[cpu" in lines[prepared] and "[gpu0]" in lines[ran] and prepared < ran
    lipsync = lock(project)["stages"]["lipsync"]
    # One stage in the lock: the prepared clip among its outputs, the prepare's metrics in its own.
    assert {"original", "crops", "track"} <= set(lipsync["outputs"])
    assert lipsync["metrics"]["duration"] == pytest.approx(1.2, abs=0.01)
    assert lipsync["outputs"]["original"]["path"].startswith(".alpha/store/")
