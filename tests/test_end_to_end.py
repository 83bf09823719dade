"""The whole pipeline as the user runs it: init, render, build the site, deploy it behind a
real nginx, re-render one episode and publish again.

Real everything: ffmpeg, the store, the site builder, the deploy tool, nginx on loopback.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from pipeline.demo import synth_speech
from tests.deploy.servers import Nginx, missing
from tests.helpers import run_alpha


def fetch(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def alpha_ok(root: Path, *args: str) -> str:
    result = run_alpha("-C", str(root), *args)
    assert result.exit_code == 0, f"alpha {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture
def live(tmp_path):
    if missing("nginx", "rsync"):
        pytest.skip(f"needs {', '.join(missing('nginx', 'rsync'))} (installed by .ci/run)")
    root = tmp_path / "show"
    alpha_ok(tmp_path, "init", str(root))
    server = Nginx(tmp_path / "www" / "current", tmp_path / "nginx")
    config = root / "alpha.yaml"
    # The `none` backend keeps this test about publishing; the site and stage tests cover the rest.
    config.write_text(config.read_text().replace("backend: preview", "backend: none").replace(
        "local: {kind: local, path: .alpha/www}",
        f'local: {{kind: local, path: {tmp_path / "www"}, url: "{server.url}"}}'))
    yield root, server
    server.stop()


def test_render_build_deploy_then_republish_one_episode(live):
    root, server = live
    alpha_ok(root, "render")
    alpha_ok(root, "build", "site")
    first = json.loads(alpha_ok(root, "deploy", "--json"))
    assert first["ok"] and first["verification"] is not None

    status, catalog = fetch(server.url)
    build_id = json.loads((root / "site/build.json").read_text())["build_id"]
    assert status == 200 and f'content="{build_id}"'.encode() in catalog
    old_page = fetch(server.url + "episodes/ep01-hello/")[1].decode()
    old_media = set(re.findall(r'media/[0-9a-f]{16}\.mp4', old_page))
    other_media = set(re.findall(r'media/[0-9a-f]{16}\.mp4', fetch(server.url + "episodes/ep03-rain/")[1].decode()))
    assert old_media and other_media
    status, head = fetch(server.url + "episodes/ep01-hello/video.mp4", {"Range": "bytes=0-99"})
    assert status == 206 and len(head) == 100

    synth_speech(root / "media/ep01-voice.wav", seconds=6.5, seed=42)  # a new take
    alpha_ok(root, "render")
    alpha_ok(root, "build", "site")
    second = json.loads(alpha_ok(root, "deploy", "--json"))
    assert second["ok"] and second["previous"] == first["release"]

    lock = json.loads((root / "alpha.lock").read_text())["episodes"]["ep01-hello"]
    video = root / lock["stages"]["mux"]["outputs"]["video"]["path"]
    # Incremental: about the one new video (and its proof frames) plus small pages, not the site.
    proofs = sum((root / o["path"]).stat().st_size for o in lock["stages"]["proof"]["outputs"].values())
    assert second["transfer"]["file_bytes"] < video.stat().st_size + proofs + 300_000
    assert lock["version"] == 2

    new_page = fetch(server.url + "episodes/ep01-hello/")[1].decode()
    new_media = set(re.findall(r'media/[0-9a-f]{16}\.mp4', new_page))
    assert new_media and not new_media & old_media  # the page's video URL changed with its content
    # The stable link for outside sites serves the new render.
    assert fetch(server.url + "episodes/ep01-hello/video.mp4")[1] == video.read_bytes()
    # Other episodes keep their URLs, so caches keep serving what is still right.
    assert set(re.findall(r'media/[0-9a-f]{16}\.mp4', fetch(server.url + "episodes/ep03-rain/")[1].decode())) == other_media
