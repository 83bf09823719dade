"""`alpha captions`: transcribe episodes' voices into WebVTT captions with LatentSync's Whisper."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from ..atomic import atomic_write_text
from ..captions.cues import to_vtt
from ..captions.files import CaptionsError, parse_captions
from ..captions.whisper import find_transcriber, transcribe
from ..console import console, warn
from ..errors import Failure, UserError
from ..project.edit import set_top_level
from ..workspace import open_workspace

CAPTIONS_DIR = "captions"


def captions(project_dir: Path | None, episodes: list[str], force: bool = False) -> int:
    if not episodes:
        raise UserError("name the episodes to transcribe, e.g. `alpha captions ep01`")
    workspace = open_workspace(project_dir)
    project = workspace.project
    names = workspace.select(episodes) or []
    for name in names:
        episode = project.episodes[name]
        if episode.settings.captions is not None and not force:
            raise UserError(f"{name} already has captions: {episode.settings.captions} "
                            f"({_rel(project.root, episode.file)}); --force transcribes it again "
                            f"into {CAPTIONS_DIR}/{name}.vtt")
        if project.path(f"{CAPTIONS_DIR}/{name}.vtt").exists() and not force:
            raise UserError(f"{CAPTIONS_DIR}/{name}.vtt exists (though {name} does not name it); "
                            "--force replaces it")
    transcriber = find_transcriber(project.settings.latentsync, project.root)
    console.print(f"Whisper: {transcriber.checkpoint} in {transcriber.python}")
    for name in names:
        episode = project.episodes[name]
        target = f"{CAPTIONS_DIR}/{name}.vtt"
        log = project.state_dir / "logs" / f"captions-{name}-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
        # A language set in the manifests is passed on; else Whisper detects it (and it is recorded).
        language_set = "language" in episode.settings.model_fields_set
        # Not in .alpha/tmp: a render starting meanwhile sweeps that folder.
        with tempfile.TemporaryDirectory(prefix=f"alpha-captions-{name}-") as work:
            result = transcribe(transcriber, project.path(episode.settings.audio.voice),
                                episode.settings.language if language_set else None, Path(work), log)
        if result.failed_retries:
            warn(f"{name}: {len(result.failed_retries)} window(s) kept their first decoding, as "
                 f"re-decoding a repetition failed ({result.failed_retries[0]['error']}); check the text")
        if not result.cues:
            raise Failure(f"{name}: Whisper heard no speech in {episode.settings.audio.voice}; "
                          f"no captions written (log: {log})")
        text = to_vtt(result.cues, note=f"Transcribed by alpha captions from {episode.settings.audio.voice} "
                                        f"with {transcriber.checkpoint.name} ({result.engine}); edit freely.")
        try:  # what we publish must pass the same parser the manifests are checked with
            parse_captions(text, "vtt", Path(target))
        except CaptionsError as exc:
            raise Failure(f"{name}: the transcription made an invalid WebVTT file ({exc})") from None
        (project.root / CAPTIONS_DIR).mkdir(exist_ok=True)
        atomic_write_text(project.path(target), text)
        manifest = _rel(project.root, episode.file)
        changed = set_top_level(episode.file, "captions", target, manifest)
        if not language_set and result.language and result.language != episode.settings.language:
            changed = set_top_level(episode.file, "language", result.language, manifest) or changed
        where = f"; {manifest} now names it" if changed else ""
        count = len(result.cues)
        console.print(f"{name}: {count} cue{'s' if count != 1 else ''}, "
                      f"{result.cues[0].start:.1f}–{result.cues[-1].end:.1f} s"
                      f" ({result.language or 'language unknown'}) → {target}{where}")
    return 0


def _rel(root: Path, path: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return path
