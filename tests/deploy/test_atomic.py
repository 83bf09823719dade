"""The switch is atomic: a deploy killed anywhere leaves `current` on a complete release, and a
client fetching all through a deploy only ever sees one complete release at a time."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from .conftest import assert_complete

# Each point is where a real deploy can die: after N files of an upload pass, between passes,
# after the manifest, after the rename into releases/, right after the switch, before the GC.
KILL_POINTS = ["locked", "store:1", "tree:2", "html", "manifest", "finalized", "switched", "pruned"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_deploy_killed_anywhere_leaves_a_complete_release_live_and_the_next_deploy_succeeds(project, point):
    project.configure(keep=2)
    v1 = project.build("build-1")
    assert project.deploy()[0] == 0
    # Two new videos, so that the store pass has files to die between.
    v2 = project.build("build-2", seeds={"ep01": 11, "ep02": 12, "ep03": 3})
    killed = project.spawn(hook=f"{point}=kill")
    killed.communicate(timeout=60)
    assert killed.returncode == -9, f"the hook at {point} did not fire"

    live = assert_complete(project.www, v1, v2)
    assert live is (v2 if point in ("switched", "pruned") else v1)

    code, report, err = project.deploy()
    assert code == 0, err
    assert_complete(project.www, v2)
    assert report["action"] == ("noop" if live is v2 else "deploy")
    # Killed after its release was complete: the next deploy switches to it, uploading nothing.
    assert report["plan"]["reuse"] is (point == "finalized")
    if point == "finalized":
        assert report["transfer"]["sent"] == 0
    assert not [p for p in (project.www / "releases").iterdir() if p.name.startswith(".")]
    if report["action"] == "deploy":   # a real deploy also swept what the killed one left
        assert not [p for p in (project.www / "store").rglob(".*")]


def test_a_client_fetching_during_deploys_only_sees_whole_releases(project, nginx, tmp_path):
    """nginx's root is the `current` symlink; no reload happens. A client hammers the site
    while v2 is deployed: every page is exactly v1's or v2's, every v2 page's video is v2's,
    a video fetched by Range is always one release's bytes, and the switch is seen."""
    v1 = project.build("build-1")
    assert project.deploy()[0] == 0
    v2 = project.build("build-2", seeds={"ep01": 1, "ep02": 22, "ep03": 3})
    versions = {v.build_id: v for v in (v1, v2)}
    alias = "episodes/ep02/video.mp4"
    alias_tails = {v.files[alias][-4096:] for v in (v1, v2)}

    seen: list[str] = []
    problems: list[str] = []
    stop = threading.Event()

    def fetch(path: str, headers=None) -> tuple[int, bytes]:
        request = urllib.request.Request(nginx.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    def client() -> None:
        while not stop.is_set() and len(seen) < 20_000:
            for page in ["index.html", "episodes/ep02/index.html"]:
                status, body = fetch(page)
                match = re.search(rb'name="build-id" content="([^"]+)"', body)
                build = match.group(1).decode() if match else None
                if status != 200 or build not in versions or body != versions[build].files[page]:
                    problems.append(f"{page}: {status} {body[:80]!r}")
                    continue
                seen.append(build)
                if page.startswith("episodes/") and build == "build-2":
                    # A page of the new release: its video is there, whole, with its bytes.
                    video = versions[build].videos["ep02"]
                    status, data = fetch(video)
                    if status != 200 or data != versions[build].files[video]:
                        problems.append(f"{video} for a build-2 page: {status}, {len(data)} bytes")
            status, tail = fetch(alias, {"Range": "bytes=-4096"})
            if status != 206 or tail not in alias_tails:
                problems.append(f"{alias} range: {status}")

    thread = threading.Thread(target=client)
    thread.start()
    try:
        reached, go = tmp_path / "reached", tmp_path / "go"
        # Hold the deploy just before the switch until the client has read the old release a while.
        deploying = project.spawn(hook=f"finalized=touch:{reached},wait:{go}")
        deadline = time.monotonic() + 30
        while not reached.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        mark = len(seen)
        while len(seen) < mark + 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        out, err = deploying.communicate(timeout=60)
        assert deploying.returncode == 0, err
        assert json.loads(out)["verification"]["ok"]
        mark = len(seen)
        while len(seen) < mark + 50 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not problems, problems[:5]
    assert "build-1" in seen and seen[-1] == "build-2"
    # Once the new release was seen, the old one never came back.
    first_new = seen.index("build-2")
    assert set(seen[first_new:]) == {"build-2"}
