"""`alpha build site --portable`: a site of real files that survives `cp -r` to any static host.

The default build links media into .alpha/store (cheap, and what `alpha deploy` dereferences);
a plain copy of it breaks. The portable build writes hard links (copies across file systems),
so a `cp -r` of it, served by Python's plain static file server, passes the link check and its
video plays in headless Chromium.
"""

from __future__ import annotations

import functools
import json
import http.server
import os
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from pipeline.site.linkcheck import check_folder
from tests.helpers import run_alpha
from tests.site.test_site_browser import CHROMIUM, WAIT_FOR_METADATA, browser  # noqa: F401 (fixture)


def serve(folder: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def media_files(site: Path) -> list[Path]:
    return [p for p in (site / "media").iterdir()] + list(site.glob("episodes/*/video.mp4"))


def test_portable_build_holds_real_files_hard_linked_to_the_store(demo):
    result = run_alpha("-C", str(demo), "build", "site", "--portable")
    assert result.exit_code == 0, result.stderr
    site = demo / "site"
    assert not [p for p in site.rglob("*") if p.is_symlink()]
    videos = list(site.glob("episodes/*/video.mp4"))
    assert videos
    for video in videos:
        stat = video.stat()
        assert stat.st_nlink >= 2  # the same inode as the store object: no bytes copied
        objects = [p for p in (demo / ".alpha/store").rglob("*.mp4") if p.stat().st_ino == stat.st_ino]
        assert objects
    # Back to links: the same build id (same content), symlinks again.
    before = (site / "build.json").read_text()
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    assert all(p.is_symlink() for p in media_files(site))
    assert json.loads(before)["build_id"] == json.loads((site / "build.json").read_text())["build_id"]
    assert json.loads(before)["portable"] is True


def test_the_setting_makes_portable_the_default(demo):
    config = demo / "alpha.yaml"
    config.write_text(config.read_text().replace("  output: site\n", "  output: site\n  portable: true\n"))
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    assert not [p for p in media_files(demo / "site") if p.is_symlink()]
    assert run_alpha("-C", str(demo), "build", "site", "--links").exit_code == 0
    assert all(p.is_symlink() for p in media_files(demo / "site"))


def test_a_copy_of_a_link_build_breaks_and_of_a_portable_build_works(demo, tmp_path):
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    subprocess.run(["cp", "-r", str(demo / "site"), str(tmp_path / "linked-copy")], check=True)
    broken = check_folder(tmp_path / "linked-copy", "https://alpha.example.org/")
    assert any(link.url.endswith(".mp4") for link in broken), broken

    assert run_alpha("-C", str(demo), "build", "site", "--portable").exit_code == 0
    copy = tmp_path / "portable-copy"
    subprocess.run(["cp", "-r", str(demo / "site"), str(copy)], check=True)
    assert check_folder(copy, "https://alpha.example.org/") == []
    server = serve(copy)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/episodes/ep02-the-seam/video.mp4"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == (demo / "site/episodes/ep02-the-seam/video.mp4").read_bytes()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")
def test_the_copy_plays_its_video_in_chromium(demo, tmp_path, browser):  # noqa: F811
    assert run_alpha("-C", str(demo), "build", "site", "--portable").exit_code == 0
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(demo / "site"), str(copy)], check=True)
    server = serve(copy)
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/episodes/ep02-the-seam/")
        played = browser.execute_async_script(WAIT_FOR_METADATA)
        assert played["ok"], played
        assert played["duration"] > 5 and played["width"] > 0
    finally:
        server.shutdown()
        server.server_close()
