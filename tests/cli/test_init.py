"""`alpha init`: a project that renders at once, and the repo's own demo is that project."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.commands.init import scaffold_files
from pipeline.media import probe
from tests.helpers import run_alpha

REPO = Path(__file__).resolve().parents[2]


def test_repo_demo_is_what_init_writes():
    # The repo's demo manifests, posts and templates are links into the scaffold itself.
    for name, data in scaffold_files().items():
        assert (REPO / name).read_bytes() == data, f"{name} differs from pipeline/demo/project/{name}"
    assert (REPO / "media/portrait.jpg").read_bytes() == (REPO / "pipeline/demo/assets/portrait.jpg").read_bytes()


def test_init_writes_a_valid_project_with_sample_media(tmp_path):
    result = run_alpha("init", str(tmp_path / "show"))
    assert result.exit_code == 0, result.stderr
    root = tmp_path / "show"
    status = json.loads(run_alpha("-C", str(root), "status", "--json").stdout)
    episodes = status["episodes"]
    assert len(episodes) >= 3 and all(e["stale"] and e["version"] == 0 for e in episodes)
    for episode in episodes:
        voice = root / episode["inputs"]["audio.voice"]["path"]
        assert 6.0 <= probe(voice).duration <= 10.0
    assert len(list((root / "posts").glob("*.md"))) >= 2
    assert probe(root / "media/portrait.jpg").width == 512


def test_init_overwrites_nothing(tmp_path):
    (tmp_path / "alpha.yaml").write_text("name: mine\n")
    result = run_alpha("init", str(tmp_path))
    assert result.exit_code == 2
    assert "overwrites nothing" in result.stderr
    assert (tmp_path / "alpha.yaml").read_text() == "name: mine\n"
    assert not (tmp_path / "media").exists()
