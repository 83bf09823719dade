"""A render host's own settings file, and the --cluster / cluster: configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cluster.host import load_host
from pipeline.errors import ManifestError
from pipeline.stages import STAGES
from pipeline.project.schema import LatentSyncSettings
from tests.cluster.project import cluster_project
from tests.helpers import run_alpha, write


def test_host_file_paths_are_the_hosts_own(tmp_path, monkeypatch):
    host_file = write(tmp_path / "etc/host.yaml", """
        name: gpu-7
        cache: cache
        latentsync: {root: /opt/LatentSync, python: /opt/LatentSync/.venv/bin/python}
    """)
    monkeypatch.setenv("ALPHA_HOST_FILE", str(host_file))
    host = load_host()
    assert host.settings.name == "gpu-7"
    assert host.cache == tmp_path / "etc/cache"  # relative to the host file, not to any project
    project = LatentSyncSettings(root="~/LatentSync", python="~/LatentSync/.venv/bin/python")
    mine = host.latentsync(project)
    assert (mine.root, mine.python) == ("/opt/LatentSync", "/opt/LatentSync/.venv/bin/python")
    assert mine.checkpoints == project.checkpoints  # which config goes with which release stays


def test_a_bad_host_file_names_file_line_and_key(tmp_path, monkeypatch):
    host_file = write(tmp_path / "host.yaml", """
        name: gpu-7
        simulated_gpu_seconds: -3
        latentsync: {rot: /opt/LatentSync}
    """)
    monkeypatch.setenv("ALPHA_HOST_FILE", str(host_file))
    with pytest.raises(ManifestError) as caught:
        load_host()
    text = str(caught.value)
    assert f"{host_file}:2: simulated_gpu_seconds:" in text
    assert f"{host_file}:3: latentsync.rot: unknown key" in text


def test_a_missing_named_host_file_is_an_error_not_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHA_HOST_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(ManifestError, match="nope.yaml:1: cannot read"):
        load_host()


def test_bad_cluster_address_in_alpha_yaml_exits_2_with_its_line(bare_project):
    config = bare_project / "alpha.yaml"
    config.write_text(config.read_text() + "cluster: {kind: ray, address: gpu-head}\n")
    result = run_alpha("-C", str(bare_project), "render")
    assert result.exit_code == 2
    line = len(config.read_text().splitlines())
    assert f"alpha.yaml:{line}: cluster.address: 'gpu-head' is not an address like HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_cluster_kind_exits_2(bare_project):
    config = bare_project / "alpha.yaml"
    config.write_text(config.read_text() + "cluster: {kind: slurm, address: 'head:6379'}\n")
    result = run_alpha("-C", str(bare_project), "render")
    assert result.exit_code == 2 and "cluster.kind" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--cluster", "head"], "--cluster: 'head' is not an address like HOST:PORT"),
    (["--cluster", "head:6379", "--local"], "--cluster and --local contradict each other"),
])
def test_bad_cluster_options_exit_2(bare_project, args, message):
    result = run_alpha("-C", str(bare_project), "render", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_unreachable_cluster_is_an_error_naming_it_never_a_local_render(tmp_path):
    # Real media: placeholder files would be refused by the media checks before the cluster is tried.
    root = cluster_project(tmp_path / "demo", episodes=1, backend="none")
    # Port 9 on loopback: nothing listens there (the discard service is not installed).
    result = run_alpha("-C", str(root), "render", "--cluster", "127.0.0.1:9")
    assert result.exit_code == 1
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in result.stderr
    assert not (root / "alpha.lock").exists()
    assert not (root / ".alpha/store").exists()


def test_local_ignores_the_configured_cluster(tmp_path):
    root = cluster_project(tmp_path / "demo", episodes=1, backend="none")
    config = root / "alpha.yaml"
    config.write_text(config.read_text() + "cluster: {kind: ray, address: '127.0.0.1:9'}\n")
    refused = run_alpha("-C", str(root), "render")
    assert refused.exit_code == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in refused.stderr
    result = run_alpha("-C", str(root), "render", "--local", "--json")
    assert result.exit_code == 0, result.stderr
    stages = json.loads(result.stdout)["episodes"][0]["stages"]
    assert [(s["name"], s["how"], s["node"]) for s in stages] == [(stage.name, "ran", "local") for stage in STAGES]
