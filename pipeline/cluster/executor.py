"""A render whose lip-sync jobs run on a Ray cluster while the controller does the rest.

The controller keeps every episode moving: it runs the CPU stages itself (their inputs and
outputs are already in its store, so moving them to a host would cost more than it saves),
hands each lip-sync job to the cluster as soon as its source is ready, and records every stage
the moment it finishes, in completion order. Only this process writes the store, the run cache
and alpha.lock, through the same temporary-name-then-rename path as a local render; so a
killed controller resumes like a local render, and a stage's outputs are the same bytes
wherever it ran.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..execute import EpisodeOutcome, Executor
from ..plan.plan import EpisodePlan, StagePlan, key_digest
from ..project.schema import job_gpus
from ..report import QualityGateFailure
from .backend import Cluster, RemoteJob, SlotKind

REMOTE_STAGES = frozenset({"lipsync"})
WAIT_SLICE_S = 0.5


@dataclass
class EpisodeRun:
    plan: EpisodePlan
    outcome: EpisodeOutcome
    started: float
    recorded: dict[str, dict]
    index: int = 0
    records: dict[str, dict] = field(default_factory=dict)
    produced: dict[str, dict[str, str]] = field(default_factory=dict)
    waiting: bool = False  # a stage of it is on the cluster
    done: bool = False

    @property
    def before_gpu(self) -> bool:
        return any(s.stage.name in REMOTE_STAGES for s in self.plan.stages[self.index:])


class ClusterExecutor(Executor):
    def __init__(self, *args, cluster: Cluster, **kwargs):
        super().__init__(*args, **kwargs)
        self.cluster = cluster

    def slot_kinds(self, plans: list[EpisodePlan]) -> set[SlotKind]:
        kinds = set()
        for plan in plans:
            lipsync = self.project.episodes[plan.id].settings.lipsync
            if any(s.stage.name in REMOTE_STAGES and (s.run or self.force) for s in plan.stages):
                kinds.add(SlotKind(job_gpus(lipsync), lipsync.backend == "latentsync"))
        return kinds

    def render(self, plans: list[EpisodePlan]) -> list[EpisodeOutcome]:
        runs = [EpisodeRun(plan, EpisodeOutcome(plan.id, ok=False, version=plan.version), time.monotonic(),
                           (self.lock.entry(plan.id) or {}).get("stages", {})) for plan in plans]
        for run in runs:
            self.reporter.episode_started(run.plan)
        try:
            while True:
                run = self._next_local(runs)
                if run is not None:
                    self._step(run)
                    continue
                if not self.cluster.busy():
                    break
                completion = self.cluster.next_completion(timeout=WAIT_SLICE_S)
                if completion is not None:
                    self._completed(completion)
                if not self.keep_going and any(r.done and not r.outcome.ok for r in runs):
                    break
        except BaseException:
            self.cluster.cancel()
            raise
        finally:
            self.hashes.save()
        return [run.outcome for run in runs if run.done]

    def _next_local(self, runs: list[EpisodeRun]) -> EpisodeRun | None:
        """The episode to advance on the controller now: those still before lip-sync first, so
        the cluster gets its jobs early; then the one closest to done, so it gets recorded."""
        ready = [run for run in runs if not run.done and not run.waiting]
        if not ready:
            return None
        return min(ready, key=lambda run: (not run.before_gpu, -run.index))

    def _step(self, run: EpisodeRun) -> None:
        """Advance one episode by one stage (or hand its stage to the cluster)."""
        try:
            if run.index == len(run.plan.stages):
                self._finish(run)
                return
            stage_plan = run.plan.stages[run.index]
            name = stage_plan.stage.name
            upstream = {key: value for key, value in run.produced.items()
                        if key.split(".", 1)[0] in stage_plan.stage.upstream}
            if not stage_plan.run and not self.force:
                run.outcome.stages.append({"name": name, "how": "reused", "seconds": 0.0, "node": "local"})
                self._advance(run, name, run.recorded[name])
            elif name in REMOTE_STAGES:
                self._remote(run, stage_plan, upstream)
            else:
                self._advance(run, name, self._run_stage(run.plan.id, stage_plan, upstream, run.outcome))
        except Exception as exc:  # one episode's failure must not stop the others
            self._fail(run, f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def _advance(self, run: EpisodeRun, name: str, record: dict) -> None:
        run.records[name] = record
        for output, value in record["outputs"].items():
            run.produced[f"{name}.{output}"] = value
        run.index += 1

    def _remote(self, run: EpisodeRun, stage_plan: StagePlan, upstream: dict[str, dict]) -> None:
        stage, key = stage_plan.stage, stage_plan.key
        upstream_hashes = {name: value["hash"] for name, value in upstream.items()}
        digest = key_digest(stage.name, key, upstream_hashes)
        self.reporter.stage_started(run.plan.id, stage.name)
        cached = None if self.force else self.runs.get(digest)
        if cached is not None and self._outputs_intact(cached["outputs"]):
            run.outcome.note(stage.name, "reused")
            self.reporter.stage_finished(run.plan.id, stage.name, "reused", 0.0)
            self._advance(run, stage.name, {**key.record(), "upstream": upstream_hashes, **cached})
            return
        missing = [name for name, value in key.inputs.items() if not self.project.path(value["path"]).is_file()]
        if missing:
            raise FileNotFoundError(f"input files vanished since the plan: {', '.join(missing)}")
        lipsync = self.project.episodes[run.plan.id].settings.lipsync
        payload = {
            "episode": run.plan.id, "stage": stage.name, "params": key.params,
            "inputs": {name: _ref(value) for name, value in key.inputs.items()},
            "upstream": {name: _ref(value) for name, value in upstream.items()},
            "settings": self.project.settings,
        }
        run.waiting = True
        self.cluster.submit(RemoteJob(SlotKind(job_gpus(lipsync), lipsync.backend == "latentsync"), payload,
                                      (run, stage_plan, upstream_hashes, digest, time.monotonic())))

    def _completed(self, completion) -> None:
        run, stage_plan, upstream_hashes, digest, submitted = completion.job.context
        run.waiting = False
        name = stage_plan.stage.name
        if completion.result is None:
            self._fail(run, f"{name} failed on the cluster: {completion.error}", None)
            return
        result = completion.result
        try:
            placed = self.cluster.fetch(result, self.store)
        except Exception as exc:
            if isinstance(exc, self.cluster.ray.exceptions.RayActorError):
                retry = self.cluster.lost_during_fetch(completion.job, result, exc)
                if retry is None:
                    run.waiting = True
                    return
                self._fail(run, f"{name} failed on the cluster: {retry.error}", None)
            else:
                self._fail(run, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        outputs = {}
        for output, (digest_out, ext) in placed.items():
            relative = self.store.relative(digest_out, ext)
            self.hashes.remember(relative, digest_out)
            outputs[output] = {"path": relative, "hash": digest_out}
        cached = {"outputs": outputs, "metrics": result["metrics"], "seconds": result["seconds"]}
        self.runs.put(digest, cached)
        run.outcome.note(name, "ran", result["seconds"], result["node"])
        self.reporter.stage_finished(run.plan.id, f"{name} on {result['node']}", "ran", result["seconds"])
        self._advance(run, name, {**stage_plan.key.record(), "upstream": upstream_hashes, **cached})

    def _finish(self, run: EpisodeRun) -> None:
        try:
            self._gate_and_record(run.plan, run.records, run.outcome)
        except QualityGateFailure as exc:
            run.outcome.error = str(exc)
        run.done = True
        run.outcome.seconds = time.monotonic() - run.started
        self.hashes.save()
        self.reporter.episode_finished(run.outcome)

    def _fail(self, run: EpisodeRun, error: str, details: str | None) -> None:
        run.outcome.error = error
        if details:
            run.outcome.log = self._write_log(run.plan.id, details)
        run.done = True
        run.waiting = False
        run.outcome.seconds = time.monotonic() - run.started
        self.reporter.episode_finished(run.outcome)


def _ref(value: dict[str, Any]) -> dict[str, str]:
    """A file as a job names it: the hosts find it by hash, the extension keeps tools happy."""
    return {"path": value["path"], "hash": value["hash"], "ext": PurePosixPath(value["path"]).suffix}
