"""The cue model: timed caption text, written as WebVTT. Pure functions, no I/O."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Endonyms for the track menu a viewer picks from; any other tag is shown as written.
LANGUAGE_NAMES = {
    "ar": "العربية", "de": "Deutsch", "en": "English", "es": "Español", "fr": "Français",
    "hi": "हिन्दी", "it": "Italiano", "ja": "日本語", "ko": "한국어", "nl": "Nederlands",
    "pl": "Polski", "pt": "Português", "ru": "Русский", "tr": "Türkçe", "uk": "Українська",
    "zh": "中文",
}


@dataclass(frozen=True)
class Cue:
    """One caption: shown from `start` to `end` (seconds, start < end); `text` may hold
    several lines and WebVTT cue tags (``<i>``, ``<v Name>``)."""

    start: float
    end: float
    text: str


def language_label(tag: str) -> str:
    """The name viewers see for a BCP 47 language tag: its endonym, else the tag itself."""
    return LANGUAGE_NAMES.get(tag.split("-")[0].lower(), tag)


def timestamp(seconds: float) -> str:
    """A WebVTT timestamp, hours always written: 3723.5 -> ``01:02:03.500``."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def cue_payload(text: str) -> str:
    """Cue text that cannot end the cue or start a new one: no blank lines, no ``-->``."""
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n")]
    return "\n".join(line.replace("-->", "→") for line in lines if line)


def escape_text(text: str) -> str:
    """Plain text (a transcription) as WebVTT cue text: ``&`` and ``<`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);)")
_BARE_LESS_THAN = re.compile(r"<(?![/A-Za-z])")


def from_srt_text(text: str) -> str:
    """SRT cue text as WebVTT cue text: markup tags (``<i>``) kept, a bare ``&`` or ``<``
    escaped (in WebVTT they start a character reference or a tag)."""
    return _BARE_LESS_THAN.sub("&lt;", _BARE_AMPERSAND.sub("&amp;", text))


def to_vtt(cues: list[Cue], *, note: str | None = None) -> str:
    """A WebVTT file of `cues` (payloads as given, see `cue_payload`), with an optional NOTE."""
    blocks = ["WEBVTT"]
    if note:
        blocks.append("NOTE " + cue_payload(note))
    for cue in cues:
        blocks.append(f"{timestamp(cue.start)} --> {timestamp(cue.end)}\n{cue_payload(cue.text)}")
    return "\n\n".join(blocks) + "\n"


_TAG = re.compile(r"<[^>]*>")


def plain_text(cue_text: str) -> str:
    """The words of a cue: tags dropped, character references decoded, lines joined by spaces."""
    return " ".join(html.unescape(_TAG.sub("", cue_text)).split())


def transcript_of(cues: list[Cue]) -> str:
    """The running text of the captions, one paragraph: what a transcript shows."""
    words: list[str] = []
    for cue in cues:
        text = plain_text(cue.text)
        if text and (not words or words[-1] != text):  # roll-up captions repeat lines
            words.append(text)
    return " ".join(words)
