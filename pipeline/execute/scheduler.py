"""The controller: turns episode plans into jobs, hands them to slots, records what finishes.

It runs in the caller's thread and is the only code that writes the store, the run cache,
the hash cache, the reports and alpha.lock. Backends only run jobs and report results.

Order of work: a free GPU slot takes the ready GPU job of the longest episode (the model is
the bottleneck, and its time grows with the output's length; ending the batch on the short
ones shortens it). A free CPU slot feeds the GPU first: while fewer GPU jobs are ready or on
their way than there are GPU slots, it takes the work of the longest episode still waiting for
its GPU stage (its source, the GPU stage's prepare phase); otherwise the episode closest to
done (fewest stages left), so that episodes finish, and are recorded, early. Within an episode a stage is ready
when the stages it consumes are recorded; stages the plan keeps, and stages whose run-cache
entry is intact, are settled at once without a slot.

A GPU stage with a prepare phase (:meth:`pipeline.stages.base.Stage.prepares`) runs as two
jobs: the prepare job on a CPU slot, whose outputs go into the store at once, then the run job
on a GPU slot with them. The stage is recorded once, when the run job is done, with the
outputs, metrics and seconds of both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..plan.hashing import HashCache
from ..plan.lock import Lock, lock_record, read_lock, same_outputs, write_lock
from ..plan.plan import EpisodePlan, StagePlan, key_digest
from ..project.model import Project
from ..report import (QualityGateFailure, build_report, check_gate, episode_line, quality_figures,
                      readable_proofs, write_report)
from ..store import RunCache, Store
from .jobs import PREPARE, RUN, FileRef, Job, ModelLoad, Result

# How long the controller waits for a result before it lets the reporter speak (plain
# progress lines for long stages) and how long an interrupted render waits for stages to
# unwind before it gives up on them.
TICK_S = 0.5
CANCEL_GRACE_S = 10.0


class Backend(Protocol):
    """What the scheduler needs of a backend (see :mod:`pipeline.execute`)."""

    name: str

    def slots(self) -> tuple[list[str], int]: ...
    def start(self, job: Job, slot: str, progress) -> None: ...
    def next_result(self, timeout: float | None) -> Result | None: ...
    def cancel(self, grace: float) -> None: ...
    def model_loads(self) -> list[ModelLoad]: ...
    def close(self) -> None: ...


class Reporter(Protocol):
    """What the user sees. Every method but `stage_progress` is called by the controller
    thread; `stage_progress` may come from any thread."""

    def stage_started(self, job: Job, slot: str) -> None: ...
    def stage_progress(self, job: Job, done: int, total: int) -> None: ...
    def stage_finished(self, episode_id: str, stage: str, how: str, seconds: float,
                       slot: str | None) -> None: ...
    def episode_finished(self, outcome: "EpisodeOutcome") -> None: ...
    def tick(self) -> None: ...


@dataclass
class StageOutcome:
    name: str
    how: str            # "ran" | "reused"
    seconds: float
    node: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "how": self.how, "seconds": round(self.seconds, 3), "node": self.node}


@dataclass
class EpisodeOutcome:
    id: str
    ok: bool
    version: int
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    stages: list[StageOutcome] = field(default_factory=list)
    error: str | None = None
    log: str | None = None
    seconds: float = 0.0
    same_output: bool = False  # rendered again, byte for byte what the version already holds
    summary: str | None = None  # figures against the gate, and where the proofs are

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "version": self.version, "ran": self.ran,
                "reused": self.reused, "same_output": self.same_output, "summary": self.summary,
                "stages": [stage.as_json() for stage in self.stages],
                "error": self.error, "log": self.log, "seconds": round(self.seconds, 3)}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class EpisodeFailure(Exception):
    """An episode cannot go on; `details` goes to its log."""

    def __init__(self, message: str, details: str | None = None):
        super().__init__(message)
        self.details = details


class _Episode:
    """One episode's progress through its stages, as the controller sees it."""

    def __init__(self, plan: EpisodePlan, order: int):
        self.plan = plan
        self.order = order
        self.started = time.monotonic()
        self.outcome = EpisodeOutcome(plan.id, ok=False, version=plan.version)
        self.stages = {stage_plan.stage.name: stage_plan for stage_plan in plan.stages}
        self.records: dict[str, dict] = {}
        self.produced: dict[str, dict[str, str]] = {}   # "<stage>.<output>" -> {"path", "hash"}
        self.queued: set[str] = set()
        self.running: set[str] = set()
        self.parked: set[str] = set()    # waiting for the same work, queued by another episode
        # Prepare phases done, by stage: (outputs {name: {"path", "hash"}}, metrics, seconds).
        self.prepared: dict[str, tuple[dict[str, dict[str, str]], dict, float]] = {}
        self.fed: set[str] = set()       # GPU stages whose run job is queued or running
        self.done = False

    @property
    def left(self) -> int:
        return len(self.stages) - len(self.records)

    @property
    def awaits_gpu(self) -> bool:
        """A GPU stage of this episode is still to be run: its CPU work so far feeds the GPU."""
        return any(stage_plan.gpus > 0 and name not in self.records and name not in self.fed
                   for name, stage_plan in self.stages.items())

    def ready(self) -> list[StagePlan]:
        busy = self.records.keys() | self.queued | self.running | self.parked
        return [stage_plan for name, stage_plan in self.stages.items()
                if name not in busy and all(up in self.records for up in stage_plan.stage.upstream)]


