"""A real Ray cluster for tests and benchmarks, inside a network namespace of its own.

Every process of the cluster (the head, the worker nodes, the controller) runs in one network
namespace made for it (`unshare -n`, then loopback up), so Ray can bind nothing but 127.0.0.1
and nothing it starts can reach another machine. The namespace is held by a `sleep` process;
everything else joins it with `nsenter`. Each node is `ray start --block` in a session of its
own, so killing its process group kills that node at once, as a host that dies would.
Needs root (we are, in CI) and util-linux's unshare/nsenter.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
# Ray's own minimum; small, so that a transfer that is not chunked would not fit.
SMALL_OBJECT_STORE = 80 * 1024 * 1024


@dataclass
class Node:
    name: str
    process: subprocess.Popen
    host_file: Path | None
    cache: Path | None


class NetnsCluster:
    def __init__(self, port: int = 6379):
        # Short: Ray's socket paths live under it and must stay within 107 bytes.
        self.base = Path(tempfile.mkdtemp(prefix="alpha-ray-", dir="/tmp"))
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
        self.nodes: dict[str, Node] = {}
        deadline = time.monotonic() + 10
        while self._netns() == _own_netns():
            if time.monotonic() > deadline:
                raise RuntimeError("unshare -n did not make a network namespace")
            time.sleep(0.02)
        subprocess.run(self.ns(["ip", "link", "set", "lo", "up"]), check=True)

    def _netns(self) -> str:
        return os.readlink(f"/proc/{self.holder.pid}/ns/net")

    def ns(self, command: list[str]) -> list[str]:
        """`command` run inside the cluster's network namespace."""
        return ["nsenter", "-t", str(self.holder.pid), "-n", *command]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        # A loaded CI machine can take longer than Ray's default 30 s to bring a raylet up.
        env.update(RAY_USAGE_STATS_ENABLED="0", RAY_raylet_start_wait_time_s="120", **extra)
        return env

    def start_head(self, num_cpus: int = 1, object_store: int = SMALL_OBJECT_STORE) -> Node:
        return self._start("head", ["--head", f"--port={self.port}", f"--temp-dir={self.base / 'ray'}",
                                    "--num-gpus=0", f"--num-cpus={num_cpus}", f"--object-store-memory={object_store}",
                                    "--include-dashboard=false", "--dashboard-agent-listen-port=0"],
                           host_file=None)

    def add_worker(self, name: str, num_gpus: int = 1, num_cpus: int = 1, resources: dict | None = None,
                   object_store: int = SMALL_OBJECT_STORE, simulated_gpu_seconds: float = 0.0) -> Node:
        cache = self.base / "hosts" / name / "cache"
        host_file = self.base / "hosts" / name / "host.yaml"
        host_file.parent.mkdir(parents=True, exist_ok=True)
        self.write_host_file(host_file, name, cache, simulated_gpu_seconds)
        args = [f"--address={self.address}", f"--num-gpus={num_gpus}", f"--num-cpus={num_cpus}",
                f"--object-store-memory={object_store}", "--dashboard-agent-listen-port=0"]
        if resources:
            args.append(f"--resources={json.dumps(resources)}")
        return self._start(name, args, host_file=host_file, cache=cache)

    def start(self, workers: list[str], timeout: float = 180.0, **worker_options) -> None:
        """A head (no GPU) and one worker node per name, each with one logical GPU by default.

        Nodes join one at a time: on a loaded machine several raylets registering at once can
        time out."""
        self.start_head()
        self.wait_for_nodes(1, timeout)
        for count, name in enumerate(workers, start=2):
            self.add_worker(name, **worker_options)
            self.wait_for_nodes(count, timeout)

    @staticmethod
    def write_host_file(host_file: Path, name: str, cache: Path, simulated_gpu_seconds: float,
                        latentsync: tuple[Path, str] | None = None) -> None:
        text = (f"name: {name}\ncache: {cache}\n"
                f"simulated_gpu_seconds: {simulated_gpu_seconds}  # SIMULATION of GPU time\n")
        if latentsync is not None:
            text += f"latentsync: {{root: {latentsync[0]}, python: {latentsync[1]}}}\n"
        host_file.write_text(text)

    def simulate_gpu(self, seconds: float) -> None:
        """Make every worker node's lip-sync jobs hold their slot `seconds` longer (SIMULATION).

        Workers read their host file when they start, which is at the start of each render."""
        self.configure_hosts(simulated_gpu_seconds=seconds)

    def configure_hosts(self, simulated_gpu_seconds: float = 0.0, latentsync: tuple[Path, str] | None = None) -> None:
        """Rewrite every worker node's host file (read by its workers at each render's start):
        the SIMULATED GPU time, and the LatentSync checkout and Python of the host, if any."""
        for node in self.nodes.values():
            if node.host_file is not None:
                self.write_host_file(node.host_file, node.name, node.cache, simulated_gpu_seconds, latentsync)

    def python(self, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a Python script as a driver of this cluster, inside its namespace."""
        return subprocess.run(self.ns([sys.executable, "-c", script]), env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    def _start(self, name: str, args: list[str], host_file: Path | None, cache: Path | None = None) -> Node:
        extra = {"ALPHA_HOST_FILE": str(host_file)} if host_file else {}
        log = open(self.base / f"{name}.log", "wb")
        process = subprocess.Popen(self.ns([RAY, "start", "--block", "--node-ip-address=127.0.0.1",
                                            "--disable-usage-stats", *args]),
                                   env=self.env(**extra), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        node = Node(name, process, host_file, cache)
        self.nodes[name] = node
        return node

    def wait_for_nodes(self, count: int, timeout: float = 90.0) -> None:
        """Until `count` nodes are alive in the cluster."""
        script = ("import ray,sys,time\n"
                  f"ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False)\n"
                  f"deadline=time.monotonic()+{timeout}\n"
                  f"while sum(n['Alive'] for n in ray.nodes()) < {count}:\n"
                  "    if time.monotonic()>deadline: sys.exit(1)\n"
                  "    time.sleep(0.2)\n")
        result = subprocess.run(self.ns([sys.executable, "-c", script]), env=self.env(),
                                capture_output=True, text=True, timeout=timeout + 60)
        if result.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in self.base.glob("*.log"))
            raise RuntimeError(f"the cluster did not reach {count} nodes:\n{result.stderr[-3000:]}\n{logs}")

    def kill(self, name: str) -> None:
        """Kill a node and everything it started at once (SIGKILL to its process group)."""
        node = self.nodes.pop(name)
        _killpg(node.process, signal.SIGKILL)

    def received(self, name: str) -> list[dict]:
        ledger = self.base / "hosts" / name / "cache" / "received.jsonl"
        if not ledger.is_file():
            return []
        return [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        for name in [n for n in self.nodes if n != "head"] + [n for n in self.nodes if n == "head"]:
            node = self.nodes.pop(name)
            _killpg(node.process, signal.SIGTERM)
            try:
                node.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _killpg(node.process, signal.SIGKILL)
        self.holder.kill()
        self.holder.wait()
        # Everything left in the namespace goes with it; Ray leaves nothing outside base.
        shutil.rmtree(self.base, ignore_errors=True)


def _own_netns() -> str:
    return os.readlink("/proc/self/ns/net")


def _killpg(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        process.wait()
