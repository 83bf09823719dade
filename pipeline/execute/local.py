"""The local backend: stages in threads of this process, one GPU slot per device.

Each started job gets a daemon thread (so an interrupted render never waits for one at exit)
and a private work folder under the store's tmp folder, named ``<episode>-<stage>-*``. The
thread runs the stage, hashes its outputs and puts a :class:`Result` on a queue; it never
touches the store, the run cache or the lock. Jobs on a GPU slot see only their device
(``CUDA_VISIBLE_DEVICES`` of the model process) and share the slot's warm model worker.

Cancelling sets an event that every progress call checks: the stage's own code unwinds from
there (ffmpeg children and the LatentSync process group are killed by their owners on the
way out), and the warm workers are killed at once for stages that report no progress.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from ..plan.hashing import hash_file
from ..project.schema import ProjectSettings
from ..stages import STAGES, StageRun
from .jobs import PREPARE, Job, ModelLoad, OutputFile, Result

STAGE_BY_NAME = {stage.name: stage for stage in STAGES}
MAX_DEFAULT_JOBS = 8


class Cancelled(BaseException):
    """Raised inside a stage's progress callback once the render is being stopped.

    A BaseException, so that stage code that handles ``Exception`` still unwinds."""


def default_jobs() -> int:
    """CPU slots when ``--jobs`` is not given: the CPUs this process may use (at most 8: each
    CPU stage already drives a multi-threaded ffmpeg)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_JOBS, usable))


def gpu_devices() -> list[str]:
    """The GPU ids this machine offers: ``CUDA_VISIBLE_DEVICES`` when set, else nvidia-smi's.
    With neither, one slot "0": GPU jobs then run one at a time and the model itself decides
    whether it can run (LatentSync says so in its log)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip():
        return [part.strip() for part in visible.split(",") if part.strip()]
    exe = shutil.which("nvidia-smi")
    if exe is not None:
        try:
            out = subprocess.run([exe, "--query-gpu=index", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        ids = [line.strip() for line in out.splitlines() if line.strip()]
        if ids:
            return ids
    return ["0"]


ProgressFn = Callable[[Job, int, int], None]


class LocalBackend:
    name = "local"

    def __init__(self, root: Path, settings: ProjectSettings, tmp: Path, jobs: int | None = None,
                 gpus: list[str] | None = None):
        self.root = root
        self.settings = settings
        self.tmp = tmp
        self.cpu_slots = jobs if jobs is not None else default_jobs()
        self.gpu_slots = list(gpus) if gpus is not None else gpu_devices()
        self._done: queue.Queue[Result] = queue.Queue()
        self._cancel = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        from ..stages.lipsync.latentsync import ModelWorkers

        self.workers = ModelWorkers(tmp / "workers", node=self.name)

    # -- the seam the scheduler uses ----------------------------------------------------

    def slots(self) -> tuple[list[str], int]:
        """(GPU slot names, number of CPU slots)."""
        return [f"gpu{device}" for device in self.gpu_slots], self.cpu_slots

    def start(self, job: Job, slot: str, progress: ProgressFn) -> None:
        device = slot[3:] if slot.startswith("gpu") else None
        thread = threading.Thread(target=self._run, args=(job, device, progress), daemon=True,
                                  name=f"alpha {job.id} on {slot}")
        self._threads[job.id] = thread
        thread.start()

    def next_result(self, timeout: float | None) -> Result | None:
        try:
            result = self._done.get(timeout=timeout)
        except queue.Empty:
            return None
        self._threads.pop(result.job.id, None)
        return result

    def cancel(self, grace: float) -> None:
        """Stop every job in flight; wait up to `grace` seconds for their threads to unwind."""
        self._cancel.set()
        self.workers.kill_all()
        deadline = time.monotonic() + grace
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def model_loads(self) -> list[ModelLoad]:
        return list(self.workers.loads)

    def close(self) -> None:
        self.workers.close_all()

    # -- one job, in its thread ---------------------------------------------------------

    def _run(self, job: Job, device: str | None, progress: ProgressFn) -> None:
        started = time.monotonic()
        work: Path | None = None
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=f"{job.episode_id}-{job.stage}-{job.phase}-", dir=self.tmp))

            def report(done: int, total: int) -> None:
                if self._cancel.is_set():
                    raise Cancelled()
                progress(job, done, total)

            run = StageRun(
                episode_id=job.episode_id, params=job.params,
                inputs={name: ref.path for name, ref in job.inputs.items()},
                upstream={name: ref.path for name, ref in job.upstream.items()},
                work=work, progress=report, root=self.root, settings=self.settings,
                device=device, workers=self.workers,
                prepared={name: ref.path for name, ref in job.prepared.items()},
            )
            stage = STAGE_BY_NAME[job.stage]
            result = stage.prepare(run) if job.phase == PREPARE else stage.run(run)
            outputs = {}
            for name, path in result.outputs.items():
                outputs[name] = OutputFile(path, hash_file(path), path.stat().st_size)
            self._done.put(Result(job, outputs, result.metrics, node=self.name,
                                  seconds=time.monotonic() - started, scratch=work))
        except Cancelled:
            self._done.put(Result(job, error="cancelled", seconds=time.monotonic() - started,
                                  scratch=work))
        except BaseException as exc:  # reported to the controller, which fails the episode
            self._done.put(Result(job, error=f"{type(exc).__name__}: {exc}", details=traceback.format_exc(),
                                  seconds=time.monotonic() - started, scratch=work))
