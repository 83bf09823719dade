"""Deploy targets that would destroy the project, and target settings that would reach ssh as
options, are refused with the manifest; nothing on disk changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_alpha

DEMO_TARGET = "local: {kind: local, path: .alpha/www}"


def _target(root: Path, spec: str) -> None:
    config = root / "alpha.yaml"
    text = config.read_text()
    assert DEMO_TARGET in text
    config.write_text(text.replace(DEMO_TARGET, f"local: {spec}"))


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("path", [".alpha", ".", "..", "site", "site/www", ".alpha/store", ".alpha/cache",
                                  "media", "episodes", "posts/www"])
def test_target_over_the_project_is_refused_and_nothing_is_deleted(demo, path):
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    before = _files(demo / ".alpha" / "store"), _files(demo / "site"), _files(demo / "media")
    _target(demo, f"{{kind: local, path: {path}}}")
    for args in (["deploy", "--no-verify"], ["deploy", "--rollback", "--no-verify"]):
        result = run_alpha("-C", str(demo), *args)
        assert result.exit_code == 2, result.stderr
        assert "deploy target 'local'" in result.stderr and "Traceback" not in result.stderr
    assert (_files(demo / ".alpha" / "store"), _files(demo / "site"), _files(demo / "media")) == before


def test_target_in_a_folder_of_its_own_inside_the_state_folder_deploys(demo):
    assert run_alpha("-C", str(demo), "build", "site").exit_code == 0
    result = run_alpha("-C", str(demo), "deploy", "--no-verify")
    assert result.exit_code == 0, result.stderr
    assert (demo / ".alpha/www/current/index.html").is_file()
    again = run_alpha("-C", str(demo), "deploy", "--no-verify")
    assert again.exit_code == 0, again.stderr


@pytest.mark.parametrize("spec,key", [
    ('{kind: local, path: .alpha/www, url: "not a url"}', "url"),
    ('{kind: local, path: .alpha/www, url: "ftp://example.org/"}', "url"),
    ('{kind: local, path: .alpha/www, url: "http://[::1/"}', "url"),
    ('{kind: local, path: .alpha/www, url: "http://example.org:99999/"}', "url"),
    ('{kind: rsync, host: "-oProxyCommand=touch /tmp/pwned", path: /srv/www}', "host"),
    ('{kind: rsync, host: "web1 -v", path: /srv/www}', "host"),
    ('{kind: rsync, host: "web1\\n", path: /srv/www}', "host"),
    ('{kind: rsync, host: web1, user: "-lroot", path: /srv/www}', "user"),
    ('{kind: rsync, host: web1, user: "de ploy", path: /srv/www}', "user"),
])
def test_bad_target_settings_are_manifest_errors(demo, spec, key):
    _target(demo, spec)
    result = run_alpha("-C", str(demo), "deploy", "--dry-run")
    assert result.exit_code == 2, result.stderr
    assert f"alpha.yaml:" in result.stderr and f"deploy.targets.local.{key}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (demo / ".alpha/www").exists()


def test_ssh_argv_separates_options_from_the_host(monkeypatch):
    """The argv is captured where it would be spawned (real ssh runs in tests/deploy/test_rsync.py)."""
    from pipeline.deploy import transport
    from pipeline.project.schema import DeployTarget

    seen: list[list[str]] = []

    def capture(argv, **_):
        seen.append(list(argv))
        raise RuntimeError("captured")

    monkeypatch.setattr(transport, "spawn", capture)
    target = transport.RemoteTarget("prod", DeployTarget(kind="rsync", host="web1", user="deploy", path="/srv/www"))
    with pytest.raises(RuntimeError, match="captured"):
        target._sh("true", "testing")
    [argv] = seen
    assert argv[argv.index("--") + 1] == "web1"
    assert all(not arg.startswith("-") for arg in argv[argv.index("--") + 1:])


