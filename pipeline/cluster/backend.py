"""The Ray backend of the scheduler: GPU jobs on warm workers of a cluster, CPU jobs at home.

It implements the backend seam of :mod:`pipeline.execute` and decides nothing the scheduler
decides: the scheduler still picks which job goes to which slot. A GPU slot here is one
:class:`~.worker.StageWorker` actor (one logical GPU, plus the ``latentsync`` resource for
LatentSync jobs), placed by Ray; CPU slots are the controller's own (a
:class:`~pipeline.execute.LocalBackend`), since their inputs and outputs are already in its
store and moving them to a host would cost more than the CPU time.

Files: a worker pulls each input it lacks from the controller's :class:`~.worker.FileServer`
into its host's hash-keyed cache (chunks, hash-checked); the controller pulls each output back
the same way into a temporary file of the store's tmp folder, and hands the scheduler exactly
what a local job would: temporary files with their hashes. The scheduler alone writes the
store, the run cache and alpha.lock.

Faults: retries are alpha's, not Ray's (``max_restarts=0``, ``max_task_retries=0``), so each is
seen and reported. A worker whose host dies takes its job to another live worker, and its slot
is served by a live worker from then on; the job fails only when no worker is left.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import Failure, UserError
from ..execute import Job, LocalBackend, ModelLoad, OutputFile, Result
from ..project.model import Project
from .transfer import receive

CONNECT_TIMEOUT_S = 5.0
# A worker that cannot start in this time (no host can hold it) is left out of the render.
WORKER_START_TIMEOUT_S = 120.0
LATENTSYNC_RESOURCE = "latentsync"
MAX_ATTEMPTS = 3
POLL_S = 0.05
# How long a GPU worker gets, at the end of a render, to end its LatentSync process.
CLOSE_TIMEOUT_S = 15.0


def require_ray():
    try:
        import ray
    except ImportError:
        raise UserError("rendering on a cluster needs Ray: pip install 'alpha-pipeline[ray]'") from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail with a clear message, naming the address, if nothing answers there."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise Failure(f"cannot reach the Ray cluster at {address}: {reason} "
                      "(is `ray start --head` running there, and is the port open?); "
                      "nothing was rendered, use --local to render on this machine") from None


class Connection:
    """This process joined to the Ray cluster at `address`, until `close()`."""

    def __init__(self, address: str):
        ray = require_ray()
        check_reachable(address)
        self.ray = ray
        self.address = address
        # Ray prints cluster events (a node died) on sys.stdout from a thread of its own; stdout
        # carries only alpha's answer (JSON with --json), so they go to stderr until close().
        self.stdout = sys.stdout
        sys.stdout = sys.stderr
        previous = signal.getsignal(signal.SIGTERM)
        try:
            ray.init(address=address, namespace="alpha", logging_level="ERROR", log_to_driver=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError or its own types here
            sys.stdout = self.stdout
            raise Failure(f"cannot join the Ray cluster at {address}: {type(exc).__name__}: {exc} (this "
                          "machine must run a Ray node of that cluster, with the same Ray and Python: "
                          f"`ray start --address={address} --num-gpus=0`)") from None
        finally:
            # ray.init puts its own SIGTERM handler in; alpha's unwinds like Ctrl-C does.
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self.node_id = ray.get_runtime_context().get_node_id()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ray.shutdown()
        sys.stdout = self.stdout


@dataclass
class Worker:
    handle: Any
    node: str
    node_id: str
    gpus: list[str]


@dataclass
class Remote:
    """A job in flight on the cluster."""

    job: Job
    slot: str
    worker: Worker
    attempts: int = 1
    errors: list[str] = field(default_factory=list)
    submitted: float = 0.0


class RayBackend:
    name = "ray"

    def __init__(self, address: str, project: Project, local: LocalBackend,
                 events: Callable[[str], None] = lambda message: None):
        began = time.monotonic()
        self.connection = Connection(address)
        self.ray = self.connection.ray
        self.address = address
        self.project = project
        self.local = local
        self.events = events
        self.files = None  # the FileServer, once start_workers knows what the render may send
        self.slot_worker: dict[str, Worker] = {}
        self.running: dict[Any, Remote] = {}   # ObjectRef -> job in flight
        self.started: list[dict[str, Any]] = []
        self.retries: list[str] = []
        self.worker_loads: dict[int, list[dict[str, Any]]] = {}  # id(Worker) -> its model loads
        self.jobs: list[dict[str, Any]] = []   # per finished remote job: where, and its timings
        self.startup_seconds = time.monotonic() - began

    # -- workers -------------------------------------------------------------------------

    def start_workers(self, plans) -> None:
        """One worker per GPU of the cluster's live nodes, if any of `plans` has a GPU job."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from .worker import FileServer, StageWorker

        began = time.monotonic()
        stages = [stage_plan for plan in plans for stage_plan in plan.stages if stage_plan.gpus > 0]
        if not stages:
            return
        latentsync = any(stage_plan.key.params.get("lipsync", {}).get("backend") == "latentsync"
                         for stage_plan in stages)
        count = self._gpu_slots(latentsync)
        if count == 0:
            raise Failure(f"no node of the cluster at {self.address} offers a GPU"
                          + (f" and the {LATENTSYNC_RESOURCE} resource" if latentsync else "")
                          + " (see `alpha doctor --cluster`)")
        inputs = sorted({str(self.project.path(value["path"])) for plan in plans for stage_plan in plan.stages
                         for value in stage_plan.key.inputs.values()})
        self.files = FileServer.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(self.connection.node_id, soft=False)
        ).remote(inputs, str(self.project.state_dir / "store"))
        options = {"num_gpus": 1, "num_cpus": 0, "max_restarts": 0, "max_task_retries": 0,
                   "resources": {LATENTSYNC_RESOURCE: 1} if latentsync else {}}
        handles = [StageWorker.options(**options).remote(self.files) for _ in range(count)]
        pending = {handle.where.remote(): handle for handle in handles}
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        # A worker counts once it has said where it is (a constructor can fail, a node can die).
        while pending and time.monotonic() < deadline:
            ready, _ = self.ray.wait(list(pending), num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
            for ref in ready:
                handle = pending.pop(ref)
                try:
                    info = self.ray.get(ref)
                except self.ray.exceptions.RayError as exc:
                    self.events(f"a worker could not start: {type(exc).__name__}: {exc}")
                    continue
                self._add(Worker(handle, info["node"], info["node_id"], info["gpus"]))
        for handle in pending.values():
            self.ray.kill(handle)
        self.startup_seconds += time.monotonic() - began
        if not self.slot_worker:
            raise Failure(f"no stage worker could start on the cluster at {self.address}")

    def _gpu_slots(self, latentsync: bool) -> int:
        count = 0
        for node in self.ray.nodes():
            resources = node["Resources"] if node["Alive"] else {}
            if latentsync and resources.get(LATENTSYNC_RESOURCE, 0) < 1:
                continue
            count += int(resources.get("GPU", 0))
        return count

    def _add(self, worker: Worker) -> None:
        taken = sum(1 for w in self.slot_worker.values() if w.node == worker.node)
        slot = worker.node if taken == 0 else f"{worker.node}#{taken + 1}"
        self.slot_worker[slot] = worker
        self.started.append({"slot": slot, "node": worker.node, "node_id": worker.node_id, "gpus": worker.gpus})
        self.events(f"GPU worker {slot} (Ray node {worker.node_id[:12]}, GPU {', '.join(worker.gpus) or '?'})")

    def _live_workers(self) -> list[Worker]:
        return list({id(w): w for w in self.slot_worker.values()}.values())

    def _retire(self, lost: Worker) -> None:
        """Serve the lost worker's slots with the live worker that has the fewest slots."""
        with contextlib.suppress(Exception):
            self.ray.kill(lost.handle)
        live = [w for w in self._live_workers() if w is not lost]
        for slot, worker in list(self.slot_worker.items()):
            if worker is lost:
                if not live:
                    del self.slot_worker[slot]
                    continue
                load = {id(w): sum(1 for v in self.slot_worker.values() if v is w) for w in live}
                self.slot_worker[slot] = min(live, key=lambda w: load[id(w)])

    # -- the seam the scheduler uses ----------------------------------------------------

    def slots(self) -> tuple[list[str], int]:
        _, cpu = self.local.slots()
        return list(self.slot_worker), cpu

    def start(self, job: Job, slot: str, progress) -> None:
        if slot not in self.slot_worker:
            self.local.start(job, slot, progress)
            return
        self._submit(Remote(job, slot, self.slot_worker[slot]))

    def next_result(self, timeout: float | None) -> Result | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            result = self.local.next_result(0 if self.running else _left(deadline))
            if result is not None:
                return result
            if self.running:
                ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=min(POLL_S, _left(deadline, POLL_S)))
                if ready:
                    result = self._collect(ready[0])
                    if result is not None:
                        return result
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def cancel(self, grace: float) -> None:
        """Cancel every remote job (its stage stops at its next progress report), wait up to
        `grace` seconds, then kill the workers: a job that did not stop dies with its worker."""
        for ref in list(self.running):
            with contextlib.suppress(Exception):
                self.ray.cancel(ref)
        self.local.cancel(grace / 2)
        if self.running:
            self.ray.wait(list(self.running), num_returns=len(self.running), timeout=grace / 2)
        self.running.clear()
        self._kill_workers()

    def model_loads(self) -> list[ModelLoad]:
        """The controller's own loads and every GPU worker's, as each last reported them."""
        remote = [ModelLoad(load["backend"], load["checkpoint"], load["node"], list(load["episodes"]))
                  for loads in self.worker_loads.values() for load in loads]
        return self.local.model_loads() + remote

    def close(self) -> None:
        self.local.close()
        self._close_workers()
        self._kill_workers()
        if self.files is not None:
            with contextlib.suppress(Exception):
                self.ray.kill(self.files)
        self.connection.close()

    def _close_workers(self) -> None:
        """Let each live worker end its LatentSync process and say its final model loads; a
        worker that does not answer in time is killed with what it last reported."""
        pending = {worker.handle.close.remote(): worker for worker in self._live_workers()}
        if not pending:
            return
        ready, late = self.ray.wait(list(pending), num_returns=len(pending), timeout=CLOSE_TIMEOUT_S)
        for ref in ready:
            worker = pending[ref]
            try:
                self.worker_loads[id(worker)] = self.ray.get(ref)
            except Exception as exc:  # it died: its last report stands, and the user is told
                self.events(f"GPU worker on {worker.node} did not close cleanly ({type(exc).__name__}); "
                            "its model loads are as it last reported them")
        for ref in late:
            self.events(f"GPU worker on {pending[ref].node} did not close within {CLOSE_TIMEOUT_S:g} s; killed")

    def summary(self) -> dict[str, Any]:
        """For `render --json`: the workers, the retries, and per remote job the seconds on
        its worker against the round trip the controller saw (the difference is the cost of
        dispatch and of bringing the outputs home)."""
        return {"address": self.address, "startup_seconds": round(self.startup_seconds, 3),
                "workers": self.started, "retries": self.retries, "jobs": self.jobs}

    # -- remote jobs ----------------------------------------------------------------------

    def _submit(self, remote: Remote) -> None:
        job = remote.job
        payload = {
            "episode": job.episode_id, "stage": job.stage, "params": job.params,
            "inputs": {name: self._ref(ref) for name, ref in job.inputs.items()},
            "upstream": {name: self._ref(ref) for name, ref in job.upstream.items()},
            "prepared": {name: self._ref(ref) for name, ref in job.prepared.items()},
            "settings": self.project.settings,
        }
        remote.submitted = time.monotonic()
        self.running[remote.worker.handle.run.remote(payload)] = remote
        self.events(f"{job.episode_id} · {job.stage} → {remote.worker.node}")

    @staticmethod
    def _ref(ref) -> dict[str, str]:
        """A file as a job names it on the wire: its path on the controller, hash, extension."""
        return {"path": str(ref.path), "hash": ref.hash, "ext": Path(ref.path).suffix}

    def _collect(self, ref) -> Result | None:
        """The result of a finished remote call, its outputs home; None when it was retried."""
        remote = self.running.pop(ref)
        job = remote.job
        try:
            found = self.ray.get(ref)
            return self._fetch(remote, found)
        except self.ray.exceptions.RayActorError as exc:
            # The worker (or its whole host) died, before or while sending: run it elsewhere.
            return self._retry(remote, f"{remote.worker.node} was lost ({type(exc).__name__})")
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.cause if exc.cause is not None else exc
            return Result(job, node=remote.worker.node, error=f"on {remote.worker.node}: {type(cause).__name__}: {cause}",
                          details=str(exc))
        except self.ray.exceptions.TaskCancelledError:
            return Result(job, node=remote.worker.node, error="cancelled")

    def _fetch(self, remote: Remote, found: dict[str, Any]) -> Result:
        """Pull the outputs into a scratch folder of the store's tmp, each checked by hash."""
        job = remote.job
        tmp = self.local.tmp
        tmp.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"{job.episode_id}-{job.stage}-", dir=tmp))
        try:
            outputs = {}
            for name, output in found["outputs"].items():
                target = scratch / f"{name}{output['ext']}"
                stream = remote.worker.handle.send.remote(output["hash"], output["ext"])
                size = receive((self.ray.get(chunk) for chunk in stream), target, output["hash"])
                outputs[name] = OutputFile(target, output["hash"], size)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        self.jobs.append({"job": job.id, "node": found["node"], "attempt": remote.attempts,
                          "worker_seconds": found["seconds"], "inputs_seconds": found["transfer_seconds"],
                          "round_trip_seconds": round(time.monotonic() - remote.submitted, 3),
                          "output_bytes": sum(output.size for output in outputs.values())})
        self.worker_loads[id(remote.worker)] = found["model_loads"]
        return Result(job, outputs, found["metrics"], node=found["node"], seconds=found["seconds"], scratch=scratch)

    def _retry(self, remote: Remote, message: str) -> Result | None:
        self._retire(remote.worker)
        remote.errors.append(message)
        live = self._live_workers()
        job = remote.job
        if remote.attempts >= MAX_ATTEMPTS or not live:
            return Result(job, node=remote.worker.node, error="; ".join(remote.errors)
                          + ("" if live else "; no GPU worker is left on the cluster"))
        worker = self.slot_worker.get(remote.slot) or live[0]
        self.retries.append(f"{job.episode_id} · {job.stage}: {message}; retried on {worker.node}")
        self.events(f"{job.episode_id} · {job.stage}: {message}; retrying on another host")
        self._submit(Remote(job, remote.slot, worker, remote.attempts + 1, remote.errors))
        return None

    def _kill_workers(self) -> None:
        """Kill the workers explicitly: a dropped handle would hold its GPU until collected."""
        for worker in self._live_workers():
            with contextlib.suppress(Exception):
                self.ray.kill(worker.handle)
        self.slot_worker.clear()


def _left(deadline: float | None, cap: float | None = None) -> float | None:
    if deadline is None:
        return cap
    left = max(0.0, deadline - time.monotonic())
    return left if cap is None else min(left, cap)

