"""alpha.lock: what was rendered from what, per episode, with its version history.

JSON with sorted keys and one value per line, so it reads and diffs well when committed.
Shape of one episode entry:

    {"version": 3, "rendered_at": "2026-11-25T14:00:00Z",
     "stages": {"<stage>": {"code": 1, "params": {...},
                            "inputs": {"audio.voice": {"path": "media/v.wav", "hash": "..."}},
                            "checkpoint": {"path": "...", "hash": "..."} | null,
                            "upstream": {"source.media": "<hash>"},
                            "outputs": {"video": {"path": ".alpha/store/..", "hash": "..."}},
                            "metrics": {...}, "seconds": 1.2}},
     "history": [{"version": 1, "at": "...", "action": "render", "reasons": [...]}, ...]}
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
