"""The controller's side of a Ray cluster: connect, hold the stage workers, move results home.

Ray places and runs; alpha only keeps one warm `StageWorker` actor per slot (a slot asks for a
job's GPUs, plus the `latentsync` resource for LatentSync jobs), hands each job to an idle
worker, and learns of completions one at a time (`ray.wait(num_returns=1)`) so that the
controller records each stage as soon as it is done. Retries are decided here, not by Ray
(`max_restarts=0`, `max_task_retries=0`), so every retry is seen and reported.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import Failure, UserError
from ..store import Store
from .transfer import receive

CONNECT_TIMEOUT_S = 5.0
# A worker that cannot start (no host can hold it) is given up after this long.
WORKER_START_TIMEOUT_S = 120.0
CANCEL_GRACE_S = 3.0
LATENTSYNC_RESOURCE = "latentsync"
MAX_ATTEMPTS = 3


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


@dataclass(frozen=True)
class SlotKind:
    """What one worker asks Ray for."""

    gpus: int
    latentsync: bool

    def options(self) -> dict[str, Any]:
        resources = {LATENTSYNC_RESOURCE: 1} if self.latentsync else {}
        # A GPU slot needs no CPU of its own from Ray's books: the model works on the GPU.
        return {"num_gpus": self.gpus, "num_cpus": 0 if self.gpus else 1, "resources": resources,
                "max_restarts": 0, "max_task_retries": 0}


@dataclass
class Worker:
    kind: SlotKind
    handle: Any
    node: str = "?"
    node_id: str = "?"
    busy: bool = False


@dataclass
class RemoteJob:
    """One stage of one episode to run on the cluster."""

    kind: SlotKind
    payload: dict[str, Any]
    context: Any  # the executor's own state for this job
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Completion:
    job: RemoteJob
    result: dict[str, Any] | None  # None: failed for good
    error: str | None = None


class Cluster:
    """A connected Ray cluster and the workers of one render."""

    def __init__(self, address: str, project_root: Path):
        ray = require_ray()
        check_reachable(address)
        # Ray prints cluster events (a node died) on sys.stdout from a thread of its own; stdout
        # carries only alpha's answer (JSON with --json), so they go to stderr until close().
        self.stdout = sys.stdout
        sys.stdout = sys.stderr
        previous = signal.getsignal(signal.SIGTERM)
        try:
            ray.init(address=address, namespace="alpha", logging_level="ERROR", log_to_driver=False,
                     configure_logging=True)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError or its own types here
            sys.stdout = self.stdout
            raise Failure(f"cannot join the Ray cluster at {address}: {type(exc).__name__}: {exc} (this "
                          "machine must run a Ray node of that cluster, with the same Ray and Python: "
                          f"`ray start --address={address} --num-gpus=0`)") from None
        finally:
            # ray.init puts its own SIGTERM handler in; alpha's unwinds like Ctrl-C does.
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from .worker import FileServer

        self.ray = ray
        self.address = address
        self.node_id = ray.get_runtime_context().get_node_id()
        self.files = FileServer.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(self.node_id, soft=False)
        ).remote(str(project_root))
        self.workers: list[Worker] = []
        self.queue: deque[RemoteJob] = deque()
        self.running: dict[Any, tuple[RemoteJob, Worker]] = {}  # ObjectRef -> job, worker
        self.retries: list[str] = []
        self.started: list[dict[str, Any]] = []  # every worker that came up, even if lost since
        self.events: Callable[[str], None] = lambda message: None

    # -- workers -------------------------------------------------------------------------

    def slots(self, kind: SlotKind) -> int:
        """How many workers of `kind` the cluster's live nodes can hold at once."""
        count = 0
        for node in self.ray.nodes():
            if not node["Alive"]:
                continue
            resources = node["Resources"]
            if kind.latentsync and resources.get(LATENTSYNC_RESOURCE, 0) < 1:
                continue
            if kind.gpus:
                count += int(resources.get("GPU", 0) // kind.gpus)
            elif node["NodeID"] != self.node_id:
                count += int(resources.get("CPU", 0))
        return count

    def start_workers(self, kinds: set[SlotKind]) -> None:
        from .worker import StageWorker

        pending = []
        for kind in sorted(kinds, key=lambda k: (k.gpus, k.latentsync)):
            count = self.slots(kind)
            if count == 0:
                what = f"{kind.gpus} GPU(s)" + (" and LatentSync" if kind.latentsync else "")
                raise Failure(f"no node of the cluster at {self.address} offers {what} for a lip-sync "
                              "job (see `alpha doctor --cluster`)")
            for _ in range(count):
                worker = Worker(kind, StageWorker.options(**kind.options()).remote(self.files))
                pending.append((worker, worker.handle.where.remote()))
        for worker, where in pending:
            try:
                info = self.ray.get(where, timeout=WORKER_START_TIMEOUT_S)
            except self.ray.exceptions.GetTimeoutError:
                self.ray.kill(worker.handle)
                continue
            worker.node, worker.node_id = info["node"], info["node_id"]
            self.workers.append(worker)
            self.started.append({"node": info["node"], "node_id": info["node_id"], "gpus": info["gpus"]})
        if not self.workers:
            raise Failure(f"no stage worker could start on the cluster at {self.address}")

    # -- jobs ----------------------------------------------------------------------------

    def submit(self, job: RemoteJob) -> None:
        self.queue.append(job)
        self._dispatch()

    def busy(self) -> bool:
        return bool(self.queue or self.running)

    def next_completion(self, timeout: float | None = None) -> Completion | None:
        """The next job to finish, in completion order; failed attempts are retried here."""
        while self.running:
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=timeout)
            if not ready:
                return None
            job, worker = self.running.pop(ready[0])
            worker.busy = False
            try:
                result = self.ray.get(ready[0])
            except self.ray.exceptions.RayActorError as exc:
                # The worker (or its whole host) died: the job goes to another worker.
                self._retire(worker)
                message = f"{worker.node} was lost ({type(exc).__name__})"
                completion = self._retry(job, message)
            except self.ray.exceptions.RayTaskError as exc:
                cause = exc.cause if exc.cause is not None else exc
                completion = Completion(job, None, f"on {worker.node}: {type(cause).__name__}: {cause}")
            else:
                result["worker"] = worker
                completion = Completion(job, result)
            self._dispatch()
            if completion is not None:
                return completion
        if self.queue:
            raise Failure(f"every worker of the cluster at {self.address} is gone; "
                          f"{len(self.queue)} job(s) could not run")
        return None

    def fetch(self, result: dict[str, Any], store: Store) -> dict[str, tuple[str, str]]:
        """Pull a finished job's outputs into the store; returns output -> (hash, extension).

        Each output is received under a temporary name in the store's tmp folder, checked chunk
        by chunk and as a whole, and only then renamed into the store.
        """
        worker: Worker = result["worker"]
        placed = {}
        for name, output in result["outputs"].items():
            stream = worker.handle.send.remote(output["hash"], output["ext"])
            with store.temporary(output["ext"]) as temp:
                receive((self.ray.get(ref) for ref in stream), temp, output["hash"])
                placed[name] = (store.put(temp, output["ext"]), output["ext"])
        return placed

    def lost_during_fetch(self, job: RemoteJob, result: dict[str, Any], exc: BaseException) -> Completion | None:
        """The host of a finished job died before its outputs were home: run the job again."""
        self._retire(result["worker"])
        return self._retry(job, f"{result['node']} was lost while sending outputs ({type(exc).__name__})")

    def cancel(self) -> None:
        """Stop everything: queued jobs never start, running ones are cancelled, then killed."""
        self.queue.clear()
        for ref in list(self.running):
            with contextlib.suppress(Exception):
                self.ray.cancel(ref)
        if self.running:
            self.ray.wait(list(self.running), num_returns=len(self.running), timeout=CANCEL_GRACE_S)
        self.running.clear()

    def close(self) -> None:
        """Kill the workers (a dropped handle would keep its GPU until garbage collection)."""
        for worker in self.workers:
            with contextlib.suppress(Exception):
                self.ray.kill(worker.handle)
        with contextlib.suppress(Exception):
            self.ray.kill(self.files)
        self.workers.clear()
        with contextlib.suppress(Exception):
            self.ray.shutdown()
        sys.stdout = self.stdout

    def summary(self) -> dict[str, Any]:
        return {"address": self.address, "workers": self.started, "retries": self.retries}

    def _dispatch(self) -> None:
        for job in list(self.queue):
            worker = next((w for w in self.workers if not w.busy and w.kind == job.kind), None)
            if worker is None:
                continue
            self.queue.remove(job)
            worker.busy = True
            job.attempts += 1
            self.running[worker.handle.run.remote(job.payload)] = (job, worker)
            self.events(f"{job.payload['episode']} · {job.payload['stage']} → {worker.node}")

    def _retire(self, worker: Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        with contextlib.suppress(Exception):
            self.ray.kill(worker.handle)

    def _retry(self, job: RemoteJob, message: str) -> Completion | None:
        job.errors.append(message)
        if job.attempts >= MAX_ATTEMPTS or not any(w.kind == job.kind for w in self.workers):
            return Completion(job, None, "; ".join(job.errors))
        self.retries.append(f"{job.payload['episode']} · {job.payload['stage']}: {message}; retried")
        self.events(f"{job.payload['episode']} · {job.payload['stage']}: {message}; retrying on another host")
        self.queue.appendleft(job)
        self._dispatch()
        return None
