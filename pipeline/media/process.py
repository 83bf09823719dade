"""Running ffmpeg children: the one place a process is spawned, killed and reaped."""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

Progress = Callable[[int, int], None]
"""Called as progress(frames_done, frames_total); frames_total is 0 when unknown."""

STDERR_TAIL_LINES = 20


class MediaError(RuntimeError):
    """An ffmpeg run failed; the message carries the command and its last stderr lines."""


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg (honours IMAGEIO_FFMPEG_EXE)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class Ffmpeg:
    """One ffmpeg child, used as a context manager.

    Leaving the block normally waits for the child and raises MediaError on a non-zero exit;
    leaving it by any exception (KeyboardInterrupt and GeneratorExit included) kills and reaps
    the child first, so no ffmpeg outlives its caller. stderr is drained by a thread into a
    bounded tail, which keeps memory constant and stops a chatty child from blocking on a full
    pipe while we read or write its stdio.
    """

    def __init__(
        self,
        args: Sequence[str | os.PathLike],
        *,
        feed: bool = False,
        read: bool = False,
        loglevel: str = "error",
        tail: int = STDERR_TAIL_LINES,
    ) -> None:
        self.cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", loglevel]
        self.cmd += [os.fspath(a) for a in args]
        self._tail: deque[str] = deque(maxlen=tail)
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
            stdout=subprocess.PIPE if read else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None, "started without feed=True"
        return self.proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None, "started without read=True"
        return self.proc.stdout

    def stderr_lines(self) -> list[str]:
        """The last stderr lines seen so far (all of them once the child has exited)."""
        return list(self._tail)

    def __enter__(self) -> Ffmpeg:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.kill()

    def finish(self) -> None:
        """Close stdin, wait for the exit and raise MediaError unless it is 0."""
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                try:
                    self.proc.stdin.close()
                except BrokenPipeError:
                    pass  # the child already exited; its status says why
            self.proc.wait()
            self._drain.join()
        except BaseException:
            self.kill()
            raise
        self._close_stdout()
        if self.proc.returncode != 0:
            raise self.error(f"exit status {self.proc.returncode}")

    def kill(self) -> None:
        """Kill and reap the child; safe to call more than once."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass  # a broken stdin pipe may refuse to flush; the child is gone anyway
        self._drain.join()

    def error(self, what: str) -> MediaError:
        """A MediaError naming the command, `what` went wrong, and the stderr tail."""
        tail = "\n".join(self._tail) or "(no stderr output)"
        command = shlex.join(["ffmpeg", *self.cmd[1:]])  # the binary's full path is noise
        return MediaError(f"ffmpeg failed ({what}): {command}\n{tail}")

    def _close_stdout(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._tail.append(line)


def run(
    args: Sequence[str | os.PathLike],
    *,
    out: Path | None = None,
    total: int = 0,
    progress: Progress | None = None,
) -> int:
    """Run ffmpeg to completion and return the number of frames it encoded, reporting them
    through `progress` as it goes.

    On any failure `out` (a partial output) is removed before the error propagates.
    """
    done = 0
    try:
        with Ffmpeg([*args, "-progress", "pipe:1", "-nostats"], read=True) as child:
            for done in _progress_frames(child.stdout):
                if progress is not None:
                    progress(done, total)
    except BaseException:
        if out is not None:
            out.unlink(missing_ok=True)
        raise
    return done


def _progress_frames(stream: IO[bytes]) -> Iterator[int]:
    """Yield the frame count of each block that ffmpeg's `-progress` writes."""
    frames = 0
    for raw in stream:
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "frame":
            frames = int(value)
        elif key == "progress":
            yield frames
