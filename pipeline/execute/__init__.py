"""Running a plan: a job graph, a small scheduler, and backends that run jobs.

plan → jobs → scheduler → backend
    :mod:`pipeline.plan` says which stages of which episodes are stale. The controller
    (:class:`~.scheduler.Executor`) turns every stage that must run into a :class:`~.jobs.Job`
    (episode × stage), settles at once what needs no run (kept stages, intact run-cache
    entries), and hands ready jobs to the backend's slots: one GPU slot per device, N CPU slots
    (``alpha render --jobs N``; default :func:`~.local.default_jobs`). GPU jobs first; a CPU
    slot feeds the GPU (the next episode's source, its input clip) while fewer GPU jobs are
    ready than GPU slots, and otherwise takes the episode with the fewest stages left. A stage
    is ready once the stages it consumes are recorded, so the model renders episode k+1 while
    the CPU slots paste back, mux and proof episode k. A GPU stage's CPU preparation (the
    ``prepare`` phase: LatentSync's input clip) is a job of its own on a CPU slot, so the GPU
    never waits for it.

One writer
    Only the controller thread writes: it moves each output into the store (a rename of the
    temporary file), writes the run-cache entry the moment a stage's result arrives (in any
    order), and writes an episode's report and alpha.lock entry the moment its last stage is
    settled and the quality gate passes. Before writing, it re-reads alpha.lock from disk
    (under the project's render lock) so it never writes back stale data. A kill or Ctrl-C
    therefore loses at most the stages in flight; the next render resumes from the run cache.
    An episode's failure skips only its own remaining stages (``--fail-fast``: nothing new
    starts after the first failure; what is in flight still lands in the run cache).

The backend seam (what a Ray backend implements; see :class:`~.scheduler.Backend`)
    ``slots() -> (gpu_slot_names, cpu_slot_count)``
        Slot names are opaque to the scheduler ("gpu0", "gpu1", ...; "cpu0", ...); a GPU slot
        is one device, or one GPU actor of a cluster.
    ``start(job, slot, progress)``
        Start `job` on the free `slot` and return at once. ``progress(job, done, total)`` may be
        called from any thread. Every started job yields exactly one result.
    ``next_result(timeout) -> Result | None``
        The next finished job, in completion order; None after `timeout` seconds.
    ``cancel(grace)``
        Stop every job in flight (Ctrl-C, kill); wait at most `grace` seconds.
    ``model_loads() -> [ModelLoad]``, ``close()``
        The model loads of the batch (``alpha render --json``'s ``model_loads``); end the
        batch's workers.

    A :class:`~.jobs.Job` is plain data: ``episode_id``, ``stage`` (a name in
    :data:`pipeline.stages.STAGES`), ``gpus`` (resources), ``params`` (the stage's resolved
    parameters), ``inputs`` and ``upstream`` (files as :class:`~.jobs.FileRef`: the path on the
    controller's machine and the content hash, so a remote host can fetch by hash and check),
    ``digest`` (the run-cache key), ``phase`` (``"prepare"`` or ``"run"``) and ``prepared``
    (the prepare phase's files, in the store, for the run phase). Machine-local things (the LatentSync checkout, devices)
    come from the backend's own settings, never from the job.

    A :class:`~.jobs.Result` is ``outputs`` ``{name: OutputFile(path, hash, size)}``, where
    ``path`` is a temporary file on the controller's file system (a remote backend streams the
    bytes there and checks the hash), plus ``metrics``, ``node`` (``"local"`` or the host / Ray
    node id), ``seconds``, and on failure ``error`` (one line) and ``details`` (for the log).
    The backend never touches the store, the run cache or the lock.

The local backend (:mod:`.local`) runs each job in a thread of this process; jobs on a GPU
slot share that slot's warm LatentSync worker for the whole batch
(:class:`pipeline.stages.lipsync.latentsync.ModelWorkers`).
"""

from .jobs import FileRef, Job, ModelLoad, OutputFile, Result
from .local import LocalBackend, default_jobs
from .scheduler import Backend, EpisodeOutcome, Executor, Reporter, StageOutcome, now_iso

__all__ = ["Backend", "EpisodeOutcome", "Executor", "FileRef", "Job", "LocalBackend", "ModelLoad",
           "OutputFile", "Reporter", "Result", "StageOutcome", "default_jobs", "now_iso"]
