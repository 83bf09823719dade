"""The final MP4: the encoded video as is, the soundtrack in AAC."""

from __future__ import annotations

import os
from pathlib import Path

from .filters import BITEXACT_ARGS
from .probe import probe
from .process import MediaError, run

AAC_BITRATE = "160k"
AAC_RATE = 48_000


def mux(video: str | os.PathLike, audio: str | os.PathLike, out: str | os.PathLike, *,
        duration: float) -> None:
    """Write an MP4 of exactly `duration` seconds (to within a frame): the H.264 stream of
    `video` copied, `audio` encoded as AAC-LC 48 kHz stereo at 160 kb/s (padded with silence
    when short, cut when long), and the index (moov) ahead of the data for progressive
    playback.

    The video must already last `duration` to within a frame (as the encoders here make
    it): a copied stream cannot be lengthened, nor cut frame-exactly where B-frames
    reorder it. MediaError otherwise.
    """
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    out = Path(out)
    _check_video(video, duration)
    # Only the audio is cut: cutting copied video goes by decode order, not display order.
    fit_audio = f"aresample={AAC_RATE},apad,atrim=end_sample={round(duration * AAC_RATE)}"
    run(["-i", video, "-i", audio, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
         "-af", fit_audio, "-c:a", "aac", "-b:a", AAC_BITRATE, "-ac", "2",
         "-movflags", "+faststart", *BITEXACT_ARGS, "-y", out], out=out)


def _check_video(video, duration: float) -> None:
    info = probe(video)
    if info.video_codec != "h264":
        raise MediaError(f"mux copies H.264 video; {video} has {info.video_codec or 'none'}")
    # One frame of slack, plus the 10 ms to which the header rounds.
    slack = (1 / info.fps if info.fps else 0.0) + 0.01
    if abs(info.duration - duration) > slack:
        raise MediaError(f"{video} lasts {info.duration:.3f} s, not the {duration:.3f} s "
                         f"asked for; encode it to that duration first")