class Executor:
    def __init__(self, project: Project, lock: Lock, hashes: HashCache, reporter: Reporter,
                 backend: Backend, force: bool = False, keep_going: bool = True,
                 gpu_work: dict[str, float] | None = None):
        self.project = project
        self.lock = lock
        self.hashes = hashes
        self.reporter = reporter
        self.backend = backend
        self.force = force
        self.keep_going = keep_going
        # Expected GPU work per episode (its output's seconds): the GPU takes, and the CPU
        # feeds, the largest first. Without it, plan order.
        self.gpu_work = gpu_work or {}
        self.store = Store(project.state_dir)
        self.runs = RunCache(project.state_dir)
        self.model_loads: list[ModelLoad] = []
        self._ready: list[tuple[_Episode, Job]] = []
        self._running: dict[str, tuple[_Episode, Job, str]] = {}   # job id -> (episode, job, slot)
        # Identical work (same digest) runs once: later askers park until it is settled.
        self._pending: set[str] = set()                            # digests queued or running
        self._parked: dict[str, list[tuple[_Episode, str]]] = {}
        self._stopping = False
        self._has_gpu = True
        self._gpu_slots = 0
        self._finished: list[EpisodeOutcome] = []

    # -- the loop -----------------------------------------------------------------------

    def render(self, plans: list[EpisodePlan]) -> list[EpisodeOutcome]:
        """Render `plans`; the outcomes of the episodes that finished (ok or not), in plan order.
        Each is recorded (lock, report) the moment it finishes, in whatever order that is."""
        episodes = [_Episode(plan, order) for order, plan in enumerate(plans)]
        gpu_slots, cpu_count = self.backend.slots()
        self._has_gpu = bool(gpu_slots)
        self._gpu_slots = len(gpu_slots)
        free = {"gpu": list(gpu_slots), "cpu": [f"cpu{k}" for k in range(cpu_count)]}
        try:
            for episode in episodes:
                self._advance(episode)
            while True:
                if not self._stopping:
                    self._dispatch(free)
                if not self._running:
                    break
                result = self.backend.next_result(TICK_S)
                if result is None:
                    self.reporter.tick()
                    continue
                episode, job, slot = self._running.pop(result.job.id)
                free["gpu" if slot in gpu_slots else "cpu"].append(slot)
                self._settle(episode, job, slot, result)
        except BaseException:
            self._stopping = True
            self.backend.cancel(CANCEL_GRACE_S)
            raise
        finally:
            self.backend.close()  # workers say their last model loads as they end
            self.model_loads = list(self.backend.model_loads())
            self.hashes.save()
        for episode in episodes:
            order = list(episode.stages)
            episode.outcome.stages.sort(key=lambda stage: order.index(stage.name))
        position = {episode.plan.id: episode.order for episode in episodes}
        return sorted(self._finished, key=lambda outcome: position[outcome.id])

    def _dispatch(self, free: dict[str, list[str]]) -> None:
        for kind in ("gpu", "cpu"):
            while free[kind]:
                candidates = [(episode, job) for episode, job in self._ready if job.kind == kind]
                if not candidates:
                    break
                feeders = [pair for pair in candidates if pair[0].awaits_gpu] if kind == "cpu" else []
                if kind == "gpu":
                    pick = min(candidates, key=self._gpu_priority)
                elif feeders and self._gpu_hungry():
                    pick = min(feeders, key=self._gpu_priority)
                else:
                    pick = min(candidates, key=lambda pair: (pair[0].left, pair[0].order))
                self._ready.remove(pick)
                episode, job = pick
                episode.queued.discard(job.stage)
                if self._reuse_late(episode, job):
                    continue
                slot = free[kind].pop(0)
                episode.running.add(job.stage)
                self._running[job.id] = (episode, job, slot)
                self.reporter.stage_started(job, slot)
                self.backend.start(job, slot, self.reporter.stage_progress)

    def _gpu_priority(self, pair: tuple[_Episode, Job]) -> tuple[float, int]:
        """Longest expected GPU work first (the classic longest-processing-time rule for a
        short makespan), then plan order."""
        episode = pair[0]
        return -self.gpu_work.get(episode.plan.id, 0.0), episode.order

    def _gpu_hungry(self) -> bool:
        """Fewer GPU jobs are ready, or being fed by a running CPU job, than there are GPU
        slots: the next CPU slot should feed the GPU rather than finish an episode."""
        if not self._gpu_slots:
            return False
        ready = sum(1 for _, job in self._ready if job.kind == "gpu")
        feeding = sum(1 for episode, job, _ in self._running.values() if job.kind == "cpu" and episode.awaits_gpu)
        return ready + feeding < self._gpu_slots

    # -- settling stages, in the controller thread -------------------------------------

    def _advance(self, episode: _Episode) -> None:
        """Settle what needs no slot, queue what does, and finish the episode when it can."""
        try:
            progressed = True
            while progressed and not episode.done:
                progressed = False
                for stage_plan in episode.ready():
                    name = stage_plan.stage.name
                    job = self._job_or_record(episode, stage_plan)
                    if job is None:
                        progressed = True
                    elif job.digest in self._pending:
                        episode.parked.add(name)
                        self._parked.setdefault(job.digest, []).append((episode, name))
                    else:
                        self._pending.add(job.digest)
                        episode.queued.add(name)
                        if job.kind == "gpu":
                            episode.fed.add(name)
                        self._ready.append((episode, job))
            if not episode.done and episode.left == 0:
                self._finish(episode)
        except EpisodeFailure as exc:
            self._fail(episode, str(exc), exc.details)
        except QualityGateFailure as exc:
            self._fail(episode, str(exc), None)
        except Exception as exc:  # one episode's failure must not stop the others
            self._fail(episode, f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def _job_or_record(self, episode: _Episode, stage_plan: StagePlan) -> Job | None:
        """Record a stage that needs no run and return None, or return the job to run it."""
        name, key = stage_plan.stage.name, stage_plan.key
        upstream = {output: value for output, value in episode.produced.items()
                    if output.split(".", 1)[0] in stage_plan.stage.upstream}
        upstream_hashes = {output: value["hash"] for output, value in upstream.items()}
        if not stage_plan.run and not self.force:
            self._record_stage(episode, name, (self.lock.entry(episode.plan.id) or {})["stages"][name],
                               "reused", 0.0, "local", None)
            return None
        digest = key_digest(name, key, upstream_hashes)
        if self._reuse(episode, name, digest, upstream_hashes):
            return None
        missing = [field_ for field_, value in key.inputs.items() if not self.project.path(value["path"]).is_file()]
        if missing:
            raise EpisodeFailure(f"input files vanished since the plan: {', '.join(missing)}")
        if stage_plan.gpus and not self._has_gpu:
            raise EpisodeFailure(f"{name} needs a GPU ({name}.gpus: {stage_plan.gpus}) and the "
                                 f"{self.backend.name} backend offers none")
        prepares = stage_plan.gpus > 0 and stage_plan.stage.prepares(key.params)
        return Job(
            episode_id=episode.plan.id, stage=name, gpus=stage_plan.gpus, params=key.params,
            inputs={field_: FileRef(self.project.path(value["path"]), value["hash"])
                    for field_, value in key.inputs.items()},
            upstream={output: FileRef(self.project.path(value["path"]), value["hash"])
                      for output, value in upstream.items()},
            digest=digest, phase=PREPARE if prepares else RUN)

    def _reuse(self, episode: _Episode, name: str, digest: str, upstream_hashes: dict[str, str]) -> bool:
        """Record the stage from the run cache if an intact earlier run matches its digest."""
        cached = None if self.force else self.runs.get(digest)
        if cached is None or not self._outputs_intact(cached["outputs"]):
            return False
        episode.outcome.reused.append(name)
        record = {**episode.stages[name].key.record(), "upstream": upstream_hashes, **cached}
        self._record_stage(episode, name, record, "reused", 0.0, "local", None)
        return True

    def _reuse_late(self, episode: _Episode, job: Job) -> bool:
        """Check the run cache again just before a job starts: work finished since it was
        queued (a shared output repaired by another episode) makes the run unnecessary."""
        upstream_hashes = {output: ref.hash for output, ref in job.upstream.items()}
        if not self._reuse(episode, job.stage, job.digest, upstream_hashes):
            return False
        self._release(job.digest)
        self._advance(episode)
        return True

    def _release(self, digest: str) -> None:
        """The work `digest` is settled (or abandoned): whoever waited for it goes on, finding
        it in the run cache now, or running it itself if it failed."""
        self._pending.discard(digest)
        for waiter, stage in self._parked.pop(digest, []):
            waiter.parked.discard(stage)
            if not waiter.done and not self._stopping:
                self._advance(waiter)

    def _settle(self, episode: _Episode, job: Job, slot: str, result: Result) -> None:
        episode.running.discard(job.stage)
        try:
            if episode.done or (self._stopping and not result.ok):
                pass  # its episode already failed, or the render is being stopped
            elif not result.ok:
                self._fail(episode, result.error or "failed", result.details)
            elif job.phase == PREPARE:
                if self._store_prepared(episode, job, slot, result):
                    return  # the same work goes on: its run job is queued, the digest stays taken
            else:
                self._store_result(episode, job, slot, result)
        finally:
            if result.scratch is not None:
                shutil.rmtree(result.scratch, ignore_errors=True)
        self._release(job.digest)

    def _store_prepared(self, episode: _Episode, job: Job, slot: str, result: Result) -> bool:
        """Keep what a prepare phase made and queue the run job with it; False if it failed."""
        try:
            outputs = self._adopt(result)
        except OSError as exc:
            self._fail(episode, f"cannot store the prepared files of {job.stage}: {exc}", None)
            return False
        episode.prepared[job.stage] = (outputs, result.metrics, result.seconds)
        self.reporter.stage_finished(episode.plan.id, job.name, "ran", result.seconds, slot)
        if self._stopping:
            return False
        run = dataclasses.replace(job, phase=RUN, prepared={
            name: FileRef(self.project.path(value["path"]), value["hash"]) for name, value in outputs.items()})
        episode.queued.add(job.stage)
        episode.fed.add(job.stage)
        self._ready.append((episode, run))
        return True

    def _store_result(self, episode: _Episode, job: Job, slot: str, result: Result) -> None:
        try:
            outputs = self._adopt(result)
        except OSError as exc:
            self._fail(episode, f"cannot store the outputs of {job.stage}: {exc}", None)
            return
        metrics, seconds = result.metrics, result.seconds
        if job.stage in episode.prepared:
            prepared, prepared_metrics, prepared_seconds = episode.prepared.pop(job.stage)
            outputs = {**prepared, **outputs}
            metrics = {**prepared_metrics, **metrics}
            seconds += prepared_seconds
        cached = {"outputs": outputs, "metrics": metrics, "seconds": round(seconds, 3)}
        self.runs.put(job.digest, cached)   # the stage is safe from here on, whatever follows
        upstream_hashes = {output: ref.hash for output, ref in job.upstream.items()}
        episode.outcome.ran.append(job.stage)
        record = {**episode.stages[job.stage].key.record(), "upstream": upstream_hashes, **cached}
        self._record_stage(episode, job.stage, record, "ran", seconds, result.node, slot)
        if not self._stopping:
            self._advance(episode)

    def _adopt(self, result: Result) -> dict[str, dict[str, str]]:
        outputs = {}
        for output, produced in result.outputs.items():
            ext = "".join(produced.path.suffixes[-1:])
            self.store.adopt(produced.path, produced.hash, ext)
            relative = self.store.relative(produced.hash, ext)
            self.hashes.remember(relative, produced.hash)
            outputs[output] = {"path": relative, "hash": produced.hash}
        return outputs

    def _record_stage(self, episode: _Episode, name: str, record: dict, how: str, seconds: float,
                      node: str, slot: str | None) -> None:
        episode.records[name] = record
        for output, value in record["outputs"].items():
            episode.produced[f"{name}.{output}"] = value
        episode.outcome.stages.append(StageOutcome(name, how, seconds, node))
        self.reporter.stage_finished(episode.plan.id, name, how, seconds, slot)

    def _outputs_intact(self, outputs: dict[str, dict]) -> bool:
        return all(self.hashes.hash_if_exists(value["path"]) == value["hash"] for value in outputs.values())

    # -- finishing episodes ---------------------------------------------------------------

    def _fail(self, episode: _Episode, error: str, details: str | None) -> None:
        episode.done = True
        episode.outcome.error = error
        if details:
            episode.outcome.log = self._write_log(episode.plan.id, details)
        self._close(episode)
        if not self.keep_going:
            self._stopping = True
        dropped = [job for other, job in self._ready if other is episode]
        self._ready = [(other, job) for other, job in self._ready if other is not episode]
        for job in dropped:
            self._release(job.digest)

    def _finish(self, episode: _Episode) -> None:
        """Judge the render by its quality gate, write its report, and record it if it passed."""
        episode.done = True
        plan, outcome, records = episode.plan, episode.outcome, episode.records
        how = {stage.name: stage.how for stage in outcome.stages}
        ordered = {name: records[name] for name in episode.stages}
        settings = self.project.episodes[plan.id].settings
        violations = check_gate(settings.quality, quality_figures(ordered))
        fresh = read_lock(self.lock.path)  # under the render lock, but never write back stale data
        # Identical bytes (a --force, or a change the output does not show) are no new version.
        outcome.same_output = same_outputs(fresh.entry(plan.id), ordered)
        version = fresh.version(plan.id) + (0 if outcome.same_output else 1)
        report = build_report(self.project, plan.id, version, ordered, how, violations)
        label = f"failed-{dt.datetime.now():%Y%m%d-%H%M%S}" if violations else f"v{version}"
        outcome.summary = episode_line(report["quality"], settings.quality,
                                       readable_proofs(self.project, plan.id, label, ordered))
        if violations:
            path = write_report(self.project, report, label)
            raise QualityGateFailure(f"quality gate: {', '.join(map(str, violations))} (report: {path}); "
                                     f"its proofs: `alpha proof {plan.id} --failed`; its stages are kept, "
                                     "so re-running after a fix costs only what changed")
        path = write_report(self.project, report, f"v{version}")
        outcome.version = self._record(fresh, plan, ordered, version, path, report["quality"])
        outcome.ok = True
        self._close(episode)

    def _close(self, episode: _Episode) -> None:
        episode.outcome.seconds = time.monotonic() - episode.started
        self._finished.append(episode.outcome)
        self.hashes.save()
        self.reporter.episode_finished(episode.outcome)

    def _record(self, fresh: Lock, plan: EpisodePlan, records: dict[str, dict], version: int,
                report: str, quality: dict) -> int:
        entry = fresh.entry(plan.id)
        history = list(entry["history"]) if entry else []
        reasons = [reason.as_json() for reason in plan.reasons]
        same = entry is not None and entry["version"] == version
        if not (same and not reasons):  # a forced re-render that changed nothing adds no history
            history.append({"version": version, "at": now_iso(),
                            "action": "same-output" if same else "force" if self.force and not reasons else "render",
                            "reasons": reasons})
        rendered_at = entry["rendered_at"] if same else now_iso()
        timing = {step.stage.name: step.stage.timing_metrics for step in plan.stages}
        kept = {name: lock_record(record, timing.get(name, ())) for name, record in records.items()}
        fresh.episodes[plan.id] = {"version": version, "rendered_at": rendered_at, "stages": kept,
                                   "history": history, "report": report, "quality": quality}
        write_lock(fresh)
        self.lock.episodes[plan.id] = fresh.episodes[plan.id]
        return version

    def _write_log(self, episode_id: str, text: str) -> str:
        logs = self.project.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"{episode_id}-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
        path.write_text(text)
        return str(path.relative_to(self.project.root))
