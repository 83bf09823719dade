"""Transcription with the Whisper checkpoint a LatentSync checkout ships, in LatentSync's Python.

alpha never imports torch or Whisper for this: the voice is decoded here (16 kHz mono, by
`pipeline.media`), then ``whisper_child.py`` runs in LatentSync's interpreter with the checkout
on PYTHONPATH, so LatentSync's own Whisper code and weights do the work and nothing is
downloaded. What comes back is turned into checked cues here.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Failure, UserError
from ..project.schema import LatentSyncSettings
from .cues import Cue, cue_payload, escape_text

SAMPLE_RATE = 16000
CHILD = Path(__file__).with_name("whisper_child.py")
LOG_TAIL_LINES = 20
# The shortest cue kept: shorter ones are timestamp noise a viewer could not read.
MIN_CUE_SECONDS = 0.05


@dataclass(frozen=True)
class Transcriber:
    """LatentSync's interpreter and the Whisper checkpoint it will load."""

    root: Path
    python: Path
    checkpoint: Path


@dataclass(frozen=True)
class Transcription:
    cues: list[Cue]
    language: str | None
    engine: str
    # Windows whose warmer re-decoding (against a repetition loop) failed: their greedy text is kept.
    failed_retries: list[dict]


def find_transcriber(settings: LatentSyncSettings, project_root: Path) -> Transcriber:
    """The checkout, its Python and its Whisper checkpoint; UserError naming what is missing."""
    from ..stages.lipsync.latentsync import checkout_python, checkout_root

    if not settings.root:
        raise UserError("alpha captions transcribes with LatentSync's Whisper checkpoint, but "
                        "latentsync.root is not set in alpha.yaml: point it at a LatentSync checkout "
                        "(and latentsync.python at its environment's python)")
    root = checkout_root(settings, project_root)
    python = checkout_python(settings, project_root, root)
    return Transcriber(root, python, whisper_checkpoint(root))


def whisper_checkpoint(root: Path) -> Path:
    """The largest ``checkpoints/whisper/*.pt`` of the checkout: the best model it ships."""
    folder = root / "checkpoints" / "whisper"
    found = sorted(folder.glob("*.pt"), key=lambda path: (-path.stat().st_size, path.name))
    if not found:
        raise UserError(f"no Whisper checkpoint in {folder}: LatentSync's checkpoints include "
                        "whisper/tiny.pt; download them with: huggingface-cli download "
                        f"ByteDance/LatentSync-1.6 whisper/tiny.pt --local-dir {root / 'checkpoints'}")
    return found[0]


def transcribe(transcriber: Transcriber, voice: Path, language: str | None, work: Path,
               log: Path) -> Transcription:
    """Transcribe `voice` (any audio ffmpeg reads) into cues within the voice's duration.

    `language` is a BCP 47 tag (its primary subtag goes to Whisper) or None to detect it. `work`
    is a folder for the child's files; the child's output goes to `log`.
    """
    from ..media.decode import pcm_chunks

    samples = np.concatenate([chunk[:, 0] for chunk in pcm_chunks(voice, rate=SAMPLE_RATE)] or
                             [np.zeros(0, np.float32)])
    duration = len(samples) / SAMPLE_RATE
    if duration == 0:
        raise UserError(f"{voice} holds no audio to transcribe")
    work.mkdir(parents=True, exist_ok=True)
    audio, out, args = work / "voice.npy", work / "segments.json", work / "args.json"
    np.save(audio, samples.astype(np.float32))
    args.write_text(json.dumps({"checkpoint": str(transcriber.checkpoint), "audio": str(audio),
                                "language": language.split("-")[0].lower() if language else None,
                                "out": str(out)}))
    _run_child(transcriber, args, log)
    try:
        result = json.loads(out.read_text(encoding="utf-8"))
        segments = result["segments"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Failure(f"Whisper in LatentSync's Python wrote no usable result ({exc}); log: {log}") from None
    return Transcription(segments_to_cues(segments, duration), result.get("language"),
                         str(result.get("engine")), list(result.get("failed_retries") or []))


def segments_to_cues(segments: list[dict], duration: float) -> list[Cue]:
    """Whisper's segments as cues a player can show: inside [0, duration], in order, not
    overlapping, with text; timestamps are rounded to the millisecond WebVTT keeps."""
    cues: list[Cue] = []
    for segment in sorted(segments, key=lambda s: float(s["start"])):
        text = cue_payload(escape_text(str(segment.get("text", ""))))
        start = round(min(max(float(segment["start"]), 0.0), duration), 3)
        end = round(min(max(float(segment["end"]), 0.0), duration), 3)
        if cues:
            start = max(start, cues[-1].end)
        if not text or end - start < MIN_CUE_SECONDS:
            continue
        cues.append(Cue(start, end, text))
    return cues


def _run_child(transcriber: Transcriber, args: Path, log: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(transcriber.root), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the checkout stays as it was
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as stream:
        try:
            proc = subprocess.Popen([str(transcriber.python), str(CHILD), str(args)],
                                    cwd=transcriber.root, env=env, stdin=subprocess.DEVNULL,
                                    stdout=stream, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise UserError(f"cannot start LatentSync's Python {transcriber.python}: {exc.strerror}") from None
        try:
            code = proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if code != 0:
        raise Failure(f"Whisper in LatentSync's Python failed (exit {code}); last lines of {log}:\n"
                      + _tail(log))


def _tail(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(collections.deque(lines, maxlen=LOG_TAIL_LINES))
