"""The soundtrack: voice plus looped foley, and loudness per video frame."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .decode import pcm_chunks
from .filters import BITEXACT_ARGS
from .probe import probe
from .process import MediaError, run

MIX_RATE = 48_000
# Ducking: the compressor is keyed not by the voice itself but by the voice lifted so its
# active speech level sits KEY_HEADROOM_DB over full scale and soft-clipped: while anyone
# speaks, loud syllable or soft, the key is pinned near 0 dBFS, so the foley drops by
# duck_db whatever the voice's dynamics; pauses (30 dB or more down) leave the key below
# the threshold and the foley comes back. Release spans syllable gaps, not pauses.
KEY_HEADROOM_DB = 20.0
DUCK_RATIO = 8.0
DUCK_ATTACK_MS = 20
DUCK_RELEASE_MS = 400
# The active speech level ignores 50 ms windows this far below the loudest (the pauses).
ACTIVE_SPEECH_RANGE_DB = 30.0
# Foley summed onto the voice can exceed full scale; a limiter 1 dB below it stops clipping.
LIMIT = 10 ** (-1 / 20)


def mix_audio(
    voice: str | os.PathLike,
    out: str | os.PathLike,
    *,
    foley: Sequence[tuple[str | os.PathLike, float]] = (),
    voice_gain_db: float = 0.0,
    duck_db: float = 0.0,
    duration: float | None = None,
) -> None:
    """Mix `voice` with foley beds into a WAV: pcm_s16le, 48 kHz, stereo.

    foley: (path, gain_db) pairs; each loops (or is cut) to the output's length. duck_db > 0
    lowers the foley by that much (within about 0.5 dB) while the voice speaks, by sidechain
    compression, and lets it back up in pauses. A mono voice is put in the centre at full
    level. The output lasts `duration` seconds (voice padded with silence, or cut), by
    default exactly as long as the voice, to the sample.
    """
    out = Path(out)
    args = ["-i", voice]
    for path, _ in foley:
        args += ["-stream_loop", "-1", "-i", path]
    graph = _mix_graph(voice, foley, voice_gain_db, duck_db, duration)
    run([*args, "-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_s16le",
         *BITEXACT_ARGS, "-y", out], out=out)


def audio_envelope(path: str | os.PathLike, fps: float) -> np.ndarray:
    """Loudness of the first audio stream per video frame at `fps`: float32, shape
    (frames,), the RMS of each 1/fps window divided by the loudest window's, so in [0, 1].

    frames = ceil(audio duration × fps); silence gives all zeros. Streamed.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    sums, counts = _window_sums(
        (chunk[:, 0] for chunk in pcm_chunks(path, rate=MIX_RATE)), MIX_RATE / fps)
    if not sums:
        raise MediaError(f"no audio decoded from {path}")
    rms = np.sqrt(np.asarray(sums) / np.asarray(counts))
    peak = rms.max()
    return (rms / peak if peak > 0 else rms).astype(np.float32)


def active_level_db(path: str | os.PathLike, window_s: float = 0.05) -> float | None:
    """RMS level (dBFS) of `path` over the windows within ACTIVE_SPEECH_RANGE_DB of the
    loudest; None for silence."""
    rate = 16_000
    sums, counts = _window_sums((chunk[:, 0] for chunk in pcm_chunks(path, rate=rate)),
                                rate * window_s)
    power = np.asarray(sums) / np.maximum(np.asarray(counts), 1)
    if not power.size or power.max() <= 0:
        return None
    active = power[power >= power.max() * 10 ** (-ACTIVE_SPEECH_RANGE_DB / 10)]
    return 10 * math.log10(active.mean())


