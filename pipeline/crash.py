"""What the user sees when a command fails in a way no command foresaw.

No traceback reaches the terminal: an operating-system error becomes one sentence naming the
path (a full disk says so, with the folder), and anything else becomes one line plus the path
of a log that keeps the traceback for a bug report.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import tempfile
import traceback
from pathlib import Path

LOG_DIR_VARIABLE = "ALPHA_CRASH_DIR"


def describe_os_error(exc: OSError) -> str:
    """One sentence for an OSError: what went wrong and where."""
    where = exc.filename if exc.filename is not None else None
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        folder = Path(os.fsdecode(where)).parent if where is not None else None
        return "no space left on device" + (f" (writing in {folder})" if folder else "")
    reason = exc.strerror or str(exc)
    if where is None:
        return reason.lower() if reason else type(exc).__name__
    target = f" → {os.fsdecode(exc.filename2)}" if exc.filename2 is not None else ""
    return f"{os.fsdecode(where)}{target}: {reason.lower()}"


def keep_traceback(exc: BaseException) -> str | None:
    """Write the traceback of `exc` to a new log file; its path, or None when nothing could be written."""
    folder = os.environ.get(LOG_DIR_VARIABLE) or tempfile.gettempdir()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        os.makedirs(folder, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=f"alpha-crash-{stamp}-", suffix=".log", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


def describe_unexpected(exc: BaseException) -> str:
    """The one-line error for an exception no command handled, with the kept log's path."""
    log = keep_traceback(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")
    if isinstance(exc, OSError):
        message = describe_os_error(exc)
    return message + (f" (traceback kept in {log})" if log else " (the traceback could not be kept: disk full?)")
