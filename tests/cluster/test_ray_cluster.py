"""`alpha render --cluster` on a REAL Ray cluster: a head and two worker nodes, each declaring
one logical GPU, all inside a network namespace the test makes (loopback only).

Lip-sync runs on the preview backend (the CPU stand-in for LatentSync); where a test needs jobs
that take a while, the workers' host files add a SIMULATED GPU time (a sleep, labelled in the
stage metrics as simulated_gpu_seconds). The tests share one cluster, in this order; the one
that kills a worker node comes last.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from tests.cluster.netns import NetnsCluster  # noqa: E402
from tests.cluster.project import cluster_project, latentsync_cluster_project  # noqa: E402
from tests.helpers import run_alpha  # noqa: E402

pytestmark = pytest.mark.slow
EPISODES = 4
# Outputs that record a run rather than make the episode: LatentSync's log (pids, paths) and
# the runner's telemetry (timings).
RUN_RECORDS = ("log", "telemetry")


@pytest.fixture(scope="module")
def cluster():
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -n (root) for the cluster's own network namespace")
    made = NetnsCluster()
    try:
        # The latentsync resource lets the stand-in LatentSync test place its jobs; the preview
        # backend's jobs ask only for a GPU.
        made.start(["gpu-a", "gpu-b"], resources={"latentsync": 1})
        yield made
    finally:
        made.stop()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return cluster_project(tmp_path_factory.mktemp("pristine") / "demo", EPISODES)


@pytest.fixture
def project(pristine, tmp_path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(pristine, root)
    return root


class Controller:
    """`alpha` run as its own process inside the cluster's namespace, stderr read as it comes."""

    def __init__(self, cluster: NetnsCluster, *args: str):
        self.process = subprocess.Popen(cluster.ns([sys.executable, "-m", "pipeline", *args]), env=cluster.env(),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for_line(self, text: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"no line with {text!r}:\n{''.join(self.lines)}")
            time.sleep(0.05)

    def finish(self, timeout: float = 300.0) -> tuple[int, str, str]:
        # Not communicate(): it would read stderr too, taking lines from the reader thread.
        stdout = self.process.stdout.read()
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        return self.process.returncode, stdout, "".join(self.lines)


def lock(root: Path) -> dict:
    return json.loads((root / "alpha.lock").read_text())["episodes"]


def stage_outputs(root: Path, but: tuple[str, ...] = ()) -> dict:
    """Every recorded output's hash, by episode and stage (the outputs named in `but` left out)."""
    return {episode: {stage: {name: out["hash"] for name, out in record["outputs"].items() if name not in but}
                      for stage, record in entry["stages"].items()}
            for episode, entry in lock(root).items()}


def assert_lock_consistent(root: Path) -> None:
    """Every recorded output is in the store, whole; nothing is stale; no temporaries remain."""
    for entry in lock(root).values():
        for record in entry["stages"].values():
            for out in record["outputs"].values():
                assert (root / out["path"]).is_file(), out["path"]
    status = run_alpha("-C", str(root), "status", "--check")
    assert status.exit_code == 0, status.stdout + status.stderr


def test_lipsync_spreads_over_both_nodes_with_the_local_stage_outputs(cluster, project, pristine, tmp_path):
    config = project / "alpha.yaml"
    config.write_text(config.read_text() + f"cluster: {{kind: ray, address: '{cluster.address}'}}\n")
    code, stdout, stderr = Controller(cluster, "-C", str(project), "render", "--json").finish()
    assert code == 0, stderr
    report = json.loads(stdout)
    nodes = {stage["node"] for episode in report["episodes"] for stage in episode["stages"]
             if stage["name"] == "lipsync"}
    assert nodes == {"gpu-a", "gpu-b"}
    for episode in report["episodes"]:
        for stage in episode["stages"]:
            assert stage["how"] == "ran" and stage["seconds"] > 0 or stage["name"] == "source"
            assert stage["node"] == "local" or stage["name"] == "lipsync"
    assert "lipsync → gpu-a" in stderr and "lipsync → gpu-b" in stderr  # progress names each host's job
    assert_lock_consistent(project)

    local = tmp_path / "local"
    shutil.copytree(pristine, local)
    assert run_alpha("-C", str(local), "render").exit_code == 0
    assert stage_outputs(local) == stage_outputs(project)

    # Each input crossed to a host at most once: the source image went to both, once each.
    source = next(iter(lock(project).values()))["stages"]["source"]["outputs"]["media"]["hash"]
    for name in ("gpu-a", "gpu-b"):
        received = [entry["hash"] for entry in cluster.received(name)]
        assert len(received) == len(set(received)), received
        assert received.count(source) == 1


def test_latentsync_on_the_cluster_loads_the_model_once_per_gpu_worker(cluster, tmp_path):
    """The stand-in LatentSync checkout behind the latentsync backend. Its input clip is the
    prepare phase, made by the controller; the run phase goes to a GPU worker, whose one warm
    LatentSync process serves every episode sent to it. The stored outputs equal a local
    render's."""
    root = latentsync_cluster_project(tmp_path / "remote" / "show", 3)
    local = tmp_path / "local" / "show"
    shutil.copytree(root.parent, local.parent, symlinks=True)
    config = local / "alpha.yaml"
    config.write_text(config.read_text().replace(str(root.parent), str(local.parent)))
    assert run_alpha("-C", str(local), "render").exit_code == 0

    # Each host names its own checkout and Python in its host file (here: the same copy).
    cluster.configure_hosts(latentsync=(root.parent / "LatentSync", sys.executable))
    try:
        code, stdout, stderr = Controller(cluster, "-C", str(root), "render", "--json", "--cluster",
                                          cluster.address).finish()
    finally:
        cluster.configure_hosts()
    assert code == 0, stderr
    report = json.loads(stdout)
    ran_on = {episode["id"]: next(stage["node"] for stage in episode["stages"] if stage["name"] == "lipsync")
              for episode in report["episodes"]}
    assert set(ran_on.values()) <= {"gpu-a", "gpu-b"}
    served = {}
    for load in report["model_loads"]:
        assert load["backend"] == "latentsync" and load["checkpoint"] == "1.5"
        served.setdefault(load["node"], []).append(sorted(load["episodes"]))
    # One load per worker that ran any lip-sync, serving exactly the episodes it ran.
    assert served == {node: [sorted(e for e, n in ran_on.items() if n == node)] for node in set(ran_on.values())}
    assert stage_outputs(root, but=RUN_RECORDS) == stage_outputs(local, but=RUN_RECORDS)
    # The input clip went to a host as a prepared file, once, to the host that ran the episode.
    for episode, node in ran_on.items():
        clip = lock(root)[episode]["stages"]["lipsync"]["outputs"]["original"]["hash"]
        assert [entry["hash"] for entry in cluster.received(node)].count(clip) == 1
    assert_lock_consistent(root)


def test_doctor_checks_every_host(cluster, project):
    code, stdout, stderr = Controller(cluster, "-C", str(project), "doctor", "--cluster", cluster.address).finish()
    for name in ("gpu-a", "gpu-b"):
        assert f"alpha doctor on {name}" in stdout
    assert stdout.count("Ray version") == 3 and stdout.count("Python version") == 3  # the head too
    assert stdout.count("ffmpeg") >= 4  # the local doctor's checks, here and on every host
    assert "LatentSync hosts" in stdout
    assert code == 0, stdout + stderr


def test_a_file_larger_than_the_object_store_streams_to_a_host(cluster, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:  # larger than every node's 80 MiB object store
        for _ in range(12):
            out.write(bytes(range(256)) * 40960 + (b"%d" % _) * 7)
    cache = tmp_path / "cache"
    script = f"""
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as On
from pipeline.cluster.transfer import HostCache
from pipeline.cluster.worker import FileServer
from pipeline.plan.hashing import hash_file
ray.init(address={cluster.address!r}, logging_level="ERROR", log_to_driver=False)
here = ray.get_runtime_context().get_node_id()
files = FileServer.options(scheduling_strategy=On(here, soft=False)).remote([{str(big)!r}], {str(tmp_path / "store")!r})
worker = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU"))
digest = hash_file({str(big)!r})

@ray.remote(num_cpus=0)
def pull():
    def chunks():
        for ref in files.send.remote({str(big)!r}, digest):
            yield ray.get(ref)
    return str(HostCache(__import__("pathlib").Path({str(cache)!r})).fetch(digest, ".bin", chunks, "big.bin"))

print(ray.get(pull.options(scheduling_strategy=On(worker, soft=False)).remote()))
"""
    result = cluster.python(script, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert Path(result.stdout.strip().splitlines()[-1]).read_bytes() == big.read_bytes()


def test_ctrl_c_cancels_remote_work_and_a_rerun_resumes(cluster, project):
    cluster.simulate_gpu(6.0)
    controller = Controller(cluster, "-C", str(project), "render", "--cluster", cluster.address)
    controller.wait_for_line("✓")  # one episode is recorded, others are on the cluster
    time.sleep(0.5)
    controller.process.send_signal(signal.SIGINT)
    code, _, stderr = controller.finish(timeout=60)
    assert code == 130, stderr
    kept = set(lock(project))
    assert 1 <= len(kept) < EPISODES
    # The remote work stopped: both GPUs are free again soon after (the workers were killed).
    assert gpus_freed(cluster) == "2.0"

    cluster.simulate_gpu(0.0)
    code, stdout, stderr = Controller(cluster, "-C", str(project), "render", "--json", "--cluster",
                                      cluster.address).finish()
    assert code == 0, stderr
    rerendered = {episode["id"] for episode in json.loads(stdout)["episodes"]}
    assert rerendered == set(lock(project)) - kept and len(lock(project)) == EPISODES
    assert_lock_consistent(project)


def gpus_freed(cluster: NetnsCluster) -> str:
    """The cluster's free GPUs once they are back to 2, or after 30 s (its last reading)."""
    result = cluster.python(f"""
import ray, time
ray.init(address={cluster.address!r}, logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + 30
while ray.available_resources().get("GPU", 0) < 2 and time.monotonic() < deadline:
    time.sleep(0.2)
print(ray.available_resources().get("GPU", 0))
""")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]


def test_a_killed_controller_resumes_from_the_lock_and_run_cache(cluster, project):
    cluster.simulate_gpu(4.0)
    controller = Controller(cluster, "-C", str(project), "render", "--cluster", cluster.address)
    controller.wait_for_line("✓")
    controller.process.kill()  # SIGKILL: no cleanup of any kind
    controller.process.wait(timeout=30)
    kept = set(lock(project))
    assert 1 <= len(kept) < EPISODES
    assert gpus_freed(cluster) == "2.0"  # its workers died with it (Ray's owner fate-sharing)

    cluster.simulate_gpu(0.0)
    code, stdout, stderr = Controller(cluster, "-C", str(project), "render", "--json", "--cluster",
                                      cluster.address).finish()
    assert code == 0, stderr
    report = json.loads(stdout)
    assert {episode["id"] for episode in report["episodes"]} == set(lock(project)) - kept
    assert len(lock(project)) == EPISODES
    assert_lock_consistent(project)


def test_a_worker_node_killed_mid_batch(cluster, project):
    cluster.simulate_gpu(5.0)
    controller = Controller(cluster, "-C", str(project), "render", "--json", "--cluster", cluster.address)
    controller.wait_for_line("lipsync → gpu-b")
    time.sleep(1.0)  # inside its simulated GPU time
    cluster.kill("gpu-b")
    code, stdout, stderr = controller.finish()
    assert code == 0, stderr
    report = json.loads(stdout)
    assert len(report["episodes"]) == EPISODES and all(episode["ok"] for episode in report["episodes"])
    assert any("gpu-b was lost" in retry for retry in report["cluster"]["retries"]), report["cluster"]
    assert "retrying on another host" in stderr, stderr
    ran_on = {stage["node"] for episode in report["episodes"] for stage in episode["stages"]
              if stage["name"] == "lipsync"}
    assert ran_on == {"gpu-a"} or ran_on == {"gpu-a", "gpu-b"}
    assert set(lock(project)) == {episode["id"] for episode in report["episodes"]}
    assert_lock_consistent(project)
    assert not any((project / ".alpha/tmp").iterdir())
