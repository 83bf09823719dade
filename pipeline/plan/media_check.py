"""Media checks made with the plan, before any stage runs.

Every input of an episode about to render must decode, hold the stream its key implies (a
voice has audio, a source image or video has a picture), and the voice must last at least the
episode's `min_duration`, with every proof time inside it. Results are cached by the file's
content hash (`.alpha/cache/media-checks.json`), so an unchanged file is decoded once.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import Problem
from ..media import MediaError, probe
from ..media.probe import measure_duration
from ..project.load import input_fields, locate
from ..project.model import Project
from .hashing import HashCache

CACHE_FORMAT = 1


@dataclass(frozen=True)
class MediaFacts:
    """What one decoded file holds; `error` says why it could not be decoded."""

    duration: float = 0.0
    video: bool = False
    audio: bool = False
    error: str | None = None


class MediaChecks:
    def __init__(self, project: Project, hashes: HashCache):
        self.project, self.hashes = project, hashes
        self.cache_file = project.state_dir / "cache" / "media-checks.json"
        self._entries = self._read()
        self._dirty = False

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cache_file.read_text())
            return data["entries"] if data.get("format") == CACHE_FORMAT else {}
        except (OSError, ValueError, KeyError, AttributeError):
            return {}

    def save(self) -> None:
        if self._dirty:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.cache_file, json.dumps({"format": CACHE_FORMAT, "entries": self._entries}))
            self._dirty = False

    def facts(self, relative: str) -> MediaFacts:
        digest = self.hashes.hash(relative)
        if digest not in self._entries:
            self._entries[digest] = self._decode(self.project.path(relative)).__dict__
            self._dirty = True
        return MediaFacts(**self._entries[digest])

    def _decode(self, path: Path) -> MediaFacts:
        try:
            info = probe(path)
            # The header may promise more than the file holds (a truncated WAV): decode it all.
            duration = measure_duration(path)
        except MediaError as exc:
            log = self._log(str(exc))
            lines = [line for line in str(exc).splitlines()[1:] if line.strip()]
            reason = lines[-1].strip() if lines else "ffmpeg cannot read it"
            return MediaFacts(error=f"cannot be decoded ({reason}; details in {log})")
        return MediaFacts(duration=duration, video=info.video_codec is not None,
                          audio=info.audio_codec is not None)

    def _log(self, text: str) -> str:
        logs = self.project.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"media-{dt.datetime.now():%Y%m%d-%H%M%S-%f}.log"
        path.write_text(text + "\n")
        return str(path.relative_to(self.project.root))

    def voice_seconds(self, episode_ids: list[str]) -> dict[str, float]:
        """How long each episode's voice lasts (its output's length), from the cached facts."""
        return {episode_id: self.facts(self.project.episodes[episode_id].settings.audio.voice).duration
                for episode_id in episode_ids}

    def problems(self, episode_ids: list[str]) -> list[Problem]:
        """Every media problem of the episodes, located at the manifest key that names the file."""
        found: list[Problem] = []
        for episode_id in episode_ids:
            resolved = self.project.episodes[episode_id]
            episode = resolved.settings

            def problem(key_path: tuple, key: str, message: str) -> None:
                file, line = locate(self.project.root, resolved.file, key_path)
                found.append(Problem(file, line, key, message))

            voice_seconds = None
            for field, (key_path, relative) in input_fields(episode).items():
                facts = self.facts(relative)
                wants = "audio" if field.startswith("audio.") else "video"
                if facts.error:
                    problem(key_path, field, f"{relative} {facts.error}")
                elif not getattr(facts, wants):
                    problem(key_path, field, f"{relative} has no {wants} stream")
                elif field == "audio.voice":
                    voice_seconds = facts.duration
                    if facts.duration < episode.min_duration:
                        problem(key_path, field, f"{relative} lasts {facts.duration:.2f} s, less than "
                                                 f"min_duration ({episode.min_duration:g} s): truncated?")
                elif field == "source.video" and facts.duration <= 0:
                    problem(key_path, field, f"{relative} holds no frames")
            if voice_seconds is not None and voice_seconds >= episode.min_duration:
                late = [t for t in episode.proof.at if t >= voice_seconds]
                if late:
                    problem(("proof", "at"), "proof.at",
                            f"{', '.join(f'{t:g}' for t in late)} s is past the end of the episode "
                            f"({voice_seconds:.2f} s, the length of {episode.audio.voice})")
                if episode.poster_at is not None and episode.poster_at >= voice_seconds:
                    problem(("poster_at",), "poster_at", f"{episode.poster_at:g} s is past the end of the "
                                                         f"episode ({voice_seconds:.2f} s)")
        self.save()
        return found
