"""Fixtures for the deploy tests: a project with a synthetic site, real nginx and sshd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.deploy.hooks import ENV as HOOK_ENV
from pipeline.deploy.transport import SSH_CONFIG_ENV

from . import shim
from .servers import Nginx, Sshd, missing
from .sitegen import Version, build_site, write_config

REPO = Path(__file__).resolve().parents[2]


def need(*binaries: str) -> None:
    absent = missing(*binaries)
    if absent:
        pytest.skip(f"not installed: {', '.join(absent)} (apt-get install nginx openssh-server rsync)")


class Project:
    """A project folder with alpha.yaml, a fake `.alpha/store/` and a built site."""

    def __init__(self, root: Path, target_path: Path):
        self.root = root
        self.www = target_path
        self.target: dict = {"kind": "local", "path": str(target_path), "keep": 3}
        self.name = "www"
        root.mkdir(parents=True, exist_ok=True)
        self.configure()

    def configure(self, **changes) -> None:
        self.target = {k: v for k, v in {**self.target, **changes}.items() if v is not None}
        write_config(self.root, {self.name: self.target})

    def build(self, build_id: str, **kwargs) -> Version:
        return build_site(self.root, build_id, **kwargs)

    def deploy(self, *args: str) -> tuple[int, dict | None, str]:
        result = shim.run("-C", str(self.root), "--json", *args)
        report = json.loads(result.stdout) if result.stdout.strip() else None
        return result.code, report, result.stderr

    def spawn(self, *args: str, hook: str | None = None) -> subprocess.Popen:
        """`alpha deploy` as a separate process, to kill, or to hold the lock."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO)
        if hook:
            env[HOOK_ENV] = hook
        return subprocess.Popen([sys.executable, "-m", "tests.deploy.shim", "-C", str(self.root),
                                 "--json", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def current(self) -> str:
        return os.readlink(self.www / "current").removeprefix("releases/")

    def releases(self) -> list[str]:
        return sorted(p.name for p in (self.www / "releases").iterdir())


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    need("rsync")
    monkeypatch.delenv(HOOK_ENV, raising=False)
    return Project(tmp_path / "proj", tmp_path / "www")


@pytest.fixture
def nginx(tmp_path, project) -> Nginx:
    """nginx serving the target's PATH/current; the target's url points at it."""
    need("nginx")
    server = Nginx(project.www / "current", tmp_path / "nginx")
    project.configure(url=server.url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> Sshd:
    need("sshd", "ssh", "ssh-keygen", "rsync", "flock")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def remote(project, sshd, tmp_path, monkeypatch) -> Project:
    """The project, with its target switched to `kind: rsync` over ssh to the test sshd."""
    monkeypatch.setenv(SSH_CONFIG_ENV, str(sshd.config))
    project.target = {"kind": "rsync", "host": "127.0.0.1", "port": sshd.port, "user": sshd.user,
                      "path": str(project.www), "keep": 3}
    project.configure()
    return project


# --- assertions --------------------------------------------------------------------------------


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, symlinks followed, by relative path."""
    files = {}
    for base, dirs, names in os.walk(folder, followlinks=True):
        for name in names:
            path = Path(base) / name
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def assert_complete(www: Path, *versions: Version) -> Version:
    """`current` is one complete release, equal to one of `versions`; links stay inside PATH."""
    link = os.readlink(www / "current")
    assert link.startswith("releases/") and "/" not in link.removeprefix("releases/"), link
    release = www / link
    assert (www / "manifests" / f"{release.name}.json").is_file()
    files = tree_bytes(release)
    matches = [v for v in versions if files == v.files]
    assert matches, f"current ({link}) is none of {[v.build_id for v in versions]}: " \
                    f"{sorted(set(files) ^ set(versions[0].files))[:5]}"
    for base, _, names in os.walk(release):
        for name in names:
            path = Path(base) / name
            if path.is_symlink():
                target = os.readlink(path)
                assert not os.path.isabs(target), target
                assert path.resolve().is_relative_to((www / "store").resolve()), target
    return matches[0]


def snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Everything about a tree that a write would change."""
    if not folder.exists():
        return {}
    state = {}
    for base, dirs, names in os.walk(folder):
        for name in [*dirs, *names]:
            path = Path(base) / name
            relative = path.relative_to(folder).as_posix()
            if relative.startswith(skip):
                continue
            st = path.lstat()
            state[relative] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino,
                               os.readlink(path) if path.is_symlink() else None)
    return state