def _window_sums(chunks: Iterable[np.ndarray], window: float) -> tuple[list[float], list[int]]:
    """Sum of squares and sample count per window of `window` samples (may be fractional;
    window i holds samples floor(i*window) .. floor((i+1)*window) - 1)."""
    sums: list[float] = []
    counts: list[int] = []
    start = 0
    for x in chunks:
        if not x.size:
            continue
        index = ((start + np.arange(x.size)) / window).astype(np.int64)
        first = int(index[0])
        chunk_sums = np.bincount(index - first, weights=x.astype(np.float64) ** 2)
        chunk_counts = np.bincount(index - first)
        if first < len(sums):  # the window straddling the previous chunk
            sums[first] += chunk_sums[0]
            counts[first] += int(chunk_counts[0])
            chunk_sums, chunk_counts = chunk_sums[1:], chunk_counts[1:]
        sums.extend(chunk_sums.tolist())
        counts.extend(chunk_counts.tolist())
        start += x.size
    return sums, counts


def _mix_graph(voice, foley: Sequence[tuple[str | os.PathLike, float]], voice_gain_db: float,
               duck_db: float, duration: float | None) -> str:
    """The filter graph: inputs are [0] voice then [1..] foley; the result is [out].

    With a duration the voice is padded with endless silence and the end cut at the exact
    sample, so foley carries on under the padding; without, the mix ends with the voice.
    """
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    pad = "" if duration is None else ",apad"
    # The voice goes in the centre, whatever its layout.
    chains = [f"[0:a:0]{_to_stereo(channels=1)},volume={voice_gain_db}dB{pad}[voice]"]
    if foley:
        chains += _foley_bed(foley)
        chains += _duck(voice, voice_gain_db, duck_db)
        # amix stops with its first input, the voice; foley loops forever.
        chains.append("[voice][foley]amix=inputs=2:normalize=0:duration=first[voice]")
    cut = "" if duration is None else f"atrim=end_sample={round(duration * MIX_RATE)},"
    chains.append(f"[voice]{cut}alimiter=limit={LIMIT:.6f}:level=0:latency=1,"
                  f"aformat=sample_fmts=s16:sample_rates={MIX_RATE}:channel_layouts=stereo[out]")
    return ";".join(chains)


def _foley_bed(foley: Sequence[tuple[str | os.PathLike, float]]) -> list[str]:
    """Chains that bring inputs 1.. to stereo at their gains and sum them as [foley]."""
    chains = [f"[{i}:a:0]{_to_stereo(_loopable_channels(path))},volume={gain}dB[f{i}]"
              for i, (path, gain) in enumerate(foley, start=1)]
    inputs = "".join(f"[f{i}]" for i in range(1, len(foley) + 1))
    chains.append(f"{inputs}amix=inputs={len(foley)}:normalize=0[foley]")
    return chains


def _loopable_channels(path) -> int | None:
    """The channel count of a foley file, refusing one without audio: looping an empty
    input forever would never end the mix."""
    info = probe(path)
    if info.audio_codec is None or info.duration <= 0:
        raise MediaError(f"foley {path} has no audio to loop")
    return info.channels


def _duck(voice, voice_gain_db: float, duck_db: float) -> list[str]:
    """Chains that key a compressor on [voice] to lower [foley] by duck_db (see
    KEY_HEADROOM_DB); none when there is nothing to duck."""
    level = active_level_db(voice) if duck_db > 0 else None
    if level is None:
        return []
    key_gain = KEY_HEADROOM_DB - level - voice_gain_db
    # Far above threshold a compressor takes (1 - 1/ratio) dB off per dB over.
    threshold = max(2.0 ** -10, 10 ** (-duck_db / (1 - 1 / DUCK_RATIO) / 20))
    return ["[voice]asplit=2[voice][key]",
            f"[key]volume={key_gain:.3f}dB,asoftclip=type=tanh[key]",
            f"[foley][key]sidechaincompress=threshold={threshold:.6f}:ratio={DUCK_RATIO}"
            f":attack={DUCK_ATTACK_MS}:release={DUCK_RELEASE_MS}[foley]"]


def _to_stereo(channels: int | None) -> str:
    """Resample to MIX_RATE float stereo. channels=1 folds the input to mono (a no-op for
    mono) and copies it to both sides at full level, where the default upmix would lower
    it 3 dB."""
    head = f"aresample={MIX_RATE},aformat=sample_fmts=fltp"
    if channels == 1:
        return f"{head}:channel_layouts=mono,pan=stereo|c0=c0|c1=c0"
    return f"{head}:channel_layouts=stereo"
