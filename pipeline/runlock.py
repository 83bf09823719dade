"""One render per project at a time, with a lock the kernel drops when its holder dies."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

from .errors import Failure


@contextlib.contextmanager
def exclusive(lock_file: Path, what: str, wait: bool = False, poll: float = 0.5) -> Iterator[None]:
    """Hold an flock on `lock_file`; refuse (or wait) while another process holds it.

    flock belongs to the open file: a killed holder releases it at once, so no stale lock can
    outlive a crash. The holder's pid is written in the file only to name it in messages.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise Failure(f"another {what} is running on this project (pid {holder}); "
                                  f"wait for it to finish, or pass --wait") from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
