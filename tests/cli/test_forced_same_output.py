"""A forced re-render that makes the same bytes is not a new public version."""

from __future__ import annotations

import json

from pipeline.demo import synth_speech
from tests.helpers import run_alpha


def render(root, *args):
    result = run_alpha("-C", str(root), "render", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return {episode["id"]: episode for episode in json.loads(result.stdout)["episodes"]}, result.stderr


def test_force_with_identical_output_keeps_the_version_and_the_lock(tmp_path):
    root = tmp_path / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: preview", "backend: none"))
    render(root)
    lock_before = (root / "alpha.lock").read_text()

    outcomes, said = render(root, "ep01", "--force")
    outcome = outcomes["ep01-hello"]
    assert outcome["ran"] == ["source", "lipsync", "restore", "mux", "proof"]  # it really ran again
    assert outcome["version"] == 1 and outcome["same_output"] is True
    assert "same output as before: still this version" in said
    assert "no seam figures (nothing pasted back) · proofs: .alpha/proofs/ep01-hello/v1/" in said
    assert (root / ".alpha/proofs/ep01-hello/v1/frame@2s.png").is_file()
    entry = json.loads((root / "alpha.lock").read_text())["episodes"]["ep01-hello"]
    before = json.loads(lock_before)["episodes"]["ep01-hello"]
    assert entry["version"] == 1 and entry["history"] == before["history"]
    assert entry["rendered_at"] == before["rendered_at"]
    # Timings live in the report: the re-render (as on another machine) changed no line of the lock.
    assert (root / "alpha.lock").read_text() == lock_before
    assert not any("seconds" in stage or "seconds" in stage.get("metrics", {})
                   for stage in entry["stages"].values())
    report = json.loads((root / entry["report"]).read_text())
    assert report["stages"]["mux"]["seconds"] > 0 and "seconds" in report["stages"]["restore"]["metrics"]
    assert run_alpha("-C", str(root), "build", "site").exit_code == 0
    page = (root / "site/episodes/ep01-hello/index.html").read_text()
    assert '<span class="version">v1</span>' in page and "<strong>v2</strong>" not in page

    # New bytes are a new version.
    synth_speech(root / "media/ep01-voice.wav", seconds=6.5, seed=7)
    outcomes, _ = render(root, "ep01")
    assert outcomes["ep01-hello"]["version"] == 2 and outcomes["ep01-hello"]["same_output"] is False
