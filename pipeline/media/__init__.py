"""ffmpeg streaming: probe, encode, decode, mix and mux. The only place ffmpeg is spawned.

Frames are H×W×3 uint8 arrays in RGB order. Nothing holds a whole video in memory; every
ffmpeg child is killed and reaped when its caller fails (KeyboardInterrupt included), and
failures raise MediaError with the command and its last stderr lines. Each function writes
exactly the `out` path it is given, removing it again on failure, and identical inputs give
byte-identical files (with the same ffmpeg build; x264's thread count is pinned so that the
machine's core count does not matter).
"""

from .audio import audio_envelope, mix_audio
from .decode import frame_at, read_frames
from .encode import FrameWriter, LosslessWriter, loop_video, still_to_video
from .mux import mux
from .probe import MediaInfo, probe
from .process import MediaError, Progress, ffmpeg_exe

__all__ = [
    "FrameWriter",
    "LosslessWriter",
    "MediaError",
    "MediaInfo",
    "Progress",
    "audio_envelope",
    "ffmpeg_exe",
    "frame_at",
    "loop_video",
    "mix_audio",
    "mux",
    "probe",
    "read_frames",
    "still_to_video",
]
