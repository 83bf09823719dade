"""Caption files: WebVTT read and checked by a real parser (webvtt-py), SRT converted.

webvtt-py's strict mode rejects malformed cue blocks, timestamps and settings; on top of it we
require what a player needs to show the cues in order: at least one cue, start < end, starts
that never go back. Its SRT reader skips a block it cannot read, so an SRT timing line that
gave no cue is reported here. Every problem names the line of the caption file.
"""

from __future__ import annotations

import ast
import io
import re
from dataclasses import dataclass
from pathlib import Path

from .cues import Cue, from_srt_text

FORMATS = {".vtt": "vtt", ".srt": "srt"}


@dataclass
class CaptionsError(ValueError):
    """What is wrong with a caption file, at `line` (1-based) of `path`."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def caption_format(path: str | Path) -> str | None:
    """``"vtt"`` or ``"srt"`` by the file's suffix, None for anything else."""
    return FORMATS.get(Path(path).suffix.lower())


def read_captions(path: Path, shown_as: Path | None = None) -> list[Cue]:
    """The cues of a .vtt or .srt file, checked; CaptionsError naming the line otherwise.

    `shown_as` is the path messages name (the project-relative one), `path` if not given.
    """
    name = shown_as or path
    kind = caption_format(path)
    if kind is None:
        raise CaptionsError(name, 1, "captions must be a WebVTT (.vtt) or SubRip (.srt) file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CaptionsError(name, line, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise CaptionsError(name, 1, f"cannot read: {exc.strerror}") from None
    return parse_captions(text, kind, name)


def parse_captions(text: str, kind: str, name: Path) -> list[Cue]:
    """Parse caption text of `kind` (``"vtt"`` or ``"srt"``) into checked cues."""
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    try:
        document = webvtt.WebVTT.from_buffer(io.StringIO("\n".join(lines)), format=kind,
                                             strict=kind == "vtt")
    except MalformedFileError:
        expected = "the first line must be WEBVTT" if kind == "vtt" else \
            "an SRT file starts with a cue number, then a timing line such as 00:00:01,000 --> 00:00:02,500"
        raise CaptionsError(name, 1, f"not a {_FORMAT_NAMES[kind]} file: {expected}") from None
    except MalformedCaptionError as exc:
        raise CaptionsError(name, _line_of_block(lines, str(exc)), _reason(str(exc))) from None
    except ValueError as exc:  # bad header text, comments or identifiers
        raise CaptionsError(name, 1, str(exc)) from None

    timing_lines = [number for number, line in enumerate(lines, 1) if "-->" in line]
    if kind == "srt" and len(document.captions) != len(timing_lines):
        raise CaptionsError(name, _first_unread_timing(lines, document.captions, timing_lines),
                            "not a cue: a cue number, a timing line like "
                            "00:00:01,000 --> 00:00:02,500 and at least one line of text")
    text_of = from_srt_text if kind == "srt" else str
    cues = [Cue(caption.start_time.in_milliseconds() / 1000, caption.end_time.in_milliseconds() / 1000,
                text_of(caption.raw_text)) for caption in document.captions]
    if not cues:
        raise CaptionsError(name, len(lines), "no cues: the file holds no timed text")
    previous = 0.0
    for cue, line in zip(cues, timing_lines):
        if cue.end <= cue.start:
            raise CaptionsError(name, line, "a cue must end after it starts")
        if cue.start < previous:
            raise CaptionsError(name, line, "cues must be in order of their start times")
        previous = cue.start
    return cues


_FORMAT_NAMES = {"vtt": "WebVTT", "srt": "SubRip (SRT)"}
_BLOCK = re.compile(r"(\[.*\])\s*$", re.S)


def _reason(message: str) -> str:
    """webvtt-py's message without the block it quotes (the line number says where)."""
    quoted = _BLOCK.search(message)
    reason = message[: quoted.start()].strip() if quoted else message
    return {"Invalid cue block": "malformed cue (a timing line such as 00:00:01.000 --> "
                                 "00:00:02.500, then the text, then a blank line)"}.get(reason, reason)


def _line_of_block(lines: list[str], message: str) -> int:
    """The line of the block webvtt-py quotes in `message` (its timing line if it has one)."""
    quoted = _BLOCK.search(message)
    block: list[str] = []
    if quoted:
        try:
            block = [str(item) for item in ast.literal_eval(quoted.group(1))]
        except (ValueError, SyntaxError):
            block = []
    wanted = next((line for line in block if "-->" in line), block[0] if block else None)
    for number, line in enumerate(lines, 1):
        if wanted is not None and line == wanted:
            return number
    timestamp = re.search(r"\d[\d:.,]*\d", message)
    for number, line in enumerate(lines, 1):
        if timestamp and timestamp.group(0) in line:
            return number
    return 1


def _first_unread_timing(lines: list[str], captions, timing_lines: list[int]) -> int:
    """The first SRT timing line whose cue webvtt-py's reader skipped."""
    for caption, number in zip(captions, timing_lines):
        start = lines[number - 1].split("-->")[0].strip().replace(",", ".")
        if not start or caption.start_time.in_milliseconds() != _millis(start):
            return number
    return timing_lines[len(captions)] if len(captions) < len(timing_lines) else timing_lines[-1]


def _millis(stamp: str) -> int | None:
    match = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})\.(\d{1,3})", stamp)
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(fraction.ljust(3, "0"))

