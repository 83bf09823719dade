"""An episode's captions and transcript as the site publishes them.

The caption file is published as WebVTT (an SRT file converted) under a content-addressed
URL, `media/<hash>.vtt`, like the media: a corrected caption file gets a new URL, so no browser
or CDN cache keeps showing the old text. A WebVTT file is published byte for byte (its STYLE
and REGION blocks kept); SRT is converted cue by cue.

The transcript is the manifest's `transcript:` (paragraphs split at blank lines), else the
running text of the captions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import xxhash

from ..captions.cues import language_label, to_vtt, transcript_of
from ..captions.files import CaptionsError, caption_format, read_captions
from ..errors import UserError
from ..project.model import Project, ResolvedEpisode
from .media import HASH_CHARS, MEDIA_DIR


@dataclass(frozen=True)
class CaptionTrack:
    """A WebVTT file of the site and what its <track> says about it."""

    path: str        # site path, media/<hash>.vtt
    vtt: bytes       # the file's content (UTF-8)
    srclang: str     # BCP 47 tag
    label: str       # the name viewers pick it by
    cues: int


def episode_captions(project: Project, resolved: ResolvedEpisode) -> tuple[CaptionTrack | None, tuple[str, ...]]:
    """The episode's caption track (None without `captions:`) and transcript paragraphs."""
    settings = resolved.settings
    track = None
    cues = []
    if settings.captions is not None:
        source = project.path(settings.captions)
        try:
            cues = read_captions(source, Path(settings.captions))
        except CaptionsError as exc:  # changed since the manifests were checked
            raise UserError(f"episode {resolved.id}: captions: {exc}") from None
        data = source.read_bytes() if caption_format(source) == "vtt" else to_vtt(cues).encode("utf-8")
        digest = xxhash.xxh3_128_hexdigest(data)
        track = CaptionTrack(f"{MEDIA_DIR}/{digest[:HASH_CHARS]}.vtt", data, settings.language,
                             language_label(settings.language), len(cues))
    if settings.transcript is not None:
        paragraphs = tuple(" ".join(part.split()) for part in re.split(r"\n\s*\n", settings.transcript.strip()))
    else:
        text = transcript_of(cues)
        paragraphs = (text,) if text else ()
    return track, paragraphs
