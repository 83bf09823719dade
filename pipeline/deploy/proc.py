"""Child processes of a deploy (rsync, ssh): they die with it, and rsync reports what it moved."""

from __future__ import annotations

import ctypes
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

from ..errors import Failure
from .hooks import Hooks

_PR_SET_PDEATHSIG = 1
_prctl = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        _prctl = None


def die_with_parent() -> None:
    """preexec_fn: the kernel kills the child when the deploy dies, even by SIGKILL.

    Without this an rsync orphaned by a killed deploy would go on writing into the target
    after the lock is gone. Only a prctl call runs in the child (safe after fork).
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    """Popen for rsync and ssh: dies with the deploy; a missing program is a clear Failure."""
    try:
        return subprocess.Popen(argv, preexec_fn=die_with_parent, **kwargs)
    except FileNotFoundError:
        raise Failure(f"`{argv[0]}` is not installed on this machine; deploy needs the system "
                      "rsync and ssh (e.g. apt-get install rsync openssh-client)") from None


@dataclass
class TransferStats:
    files: int = 0          # regular files transferred (not hard-linked, not skipped)
    file_bytes: int = 0     # their total size ("Total transferred file size")
    sent: int = 0           # bytes rsync sent, protocol and file list included
    received: int = 0

    def add(self, other: "TransferStats") -> None:
        self.files += other.files
        self.file_bytes += other.file_bytes
        self.sent += other.sent
        self.received += other.received

    def as_json(self) -> dict:
        return {"files": self.files, "file_bytes": self.file_bytes, "sent": self.sent,
                "received": self.received}


OUT_FORMAT = "@@ %i %l %n"
_STATS = {
    "Number of regular files transferred": "files",
    "Total transferred file size": "file_bytes",
    "Total bytes sent": "sent",
    "Total bytes received": "received",
}


def run_rsync(argv: list[str], hooks: Hooks, point: str,
              on_file: Callable[[str, int], None] | None = None) -> TransferStats:
    """Run rsync (argv must include --stats and --out-format=OUT_FORMAT); hooks fire per file."""
    stats = TransferStats()
    count = 0
    with tempfile.TemporaryFile() as errors:
        process = spawn(argv, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
                        text=True, errors="replace")
        try:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                if line.startswith("@@ "):
                    _, item, length, name = line.split(" ", 3)
                    if len(item) > 1 and item[1] == "f":
                        count += 1
                        if on_file is not None:
                            on_file(name, _number(length))
                        hooks.at(point, count)
                    continue
                key, _, value = line.partition(":")
                if key.strip() in _STATS:
                    setattr(stats, _STATS[key.strip()], _number(value))
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        if code != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise Failure(f"rsync failed (exit {code}): {message[-2000:] or 'no message'}")
    hooks.at(point)
    return stats


def _number(text: str) -> int:
    digits = re.sub(r"[^0-9]", "", text.split("bytes")[0])
    return int(digits) if digits else 0
