"""`alpha deploy` to a `kind: local` target, served by a real nginx from PATH/current."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

from .conftest import assert_complete, snapshot
from .sitegen import VIDEO_SIZE, write_config


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {}, b""


def test_deploy_publishes_a_complete_release_that_nginx_serves_and_verification_passes(project, nginx):
    v1 = project.build("build-1")
    code, report, err = project.deploy()
    assert code == 0, err
    assert report["action"] == "deploy" and report["ok"] and report["build_id"] == "build-1"
    checks = report["verification"]["checks"]
    assert {c["kind"] for c in checks} == {"build", "page", "range", "feed"}
    assert all(c["ok"] for c in checks), checks
    assert_complete(project.www, v1)

    # The live site: pages, build id, and a Range request on a video alias and a hashed name.
    assert get(nginx.url) == (200, get(nginx.url)[1], v1.files["index.html"])
    status, _, body = get(nginx.url + "build.json")
    assert status == 200 and json.loads(body)["build_id"] == "build-1"
    for path in ["episodes/ep02/video.mp4", v1.videos["ep02"]]:
        status, headers, body = get(nginx.url + path, {"Range": "bytes=1000-1999"})
        assert status == 206 and headers["Content-Range"] == f"bytes 1000-1999/{VIDEO_SIZE}"
        assert body == v1.files[path][1000:2000]

    # Media live once in the shared store, read-only; the release links to them.
    release = project.www / "current"
    alias = release / "episodes/ep02/video.mp4"
    assert alias.is_symlink() and os.readlink(alias).startswith("../../../../store/")
    assert alias.resolve() == (release / v1.videos["ep02"]).resolve()
    objects = [p for p in (project.www / "store").rglob("*") if p.is_file()]
    assert len(objects) == 3 and all(p.stat().st_mode & 0o777 == 0o444 for p in objects)


def test_one_changed_episode_moves_about_its_video_and_links_the_rest(project):
    project.build("build-1")
    code, first, _ = project.deploy()
    assert code == 0 and first["transfer"]["file_bytes"] >= 3 * VIDEO_SIZE
    # The builder rewrites every file (fresh mtimes); only ep02's video really changes.
    v2 = project.build("build-2", seeds={"ep01": 1, "ep02": 22, "ep03": 3})
    code, report, err = project.deploy()
    assert code == 0, err
    transfer = report["transfer"]
    assert [o["path"] for o in report["plan"]["upload"]["objects"]] == ["episodes/ep02/video.mp4"]
    assert VIDEO_SIZE <= transfer["file_bytes"] < VIDEO_SIZE + 60_000, transfer
    assert VIDEO_SIZE <= transfer["sent"] < VIDEO_SIZE + 100_000, transfer
    assert_complete(project.www, v2)

    # Unchanged small files are hard links to the previous release's copies.
    old, new = (project.www / "releases" / r for r in (report["previous"], report["release"]))
    for path in ["assets/style.css", "assets/app.js", "episodes/ep01/poster.jpg"]:
        assert (old / path).stat().st_ino == (new / path).stat().st_ino, path
    for path in ["index.html", "episodes/ep02/poster.jpg"]:
        assert (old / path).stat().st_ino != (new / path).stat().st_ino, path


def test_changed_files_with_equal_size_and_mtime_are_still_uploaded(project):
    """Reproducible builds give every file one fixed mtime: rsync's quick check must not be fooled."""
    def build(build_id: str, seeds: dict):
        version = project.build(build_id, seeds=seeds)
        for folder, _, names in os.walk(project.root / "site"):
            for name in names:
                os.utime(Path(folder) / name, (1_000_000_000, 1_000_000_000), follow_symlinks=False)
        return version

    build("build-a", {"ep01": 1, "ep02": 2})
    assert project.deploy()[0] == 0
    v2 = build("build-b", {"ep01": 1, "ep02": 5})   # same lengths, other bytes
    assert project.deploy()[0] == 0
    assert_complete(project.www, v2)


