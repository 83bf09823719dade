"""The plan: which episodes and stages are stale, and exactly why (old -> new).

The plan only compares keys; it never runs anything. A stage's key has separate parts (code
version, resolved parameters, input file hashes, checkpoint hash, upstream output hashes), and
each part is compared on its own so that every reason names what changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..project.model import Project
from ..stages import STAGES, Stage, StageSpec
from .hashing import HashCache, hash_bytes
from .lock import Lock

REASON_KINDS = ("new", "param", "input", "checkpoint", "code", "output")


@dataclass(frozen=True)
class Reason:
    kind: str
    field: str | None = None
    old: Any = None
    new: Any = None
    path: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.field is not None:
            data["field"] = self.field
        if self.path is not None:
            data["path"] = self.path
        if self.kind != "new":
            data["old"], data["new"] = self.old, self.new
        return data


@dataclass
class StageKey:
    """The parts of a stage's key as they stand now."""

    code: int
    params: dict[str, Any]
    inputs: dict[str, dict[str, str]]  # field -> {"path", "hash"}
    checkpoint: dict[str, str] | None

    def record(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params, "inputs": self.inputs,
                "checkpoint": self.checkpoint}


def key_digest(stage: str, key: StageKey, upstream: dict[str, str]) -> str:
    """The run-cache digest: content only, so renaming an input file changes nothing."""
    canonical = {
        "stage": stage, "code": key.code, "params": key.params,
        "inputs": {name: value["hash"] for name, value in key.inputs.items()},
        "checkpoint": key.checkpoint["hash"] if key.checkpoint else None,
        "upstream": upstream,
    }
    return hash_bytes(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())


@dataclass
class StagePlan:
    stage: Stage
    key: StageKey
    run: bool
    reasons: list[Reason] = field(default_factory=list)
    because_upstream: bool = False
    gpus: int = 0  # what one run holds (StageSpec.gpus); the scheduler's business, not the key's


@dataclass
class EpisodePlan:
    id: str
    version: int
    stages: list[StagePlan]
    inputs: dict[str, dict[str, str]]

    @property
    def stale(self) -> bool:
        return any(stage.run for stage in self.stages)

    @property
    def reasons(self) -> list[Reason]:
        seen: set = set()
        merged: list[Reason] = []
        for stage in self.stages:
            for reason in stage.reasons:
                identity = (reason.kind, reason.field, reason.path)
                if identity not in seen:
                    seen.add(identity)
                    merged.append(reason)
        return merged

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "stale": self.stale, "version": self.version,
            "reasons": [reason.as_json() for reason in self.reasons],
            "inputs": self.inputs,
            "stages": [{"name": s.stage.name, "run": s.run,
                        "reasons": [r.as_json() for r in s.reasons],
                        "after_upstream": s.because_upstream} for s in self.stages],
        }


def current_key(stage: Stage, spec: StageSpec, hashes: HashCache) -> StageKey:
    inputs = {name: {"path": path, "hash": hashes.hash(path)} for name, path in spec.inputs.items()}
    checkpoint = None
    if spec.checkpoint is not None:
        checkpoint = {"path": spec.checkpoint, "hash": hashes.hash_if_exists(spec.checkpoint)}
    return StageKey(stage.version, _jsonable(spec.params), inputs, checkpoint)


def _jsonable(value: Any) -> Any:
    """Parameters in the form they come back from the JSON lock (tuples become lists)."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def plan_project(project: Project, lock: Lock, hashes: HashCache,
                 only: list[str] | None = None, force: bool = False) -> list[EpisodePlan]:
    episodes = [project.episodes[name] for name in only] if only else project.episodes.values()
    return [plan_episode(project, ep.id, lock, hashes, force) for ep in episodes]


def plan_episode(project: Project, episode_id: str, lock: Lock, hashes: HashCache,
                 force: bool = False) -> EpisodePlan:
    episode = project.episodes[episode_id].settings
    entry = lock.entry(episode_id)
    stages: list[StagePlan] = []
    runs: set[str] = set()
    inputs: dict[str, dict[str, str]] = {}
    for stage in STAGES:
        spec = stage.spec(episode, project)
        key = current_key(stage, spec, hashes)
        inputs.update(key.inputs)
        recorded = (entry or {}).get("stages", {}).get(stage.name)
        if entry is None:
            reasons = [Reason("new")]
        elif recorded is None:
            reasons = [Reason("code", field=stage.name, old=None, new=stage.version)]
        else:
            reasons = compare(stage.name, recorded, key) + check_outputs(stage.name, recorded, hashes)
        after_upstream = any(name in runs for name in stage.upstream)
        run = bool(reasons) or after_upstream or force
        if run:
            runs.add(stage.name)
        stages.append(StagePlan(stage, key, run, reasons, after_upstream and not reasons, spec.gpus))
    # Published beside the video, never rendered into it: an input of the episode, not of a stage.
    if episode.captions is not None:
        inputs["captions"] = {"path": episode.captions, "hash": hashes.hash(episode.captions)}
    return EpisodePlan(episode_id, lock.version(episode_id), stages, inputs)


def compare(stage_name: str, recorded: dict[str, Any], key: StageKey) -> list[Reason]:
    """Why a stage's recorded key differs from its current one, part by part."""
    reasons: list[Reason] = []
    if recorded.get("code") != key.code:
        reasons.append(Reason("code", field=stage_name, old=recorded.get("code"), new=key.code))
    # The equality checks up front keep the common case (nothing changed) cheap.
    if recorded.get("params") != key.params:
        old_params = _flatten(recorded.get("params", {}))
        new_params = _flatten(key.params)
        for name in sorted(old_params.keys() | new_params.keys()):
            if old_params.get(name) != new_params.get(name):
                reasons.append(Reason("param", field=name, old=old_params.get(name), new=new_params.get(name)))
    old_inputs = recorded.get("inputs", {})
    for name in sorted(old_inputs.keys() | key.inputs.keys()) if old_inputs != key.inputs else ():
        old, new = old_inputs.get(name), key.inputs.get(name)
        if (old or {}).get("hash") != (new or {}).get("hash"):
            reasons.append(Reason("input", field=name, path=(new or old)["path"],
                                  old=(old or {}).get("hash"), new=(new or {}).get("hash")))
    old_checkpoint = (recorded.get("checkpoint") or {}).get("hash")
    new_checkpoint = (key.checkpoint or {}).get("hash")
    if old_checkpoint != new_checkpoint:
        path = (key.checkpoint or recorded.get("checkpoint") or {}).get("path")
        reasons.append(Reason("checkpoint", field="lipsync.checkpoint", path=path,
                              old=old_checkpoint, new=new_checkpoint))
    return reasons


def check_outputs(stage_name: str, recorded: dict[str, Any], hashes: HashCache) -> list[Reason]:
    reasons = []
    for name, output in sorted(recorded.get("outputs", {}).items()):
        actual = hashes.hash_if_exists(output["path"])
        if actual != output["hash"]:
            reasons.append(Reason("output", field=f"{stage_name}.{name}", path=output["path"],
                                  old=output["hash"], new=actual))
    return reasons


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as manifest key paths: `restore.blend`, `audio.foley[0].gain_db`."""
    flat: dict[str, Any] = {}
    for name, value in params.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, dotted + "."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, item in enumerate(value):
                flat.update(_flatten(item, f"{dotted}[{index}]."))
        else:
            flat[dotted] = value
    return flat
