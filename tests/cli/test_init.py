"""`alpha init`: a project that renders at once, and the repo's own demo is that project."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pipeline.commands.init import GITIGNORE, scaffold_files
from pipeline.media import probe
from tests.helpers import run_alpha

REPO = Path(__file__).resolve().parents[2]


def test_repo_demo_is_what_init_writes_in_real_files():
    # Real files, not links into package data that an edit of the demo would silently change.
    for name in ("alpha.yaml", "episodes", "posts", "media"):
        assert not (REPO / name).is_symlink(), f"{name} is a symlink"
    for folder in ("episodes", "posts", "media"):
        assert not [p for p in (REPO / folder).rglob("*") if p.is_symlink()], folder
    for name, data in scaffold_files().items():
        if name == ".gitignore" or name.startswith("templates/"):
            continue  # the repo's own .gitignore has more; templates are the site theme's
        assert (REPO / name).read_bytes() == data, f"{name} differs from pipeline/demo/project/{name}"
    assert (REPO / "media/portrait.jpg").read_bytes() == (REPO / "pipeline/demo/assets/portrait.jpg").read_bytes()
    ignored = set((REPO / ".gitignore").read_text().split())
    assert set(line for line in GITIGNORE.splitlines() if not line.startswith("#")) <= ignored


def test_init_writes_a_gitignore_for_what_alpha_makes(tmp_path):
    root = tmp_path / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    for made in (".alpha/store/ab/x.mp4", "site/index.html", ".site.spare/index.html", "proofs/ep01/a.png"):
        (root / made).parent.mkdir(parents=True, exist_ok=True)
        (root / made).write_text("made by alpha")
    (root / "alpha.lock").write_text("{}")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    listed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
                            check=True, capture_output=True, text=True).stdout
    paths = {line[3:] for line in listed.splitlines()}
    assert {"alpha.yaml", "alpha.lock", ".gitignore", "media/portrait.jpg", "episodes/ep01-hello.yaml"} <= paths
    assert not [p for p in paths if p.startswith((".alpha/", "site/", ".site.spare/", "proofs/"))], paths


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