def test_an_unchanged_site_is_a_noop(project):
    project.build("build-1")
    assert project.deploy()[0] == 0
    before = snapshot(project.www, skip=(".deploy.lock",))
    project.build("build-1")          # rebuilt, same bytes, new mtimes
    code, report, err = project.deploy()
    assert code == 0 and report["action"] == "noop", err
    assert snapshot(project.www, skip=(".deploy.lock",)) == before
    from . import shim
    human = shim.run("-C", str(project.root))
    assert human.code == 0 and "up to date" in human.stderr


def test_dry_run_lists_uploads_deletions_and_the_switch_and_writes_nothing(project):
    v1 = project.build("build-1", extra={"old.html": "<p>gone soon</p>"})
    code, report, _ = project.deploy("--dry-run")
    assert code == 0 and report["action"] == "dry-run"
    assert not project.www.exists()                       # not even the target folder
    assert len(report["plan"]["upload"]["objects"]) == 3 and report["plan"]["switch"]["from"] is None

    assert project.deploy()[0] == 0
    project.build("build-2", seeds={"ep01": 1, "ep02": 22, "ep03": 3})
    target_before = snapshot(project.www)
    project_before = snapshot(project.root)
    code, report, _ = project.deploy("--dry-run")
    assert code == 0
    plan = report["plan"]
    assert [o["path"] for o in plan["upload"]["objects"]] == ["episodes/ep02/video.mp4"]
    assert "index.html" in [f["path"] for f in plan["upload"]["files"]]
    assert "assets/style.css" not in plan["changed"]
    assert plan["delete"]["files"] == sorted([v1.videos["ep02"], "old.html"])
    assert plan["switch"] == {"from": project.current(), "to": report["release"]}
    assert snapshot(project.www) == target_before
    assert snapshot(project.root) == project_before

    # The human form says the same, on stderr.
    from . import shim
    human = shim.run("-C", str(project.root), "--dry-run")
    assert human.code == 0 and human.stdout == ""
    assert "would switch current" in human.stderr and "old.html" in human.stderr
    assert snapshot(project.www) == target_before


def test_rollback_switches_back_and_a_second_rollback_goes_further(project, nginx):
    v1 = project.build("build-1")
    assert project.deploy()[0] == 0
    first = project.current()
    v2 = project.build("build-2", seeds={"ep01": 1, "ep02": 22, "ep03": 3})
    assert project.deploy()[0] == 0
    assert json.loads(get(nginx.url + "build.json")[2])["build_id"] == "build-2"

    code, report, err = project.deploy("--rollback", "--dry-run")
    assert code == 0 and report["release"] == first and project.current() != first

    code, report, err = project.deploy("--rollback")
    assert code == 0, err
    assert report["action"] == "rollback" and report["release"] == first and report["verification"]["ok"]
    assert project.current() == first and assert_complete(project.www, v1)
    assert json.loads(get(nginx.url + "build.json")[2])["build_id"] == "build-1"

    code, _, err = project.deploy("--rollback")
    assert code == 1 and "nothing to roll back to" in err

    code, report, _ = project.deploy()          # forward again, linking from the live release
    assert code == 0 and report["previous"] == first
    assert_complete(project.www, v2)


def test_old_releases_beyond_keep_are_pruned_and_unreferenced_objects_collected(project):
    project.configure(keep=2)
    for n in range(1, 5):
        project.build(f"build-{n}", seeds={"ep01": 1, "ep02": 100 + n})
        code, report, _ = project.deploy()
        assert code == 0
    assert report["pruned"] and len(project.releases()) == 2
    assert project.current() == project.releases()[-1]
    manifests = sorted(p.stem for p in (project.www / "manifests").glob("*.json"))
    assert manifests == project.releases()
    referenced = set()
    for name in manifests:
        files = json.loads((project.www / "manifests" / f"{name}.json").read_text())["files"]
        referenced |= {e["object"] for e in files.values() if "object" in e}
    stored = {p.relative_to(project.www / "store").as_posix()
              for p in (project.www / "store").rglob("*") if p.is_file()}
    assert stored == referenced and len(stored) == 3     # ep01 + the last two ep02 videos
    # Old releases that are kept still serve their own videos.
    for release in project.releases():
        assert_complete_release_media(project.www / "releases" / release)


