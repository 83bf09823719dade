"""alpha.lock: what was rendered from what, per episode, with its version history.

JSON with sorted keys and one value per line, so it reads and diffs well when committed.
Shape of one episode entry:

    {"version": 3, "rendered_at": "2026-11-25T14:00:00Z",
     "stages": {"<stage>": {"code": 1, "params": {...},
                            "inputs": {"audio.voice": {"path": "media/v.wav", "hash": "..."}},
                            "checkpoint": {"path": "...", "hash": "..."} | null,
                            "upstream": {"source.media": "<hash>"},
                            "outputs": {"video": {"path": ".alpha/store/..", "hash": "..."}},
                            "metrics": {...}}},
     "history": [{"version": 1, "at": "...", "action": "render", "reasons": [...]}, ...]}

Only what the output is made of and what it is: a stage's seconds and its timing metrics
(`Stage.timing_metrics`) live in the render's report, so a re-render on another machine that
gives the same bytes changes no line here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import UserError

LOCK_FORMAT = 1


@dataclass
class Lock:
    path: Path
    episodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def entry(self, episode_id: str) -> dict[str, Any] | None:
        return self.episodes.get(episode_id)

    def version(self, episode_id: str) -> int:
        entry = self.episodes.get(episode_id)
        return entry["version"] if entry else 0


def read_lock(path: Path) -> Lock:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock(path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{path.name}:{exc.lineno}: not valid JSON ({exc.msg}); restore it from "
                        "version control or delete it to re-render everything") from None
    if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT:
        raise UserError(f"{path.name}:1: format: expected {LOCK_FORMAT}, got {data.get('format')!r}"
                        if isinstance(data, dict) else f"{path.name}:1: not an alpha lock file")
    return Lock(path, data.get("episodes", {}))


def write_lock(lock: Lock) -> None:
    document = {"format": LOCK_FORMAT, "episodes": lock.episodes}
    atomic_write_text(lock.path, json.dumps(document, indent=1, sort_keys=True) + "\n")


def same_outputs(entry: dict[str, Any] | None, records: dict[str, dict]) -> bool:
    """Whether a new render's stage records hold exactly the outputs (by hash) that the lock
    entry records: then it is the same public version, whatever made it run again."""
    if not entry:
        return False
    recorded = entry.get("stages") or {}
    if set(recorded) != set(records):
        return False
    def hashes(stage: dict) -> dict[str, str]:
        return {name: value["hash"] for name, value in (stage.get("outputs") or {}).items()}
    return all(hashes(recorded[name]) == hashes(record) for name, record in records.items())


def lock_record(record: dict[str, Any], timing_metrics: tuple[str, ...]) -> dict[str, Any]:
    """A stage record as alpha.lock keeps it: keys, hashes and content metrics, without the
    stage's seconds and the metrics named in `timing_metrics` (dotted paths), which the
    render's report keeps."""
    kept = {name: value for name, value in record.items() if name != "seconds"}
    metrics = kept.get("metrics")
    if isinstance(metrics, dict) and timing_metrics:
        kept["metrics"] = _without(metrics, [path.split(".") for path in timing_metrics])
    return kept


def _without(metrics: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    out = {}
    for name, value in metrics.items():
        if [name] in paths:
            continue
        deeper = [path[1:] for path in paths if len(path) > 1 and path[0] == name]
        out[name] = _without(value, deeper) if deeper and isinstance(value, dict) else value
    return out

