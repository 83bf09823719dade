"""`kind: rsync` end to end: the system ssh (config via ALPHA_SSH_CONFIG = `ssh -F`) to a real
sshd on loopback, rsync over it, and nginx serving the remote PATH/current (same machine)."""

from __future__ import annotations

import json
import time
import urllib.request

from .conftest import assert_complete, snapshot
from .servers import Nginx
from .sitegen import VIDEO_SIZE


def live_build(url: str) -> str:
    with urllib.request.urlopen(url + "build.json", timeout=10) as response:
        return json.loads(response.read())["build_id"]


def test_rsync_target_deploys_incrementally_verifies_dry_runs_and_rolls_back(remote, tmp_path):
    server = Nginx(remote.www / "current", tmp_path / "nginx")
    try:
        remote.configure(url=server.url)
        v1 = remote.build("build-1")
        code, report, _ = remote.deploy("--dry-run")
        assert code == 0 and not remote.www.exists()
        assert len(report["plan"]["upload"]["objects"]) == 3

        code, report, err = remote.deploy()
        assert code == 0, err
        assert report["kind"] == "rsync" and report["location"].startswith(f"{remote.target['user']}@127.0.0.1:")
        assert report["verification"]["ok"], report["verification"]
        assert_complete(remote.www, v1)
        first = remote.current()

        v2 = remote.build("build-2", seeds={"ep01": 1, "ep02": 22, "ep03": 3})
        before = snapshot(remote.www)
        code, report, _ = remote.deploy("--dry-run")
        assert code == 0 and snapshot(remote.www) == before
        assert [o["path"] for o in report["plan"]["upload"]["objects"]] == ["episodes/ep02/video.mp4"]

        code, report, err = remote.deploy()
        assert code == 0, err
        assert VIDEO_SIZE <= report["transfer"]["file_bytes"] < VIDEO_SIZE + 60_000, report["transfer"]
        assert report["transfer"]["sent"] < VIDEO_SIZE + 100_000, report["transfer"]
        assert report["verification"]["ok"] and live_build(server.url) == "build-2"
        assert_complete(remote.www, v2)
        old, new = (remote.www / "releases" / r for r in (first, remote.current()))
        assert (old / "assets/style.css").stat().st_ino == (new / "assets/style.css").stat().st_ino

        code, report, _ = remote.deploy()
        assert code == 0 and report["action"] == "noop"

        code, report, err = remote.deploy("--rollback")
        assert code == 0 and remote.current() == first and report["verification"]["ok"], err
        assert live_build(server.url) == "build-1"
    finally:
        server.stop()


def test_remote_lock_refuses_a_second_deploy_and_dies_with_its_holder(remote, tmp_path):
    v1 = remote.build("build-1")
    reached, go = tmp_path / "reached", tmp_path / "go"
    holder = remote.spawn(hook=f"store=touch:{reached},wait:{go}")
    try:
        deadline = time.monotonic() + 30
        while not reached.exists():
            assert holder.poll() is None and time.monotonic() < deadline, holder.communicate()[1]
            time.sleep(0.02)
        code, _, err = remote.deploy()
        assert code == 1 and "another deploy to www is running" in err and f"pid {holder.pid}" in err
        # SIGKILL the holder mid-deploy: its ssh session, and with it the flock, goes too.
        holder.kill()
        holder.communicate(timeout=30)
    finally:
        go.touch()
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    deadline = time.monotonic() + 10
    while True:
        code, report, err = remote.deploy()
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # sshd notices the dead connection within moments
    assert code == 0, err
    assert_complete(remote.www, v1)


def test_remote_deploy_killed_mid_upload_leaves_the_live_release_and_recovers(remote):
    v1 = remote.build("build-1")
    assert remote.deploy()[0] == 0
    v2 = remote.build("build-2", seeds={"ep01": 11, "ep02": 12, "ep03": 3})
    killed = remote.spawn(hook="store:1=kill")
    killed.communicate(timeout=60)
    assert killed.returncode == -9
    assert_complete(remote.www, v1)
    deadline = time.monotonic() + 10
    while True:
        code, report, err = remote.deploy()
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert code == 0, err
    assert_complete(remote.www, v2)
    # rsync's temporaries from the killed upload were swept; every object is whole.
    objects = [p for p in (remote.www / "store").rglob("*") if p.is_file()]
    assert not [p for p in objects if p.name.startswith(".")]
    assert {p.read_bytes() for p in objects if p.suffix == ".mp4"} >= {v2.files["episodes/ep01/video.mp4"]}


def test_an_unreachable_host_is_a_clear_failure_and_nothing_is_written(project, monkeypatch, tmp_path):
    from .conftest import need
    from .servers import free_port
    need("ssh")
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n    BatchMode yes\n    ConnectTimeout 5\n    LogLevel ERROR\n")
    monkeypatch.setenv("ALPHA_SSH_CONFIG", str(config))
    project.target = {"kind": "rsync", "host": "127.0.0.1", "port": free_port(), "path": str(project.www)}
    project.configure()
    project.build("build-1")
    code, _, err = project.deploy()
    assert code == 1 and "cannot lock" in err and "127.0.0.1" in err
    code, _, err = project.deploy("--dry-run")
    assert code == 1 and "reading the target" in err
    assert not project.www.exists()
