"""Helpers for tests: the real `alpha` command, and files written in temp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import wave
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_alpha(*args: str, cwd: Path | None = None) -> Result:
    """Run `alpha` in-process (fast), like sqlite-utils' tests do with click's runner."""
    runner = CliRunner()
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = runner.invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return Result(result.exit_code, result.stdout, result.stderr)


def alpha_process(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    """The real `alpha` as a separate process, for interruption and locking tests."""
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def write_voice(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A 16-bit mono WAV: a 220 Hz tone in 3 Hz syllables."""
    import numpy as np

    t = np.arange(round(seconds * rate)) / rate
    samples = 0.6 * (0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)) * np.sin(2 * np.pi * 220.0 * t)
    with wave.open(os.fspath(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.round(samples * 32767).astype("<i2").tobytes())
    return path
