"""The preview server over real HTTP: Range requests, symlinks, 404s, and live reload."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

import pytest

from pipeline.site.build import build_site
from pipeline.site.preview import Preview
from pipeline.site.server import SiteServer, parse_range, relevant
from tests.site.common import TODAY


@pytest.fixture(scope="module")
def server(built_demo):
    site = SiteServer(built_demo / "site", port=0, link_targets=(built_demo / ".alpha" / "store",))
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()


def request(server, path: str, method: str = "GET", headers: dict | None = None):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_a_symlink_out_of_the_site_and_the_store_is_never_followed(built_demo, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "index.html").write_text("<!doctype html><title>x</title>")
    (site_dir / "leak.txt").symlink_to(secret)
    (site_dir / "up").symlink_to(tmp_path, target_is_directory=True)
    store = built_demo / ".alpha" / "store"
    stored = next(path for path in store.rglob("*.mp4"))
    (site_dir / "video.mp4").symlink_to(stored)
    site = SiteServer(site_dir, port=0, link_targets=(store,))
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        for path in ("/leak.txt", "/up/secret.txt"):
            response, body = request(site, path)
            assert response.status == 404 and b"not for the web" not in body, path
        response, body = request(site, "/video.mp4")
        assert response.status == 200 and body == stored.read_bytes()
    finally:
        site.shutdown()
        site.server_close()


def test_range_requests_on_a_video_behind_a_symlink(server, built_demo):
    video = built_demo / "site" / "episodes" / "ep01-hello" / "video.mp4"
    assert video.is_symlink()
    data = video.read_bytes()
    size = len(data)
    response, body = request(server, "/episodes/ep01-hello/video.mp4")
    assert response.status == 200 and body == data
    assert response.getheader("Accept-Ranges") == "bytes"
    assert response.getheader("Content-Type") == "video/mp4"

    response, body = request(server, "/episodes/ep01-hello/video.mp4", headers={"Range": "bytes=0-1"})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 0-1/{size}"
    assert body == data[:2]

    response, body = request(server, "/episodes/ep01-hello/video.mp4", headers={"Range": "bytes=100-"})
    assert response.status == 206 and body == data[100:]
    response, body = request(server, "/episodes/ep01-hello/video.mp4", headers={"Range": "bytes=-500"})
    assert response.status == 206 and body == data[-500:]
    assert response.getheader("Content-Range") == f"bytes {size - 500}-{size - 1}/{size}"

    response, body = request(server, "/episodes/ep01-hello/video.mp4", headers={"Range": f"bytes={size}-"})
    assert response.status == 416 and response.getheader("Content-Range") == f"bytes */{size}"

    response, body = request(server, "/episodes/ep01-hello/video.mp4", headers={"Range": "bytes=0-1,5-6"})
    assert response.status == 200 and len(body) == size  # multi-range: the whole file

    response, body = request(server, "/episodes/ep01-hello/video.mp4", method="HEAD",
                             headers={"Range": "bytes=10-19"})
    assert response.status == 206 and response.getheader("Content-Length") == "10" and body == b""


def test_media_urls_are_cached_forever_pages_are_revalidated(server, built_demo):
    html = (built_demo / "site" / "index.html").read_text()
    media = "/media/" + html.split('src="media/', 1)[1].split('"', 1)[0]
    response, _ = request(server, media)
    assert response.status == 200
    assert "immutable" in response.getheader("Cache-Control")
    response, body = request(server, "/")
    assert response.status == 200 and response.getheader("Cache-Control") == "no-cache"
    assert b'<meta name="alpha-build"' in body
    assert b"EventSource" not in body  # no live reload without a reloader


def test_folders_redirect_missing_paths_get_the_404_page(server):
    response, _ = request(server, "/blog")
    assert response.status == 301 and response.getheader("Location") == "/blog/"
    response, body = request(server, "/no/such/page/")
    assert response.status == 404 and b"Not found" in body
    for sneaky in ["/../alpha.yaml", "/%2e%2e/alpha.yaml", "/.alpha/store/", "/media/../../alpha.yaml"]:
        response, body = request(server, sneaky)
        assert response.status == 404, sneaky
        assert b"episodes:" not in body


def test_parse_range():
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=5-100", 10) == (5, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=10-", 10) == "unsatisfiable"
    assert parse_range("bytes=5-2", 10) is None
    assert parse_range("items=0-1", 10) is None


def test_watch_filter(tmp_path):
    root = tmp_path
    assert relevant(root, str(root / "alpha.lock"))
    assert relevant(root, str(root / "alpha.yaml"))
    assert relevant(root, str(root / "posts" / "a.md"))
    assert relevant(root, str(root / "templates" / "static" / "style.css"))
    assert not relevant(root, str(root / "site" / "index.html"))
    assert not relevant(root, str(root / ".alpha" / "store" / "x.mp4"))
    assert not relevant(root, str(root / "posts" / ".a.md.swp"))
    assert not relevant(root, str(root / ".alpha.lock.123.tmp"))


class Events:
    """A reader of the live-reload event stream."""

    def __init__(self, url: str):
        host, port = url.split("//", 1)[1].strip("/").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.connection.request("GET", "/__alpha/events")
        self.response = self.connection.getresponse()
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def next(self, name: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        event, data = None, []
        while time.monotonic() < deadline:
            line = self.response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "":
                if event == name:
                    return "\n".join(data)
                event, data = None, []
        raise AssertionError(f"no {name!r} event in {timeout} s")

    def close(self) -> None:
        self.connection.close()


def test_serve_rebuilds_on_change_and_tells_open_pages(demo):
    build_site(demo, today=TODAY)
    published = (demo / "site" / "build.json").read_text()
    preview = Preview(demo, port=0).start(watch=True)
    events = Events(preview.url)
    try:
        first = events.next("build")
        assert len(first) == 32
        html = _get(preview.url + "blog/welcome/")
        assert "EventSource" in html and first in html

        post = demo / "posts" / "2026-10-03-welcome.md"
        post.write_text(post.read_text().replace("Welcome to the series", "Welcome, live"))
        second = events.next("build")
        assert second != first
        assert "Welcome, live" in _get(preview.url + "blog/welcome/")

        post.write_text(post.read_text() + "\n{{< video ep01-nope >}}\n")
        failure = events.next("failed")
        assert "posts/2026-10-03-welcome.md" in failure and "ep01-nope" in failure
        assert "Welcome, live" in _get(preview.url + "blog/welcome/")  # the last good build stays

        post.write_text(post.read_text().replace("{{< video ep01-nope >}}", ""))
        assert events.next("build") == second  # the same content gives the same build id
        # The preview lives in .alpha/preview: the published folder is never touched.
        assert (demo / "site" / "build.json").read_text() == published
    finally:
        events.close()
        preview.stop()


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_preview_refuses_a_port_in_use(demo):
    preview = Preview(demo, port=0)
    try:
        from pipeline.errors import UserError

        with pytest.raises(UserError, match="pass another --port"):
            Preview(demo, port=preview.server.server_address[1])
    finally:
        preview.server.server_close()


def test_serve_command_exits_cleanly_on_interrupt(demo, monkeypatch):
    from pipeline.commands import serve as command
    from pipeline.site.preview import Preview as RealPreview

    started = {}

    def interrupted(self):
        started["url"] = self.url
        assert Path(self.output / "index.html").is_file()
        raise KeyboardInterrupt

    monkeypatch.setattr(RealPreview, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        command.serve(demo, port=0)
    assert started["url"].startswith("http://127.0.0.1:")
