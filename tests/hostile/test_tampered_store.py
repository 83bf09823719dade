"""A store object edited after its render is never published: build site and deploy verify
each published object against its recorded hash (through the stat-keyed hash cache)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import run_alpha


def _tamper_video(root: Path, episode: str = "ep01-hello") -> Path:
    entry = json.loads((root / "alpha.lock").read_text())["episodes"][episode]
    video = root / entry["stages"]["mux"]["outputs"]["video"]["path"]
    os.chmod(video, 0o644)
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the hash can tell
    video.write_bytes(bytes(data))
    return video


def test_build_site_refuses_a_tampered_store_object(demo):
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    before = sorted(p.name for p in (demo / "site").rglob("*"))
    video = _tamper_video(demo)
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 1, result.stderr
    assert "was modified after it was rendered" in result.stderr and video.name in result.stderr
    assert sorted(p.name for p in (demo / "site").rglob("*")) == before  # the old site stays whole


def test_deploy_refuses_a_tampered_store_object(demo):
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    _tamper_video(demo)
    result = run_alpha("-C", str(demo), "deploy", "--no-verify")
    assert result.exit_code == 1, result.stderr
    assert "modified after it was rendered" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (demo / ".alpha/www/current").exists()


def test_untouched_store_deploys(demo):
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    result = run_alpha("-C", str(demo), "deploy", "--no-verify")
    assert result.exit_code == 0, result.stderr
