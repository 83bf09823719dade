"""Carry out a plan: run the stale stages of each episode, store outputs, record the lock.

Each finished stage is recorded in the run cache at once and each finished episode in
alpha.lock at once, so an interruption loses at most the stage in flight. Episodes fail
independently: one failure does not stop the others.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .plan.hashing import HashCache
from .plan.lock import Lock, write_lock
from .plan.plan import EpisodePlan, StagePlan, key_digest
from .project.model import Project
from .report import QualityGateFailure, build_report, check_gate, quality_figures, write_report
from .stages import StageRun
from .store import RunCache, Store


class Reporter(Protocol):
    def episode_started(self, plan: EpisodePlan) -> None: ...
    def stage_started(self, episode_id: str, stage: str) -> None: ...
    def stage_progress(self, done: int, total: int) -> None: ...
    def stage_finished(self, episode_id: str, stage: str, how: str, seconds: float) -> None: ...
    def episode_finished(self, outcome: "EpisodeOutcome") -> None: ...


@dataclass
class EpisodeOutcome:
    id: str
    ok: bool
    version: int
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    error: str | None = None
    log: str | None = None
    seconds: float = 0.0
    # Per stage, in order: {"name", "how": "ran" | "reused", "seconds", "node"}.
    stages: list[dict[str, Any]] = field(default_factory=list)

    def note(self, stage: str, how: str, seconds: float = 0.0, node: str = "local") -> None:
        self.stages.append({"name": stage, "how": how, "seconds": round(seconds, 3), "node": node})
        (self.ran if how == "ran" else self.reused).append(stage)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "version": self.version, "ran": self.ran,
                "reused": self.reused, "stages": self.stages, "error": self.error, "log": self.log,
                "seconds": round(self.seconds, 3)}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Executor:
    def __init__(self, project: Project, lock: Lock, hashes: HashCache, reporter: Reporter,
                 force: bool = False, keep_going: bool = True):
        self.project = project
        self.lock = lock
        self.hashes = hashes
        self.reporter = reporter
        self.force = force
        self.keep_going = keep_going
        self.store = Store(project.state_dir)
        self.runs = RunCache(project.state_dir)

    def render(self, plans: list[EpisodePlan]) -> list[EpisodeOutcome]:
        outcomes = []
        for plan in plans:
            outcome = self.render_episode(plan)
            outcomes.append(outcome)
            if not outcome.ok and not self.keep_going:
                break
        return outcomes

    def render_episode(self, plan: EpisodePlan) -> EpisodeOutcome:
        started = time.monotonic()
        outcome = EpisodeOutcome(plan.id, ok=False, version=plan.version)
        self.reporter.episode_started(plan)
        try:
            records = self._run_stages(plan, outcome)
            self._gate_and_record(plan, records, outcome)
        except QualityGateFailure as exc:
            outcome.error = str(exc)
        except Exception as exc:  # one episode's failure must not stop the others
            outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.log = self._write_log(plan.id, traceback.format_exc())
        finally:
            self.hashes.save()
        outcome.seconds = time.monotonic() - started
        self.reporter.episode_finished(outcome)
        return outcome

    def _run_stages(self, plan: EpisodePlan, outcome: EpisodeOutcome) -> dict[str, dict]:
        recorded = (self.lock.entry(plan.id) or {}).get("stages", {})
        records: dict[str, dict] = {}
        produced: dict[str, dict[str, str]] = {}  # "<stage>.<output>" -> {"path", "hash"}
        for stage_plan in plan.stages:
            name = stage_plan.stage.name
            upstream = {key: value for key, value in produced.items()
                        if key.split(".", 1)[0] in stage_plan.stage.upstream}
            if not stage_plan.run and not self.force:
                record = recorded[name]
                outcome.stages.append({"name": name, "how": "reused", "seconds": 0.0, "node": "local"})
            else:
                record = self._run_stage(plan.id, stage_plan, upstream, outcome)
            records[name] = record
            for output, value in record["outputs"].items():
                produced[f"{name}.{output}"] = value
        return records

    def _run_stage(self, episode_id: str, stage_plan: StagePlan, upstream: dict[str, dict],
                   outcome: EpisodeOutcome) -> dict:
        stage, key = stage_plan.stage, stage_plan.key
        upstream_hashes = {name: value["hash"] for name, value in upstream.items()}
        digest = key_digest(stage.name, key, upstream_hashes)
        self.reporter.stage_started(episode_id, stage.name)
        cached = None if self.force else self.runs.get(digest)
        if cached is not None and self._outputs_intact(cached["outputs"]):
            outcome.note(stage.name, "reused")
            self.reporter.stage_finished(episode_id, stage.name, "reused", 0.0)
            return {**key.record(), "upstream": upstream_hashes, **cached}

        missing = [name for name, value in key.inputs.items() if not self.project.path(value["path"]).is_file()]
        if missing:
            raise FileNotFoundError(f"input files vanished since the plan: {', '.join(missing)}")
        started = time.monotonic()
        self.store.tmp.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{episode_id}-{stage.name}-", dir=self.store.tmp))
        try:
            result = stage.run(StageRun(
                episode_id=episode_id,
                params=key.params,
                inputs={name: self.project.path(value["path"]) for name, value in key.inputs.items()},
                upstream={name: self.project.path(value["path"]) for name, value in upstream.items()},
                work=work,
                progress=self.reporter.stage_progress,
                root=self.project.root,
                settings=self.project.settings,
            ))
            outputs = {}
            for name, temp in result.outputs.items():
                ext = "".join(temp.suffixes[-1:])
                digest_out = self.store.put(temp, ext)
                relative = self.store.relative(digest_out, ext)
                self.hashes.remember(relative, digest_out)
                outputs[name] = {"path": relative, "hash": digest_out}
        finally:
            shutil.rmtree(work, ignore_errors=True)
        seconds = time.monotonic() - started
        cached = {"outputs": outputs, "metrics": result.metrics, "seconds": round(seconds, 3)}
        self.runs.put(digest, cached)
        outcome.note(stage.name, "ran", seconds)
        self.reporter.stage_finished(episode_id, stage.name, "ran", seconds)
        return {**key.record(), "upstream": upstream_hashes, **cached}

    def _outputs_intact(self, outputs: dict[str, dict]) -> bool:
        return all(self.hashes.hash_if_exists(value["path"]) == value["hash"] for value in outputs.values())

    def _gate_and_record(self, plan: EpisodePlan, records: dict[str, dict], outcome: EpisodeOutcome) -> None:
        """Judge the render by its quality gate, write its report, and record it if it passed."""
        how = {**{name: "ran" for name in outcome.ran}, **{name: "reused" for name in outcome.reused}}
        version = plan.version + 1
        episode = self.project.episodes[plan.id].settings
        violations = check_gate(episode.quality, quality_figures(records))
        report = build_report(self.project, plan.id, version, records, how, violations)
        if violations:
            path = write_report(self.project, report, f"failed-{dt.datetime.now():%Y%m%d-%H%M%S}")
            raise QualityGateFailure(f"quality gate: {', '.join(map(str, violations))} (report: {path}); "
                                     "its stages are kept, so re-running after a fix costs only what changed")
        path = write_report(self.project, report, f"v{version}")
        outcome.version = self._record(plan, records, path, report["quality"])
        outcome.ok = True

    def _record(self, plan: EpisodePlan, records: dict[str, dict], report: str, quality: dict) -> int:
        entry = self.lock.entry(plan.id)
        history = list(entry["history"]) if entry else []
        version = plan.version + 1
        reasons = [reason.as_json() for reason in plan.reasons]
        history.append({"version": version, "at": now_iso(),
                        "action": "force" if self.force and not reasons else "render",
                        "reasons": reasons})
        self.lock.episodes[plan.id] = {"version": version, "rendered_at": now_iso(), "stages": records,
                                       "history": history, "report": report, "quality": quality}
        write_lock(self.lock)
        return version

    def _write_log(self, episode_id: str, text: str) -> str:
        logs = self.project.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"{episode_id}-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
        path.write_text(text)
        return str(path.relative_to(self.project.root))
