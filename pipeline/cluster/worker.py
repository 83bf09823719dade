"""What runs on the cluster: the stage worker actor, the controller's file server, host checks.

Imported only where Ray is installed (the `ray` extra) and only when a render or doctor uses a
cluster. The worker runs a stage with exactly the stage code a local render runs; it only makes
the files local first (from its host's hash-keyed cache, receiving what is missing from the
controller as chunks) and keeps the outputs there until the controller has pulled them.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import ray

from .host import Host, load_host
from .transfer import Chunk, HostCache, read_chunks

# While a transfer is under way the worker can take the next job; two pulls at a time keep a
# slow link busy without letting one episode's outputs crowd the object store.
TRANSFER_CONCURRENCY = 2
# Chunks of one transfer that may sit in the object store unread.
CHUNKS_IN_FLIGHT = 4


class Cancelled(KeyboardInterrupt):
    """The controller cancelled this job; raised at the stage's next progress report."""


@ray.remote(concurrency_groups={"transfer": TRANSFER_CONCURRENCY})
class StageWorker:
    """One slot on one host: holds its GPU(s), if any, for its whole life.

    The actor stays up for the whole render, so whatever a backend keeps warm in its process
    (a loaded model) serves every job it gets; the controller kills it explicitly at the end.
    """

    def __init__(self, files: "ray.actor.ActorHandle"):
        from ..stages.lipsync.latentsync import ModelWorkers

        self.files = files
        self.host: Host = load_host()
        self.cache = HostCache(self.host.cache)
        self.node_id = ray.get_runtime_context().get_node_id()
        self.name = self.host.settings.name or self.node_id
        # The warm LatentSync process of this GPU: models loaded once for the whole render.
        self.models = ModelWorkers(self.cache.work_folder("workers-"), node=self.name)

    def where(self) -> dict[str, Any]:
        """Where this worker lives; the controller counts it as started only once this returns."""
        return {"node": self.name, "node_id": self.node_id, "pid": os.getpid(),
                "gpus": [str(gpu) for gpu in ray.get_gpu_ids()],
                "host_file": str(self.host.file) if self.host.file else None}

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one stage; returns its outputs (hash, extension, size), metrics and timing."""
        from ..stages import STAGES, StageRun

        started = time.monotonic()
        stage = next(stage for stage in STAGES if stage.name == job["stage"])
        inputs = {name: self._local(ref) for name, ref in job["inputs"].items()}
        upstream = {name: self._local(ref) for name, ref in job["upstream"].items()}
        prepared = {name: self._local(ref) for name, ref in job.get("prepared", {}).items()}
        received = time.monotonic()
        work = self.cache.work_folder(f"{job['episode']}-{stage.name}-")
        try:
            result = stage.run(StageRun(
                episode_id=job["episode"], params=job["params"], inputs=inputs, upstream=upstream,
                work=work, progress=_cancellation_point, root=self.cache.folder,
                settings=self.host.project_settings(job["settings"]),
                # Ray set CUDA_VISIBLE_DEVICES to this worker's GPU; its id, as a local slot's.
                device=str(ray.get_gpu_ids()[0]) if ray.get_gpu_ids() else None,
                workers=self.models, prepared=prepared,
            ))
            simulated = self.host.settings.simulated_gpu_seconds if stage.name == "lipsync" else 0.0
            _sleep_cancellably(simulated)
            outputs = {}
            for name, temp in result.outputs.items():
                ext = "".join(temp.suffixes[-1:])
                digest, size, _ = self.cache.adopt(temp, ext)
                outputs[name] = {"hash": digest, "ext": ext, "size": size}
        finally:
            shutil.rmtree(work, ignore_errors=True)
        metrics = dict(result.metrics)
        if simulated:
            metrics["simulated_gpu_seconds"] = simulated  # SIMULATION, said where it is recorded
        return {"outputs": outputs, "metrics": metrics, "node": self.name, "node_id": self.node_id,
                "model_loads": self.model_loads(),
                "seconds": round(time.monotonic() - started, 3),
                "transfer_seconds": round(received - started, 3)}

    def model_loads(self) -> list[dict[str, Any]]:
        """Every model load of this worker's LatentSync process, with the episodes it served."""
        return [load.as_json() for load in self.models.loads]

    def close(self) -> list[dict[str, Any]]:
        """End the render: the LatentSync process leaves at the end of its requests. Returns
        the model loads, for the render's report."""
        loads = self.model_loads()
        self.models.close_all()
        return loads

    @ray.method(concurrency_group="transfer")
    def send(self, digest: str, ext: str) -> Iterator[Chunk]:
        """A cached file of this host as hash-checked chunks (the controller pulls outputs so)."""
        yield from read_chunks(self.cache.path(digest, ext))

    def received(self) -> list[dict]:
        return self.cache.received()

    def _local(self, ref: dict[str, str]) -> Path:
        """The file `ref` names, from this host's cache, received from the controller if new."""
        def chunks():
            stream = self.files.send.options(
                _generator_backpressure_num_objects=CHUNKS_IN_FLIGHT).remote(ref["path"], ref["hash"])
            for chunk in stream:
                yield ray.get(chunk)
        return self.cache.fetch(ref["hash"], ref["ext"], chunks, ref["path"])


@ray.remote(num_cpus=0, max_concurrency=8)
class FileServer:
    """Serves the controller's files to the workers; lives on the controller's own node.

    It serves only what a render may hand to a host: the input files of its plans and the
    objects of its store (upstream outputs), never any other path of the controller.
    """

    def __init__(self, files: list[str], store: str):
        self.files = frozenset(files)
        self.store = Path(store).resolve()

    def send(self, path: str, digest: str) -> Iterator[Chunk]:
        resolved = Path(path).resolve()
        if path not in self.files and not resolved.is_relative_to(self.store):
            raise PermissionError(f"{path} is not a file of this render")
        yield from read_chunks(resolved)


@ray.remote(num_cpus=0)
def host_report(project: Any) -> dict[str, Any]:
    """The local doctor's checks, run on the host this task was placed on, with its own settings.

    Checks of what only the controller runs (the Flux restyle of the source stage) are left out.
    """
    import dataclasses
    import platform
    import socket

    from ..doctor import run_checks

    host = load_host()
    here = None if project is None else dataclasses.replace(
        project, root=host.cache, settings=host.project_settings(project.settings))
    checks = [check for check in run_checks(here) if not check.name.lower().startswith("flux")]
    return {"node_id": ray.get_runtime_context().get_node_id(), "name": host.settings.name,
            "hostname": socket.gethostname(), "python": platform.python_version(),
            "ray": ray.__version__, "host_file": str(host.file) if host.file else None,
            "gpus": [str(gpu) for gpu in ray.get_gpu_ids()],
            "checks": [dataclasses.asdict(check) for check in checks]}


def _cancellation_point(done: int, total: int) -> None:
    """The progress callback: the place a running stage learns that its job was cancelled."""
    if ray.get_runtime_context().is_canceled():
        raise Cancelled("cancelled by the controller")


def _sleep_cancellably(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _cancellation_point(0, 0)
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