def assert_complete_release_media(release: Path) -> None:
    for path in release.rglob("*.mp4"):
        assert path.resolve().is_file(), path


def test_failed_verification_exits_1_prints_the_rollback_command_or_rolls_back(project, nginx):
    v1 = project.build("build-1")
    assert project.deploy()[0] == 0
    good = project.current()
    project.build("build-2", broken_feed=True)
    code, report, err = project.deploy()
    assert code == 1 and report["ok"] is False
    failed = [c for c in report["verification"]["checks"] if not c["ok"]]
    assert [c["kind"] for c in failed] == ["feed"]
    assert f"alpha -C {project.root} deploy --target www --rollback" in err
    assert project.current() == report["release"] != good          # still live, as reported
    assert good in project.releases()

    code, _, err = project.deploy("--rollback")
    assert code == 0 and project.current() == good, err

    code, report, err = project.deploy("--rollback-on-failure")
    assert code == 1 and report["rolled_back_to"] == good and "rolled back" in err
    assert project.current() == good and report["release"] not in project.releases()
    assert_complete(project.www, v1)


def test_a_second_deploy_to_the_same_target_is_refused_while_one_runs(project, tmp_path):
    project.build("build-1")
    reached, go = tmp_path / "reached", tmp_path / "go"
    first = project.spawn(hook=f"locked=touch:{reached},wait:{go}")
    try:
        deadline = time.monotonic() + 30
        while not reached.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.02)
        code, _, err = project.deploy()
        assert code == 1 and "another deploy to www is running" in err and f"pid {first.pid}" in err
    finally:
        go.touch()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out)["action"] == "deploy"


def test_configuration_errors_exit_2(project, tmp_path):
    project.build("build-1")
    write_config(project.root, {})
    code, _, err = project.deploy()
    assert code == 2 and "no deploy targets" in err
    write_config(project.root, {"www": {"kind": "local", "path": str(tmp_path / "a")},
                                "prod": {"kind": "local", "path": str(tmp_path / "b")}})
    code, _, err = project.deploy()
    assert code == 2 and "--target" in err
    code, _, err = project.deploy("--target", "wwww")
    assert code == 2 and "did you mean 'www'" in err
    write_config(project.root, {"www": {"kind": "local", "path": str(project.root / "site" / "x")}})
    code, _, err = project.deploy()
    assert code == 2 and "overlap" in err
    write_config(project.root, {"www": {"kind": "local", "path": str(tmp_path / "a")}})
    (project.root / "site" / "build.json").unlink()
    code, _, err = project.deploy()
    assert code == 2 and "build.json" in err
    assert not (tmp_path / "a").exists()


def test_a_site_rebuilt_during_the_deploy_is_not_published(project, tmp_path):
    v1 = project.build("build-1")
    assert project.deploy()[0] == 0
    project.build("build-2", seeds={"ep01": 1, "ep02": 22, "ep03": 3})
    reached, go = tmp_path / "reached", tmp_path / "go"
    deploying = project.spawn(hook=f"locked=touch:{reached},wait:{go}")
    deadline = time.monotonic() + 30
    while not reached.exists():
        assert deploying.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    project.build("build-3", seeds={"ep01": 1, "ep02": 33, "ep03": 3})   # swapped in meanwhile
    go.touch()
    _, err = deploying.communicate(timeout=60)
    assert deploying.returncode == 1 and "during the deploy" in err
    assert_complete(project.www, v1)
