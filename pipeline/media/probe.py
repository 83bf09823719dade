"""What a media file holds, read from the header dump of `ffmpeg -i` (there is no ffprobe)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .process import Ffmpeg, MediaError

_DURATION = re.compile(r"^\s*Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", re.M)
_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio): (\w+)(.*)$")
_SIZE = re.compile(r", (\d+)x(\d+)[ ,]")
_FPS = re.compile(r", (\d+(?:\.\d+)?)(k?) fps")
_RATE = re.compile(r", (\d+) Hz")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")
_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6,
            "6.1": 7, "7.1": 8}


@dataclass(frozen=True)
class MediaInfo:
    """The first video and first audio stream of a file.

    width/height are the displayed size (a 90°-rotated phone video reports its upright size,
    as decoding autorotates). fps is None for streams ffmpeg gives no frame rate.
    """

    duration: float
    width: int | None
    height: int | None
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    sample_rate: int | None
    channels: int | None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read the header of `path`; raise MediaError when ffmpeg cannot open it."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"no such file: {path}")
    dump = _header_dump(path)
    video, audio = _first_streams(dump)
    width, height = _display_size(video)
    return MediaInfo(
        duration=_duration(dump) if _DURATION.search(dump) else measure_duration(path),
        width=width,
        height=height,
        fps=_fps(video),
        video_codec=_codec(video),
        audio_codec=_codec(audio),
        sample_rate=_match_int(_RATE, audio),
        channels=_channels(audio),
    )


def measure_duration(path: str | os.PathLike) -> float:
    """Duration found by decoding the whole file to nowhere: slow, but exact for streams
    whose header has none."""
    with Ffmpeg(["-i", path, "-f", "null", "-", "-progress", "pipe:1", "-nostats"],
                read=True) as child:
        micros = 0
        for raw in child.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                micros = max(micros, int(value))
    return micros / 1e6


def _header_dump(path: Path) -> str:
    # `ffmpeg -i` with no output always exits 1, so success is judged by the dump itself.
    child = Ffmpeg(["-i", path], loglevel="info", tail=10_000)
    try:
        child.finish()
    except MediaError:
        pass
    dump = "\n".join(child.stderr_lines())
    if "Input #0" not in dump:
        raise child.error("cannot read input")
    return dump


def _first_streams(dump: str) -> tuple[str | None, str | None]:
    """The description (with its indented side-data lines) of the first real video stream
    and the first audio stream; cover art is skipped."""
    found: dict[str, str] = {}
    lines = dump.splitlines()
    for i, line in enumerate(lines):
        m = _STREAM.match(line)
        if not m or m.group(1) in found or "(attached pic)" in line:
            continue
        details = [line]
        depth = len(line) - len(line.lstrip())
        for more in lines[i + 1:]:
            if len(more) - len(more.lstrip()) <= depth:
                break
            details.append(more)
        found[m.group(1)] = "\n".join(details)
    return found.get("Video"), found.get("Audio")


def _duration(dump: str) -> float:
    h, m, s = _DURATION.search(dump).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def _codec(stream: str | None) -> str | None:
    return _STREAM.match(stream.splitlines()[0]).group(2) if stream else None


def _display_size(video: str | None) -> tuple[int | None, int | None]:
    if not video or not (m := _SIZE.search(video.splitlines()[0])):
        return None, None
    width, height = int(m.group(1)), int(m.group(2))
    rotation = _ROTATION.search(video)
    if rotation and round(float(rotation.group(1))) % 180 == 90:
        width, height = height, width
    return width, height


def _fps(video: str | None) -> float | None:
    if not video or not (m := _FPS.search(video)):
        return None
    return float(m.group(1)) * (1000 if m.group(2) else 1)


def _channels(audio: str | None) -> int | None:
    if not audio:
        return None
    fields = [f.strip() for f in audio.splitlines()[0].split(",")]
    for field in fields:
        layout = field.split("(")[0]
        if layout in _LAYOUTS:
            return _LAYOUTS[layout]
        if m := re.fullmatch(r"(\d+) channels.*", field):
            return int(m.group(1))
    return None


def _match_int(pattern: re.Pattern, text: str | None) -> int | None:
    m = pattern.search(text) if text else None
    return int(m.group(1)) if m else None
