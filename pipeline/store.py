"""Content-addressed files under `.alpha/store/`, and the run cache beside them.

Every output is produced under a temporary name in `.alpha/tmp/` (same file system), hashed,
then renamed to `store/<2 hex>/<hash><ext>`. A crash leaves at most a temporary file, which the
next run sweeps; a store path always holds complete content.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .atomic import atomic_write_text
from .plan.hashing import hash_file


class Store:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.objects = state_dir / "store"
        self.tmp = state_dir / "tmp"

    def path_of(self, digest: str, ext: str) -> Path:
        return self.objects / digest[:2] / f"{digest}{ext}"

    def relative(self, digest: str, ext: str) -> str:
        """The store path of an object relative to the project root (as the lock records it)."""
        return f"{self.state_dir.name}/store/{digest[:2]}/{digest}{ext}"

    @contextlib.contextmanager
    def temporary(self, suffix: str) -> Iterator[Path]:
        """A fresh temporary path with `suffix`; removed on exit unless it was put in the store."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=suffix, dir=self.tmp)
        os.close(fd)
        path = Path(name)
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def put(self, temp: Path, ext: str) -> str:
        """Move a finished temporary file into the store; returns its content hash."""
        digest = hash_file(temp)
        self.adopt(temp, digest, ext)
        return digest

    def adopt(self, temp: Path, digest: str, ext: str) -> None:
        """Move a finished temporary file whose content hash is already known into the store
        (a backend hashed it where it was made). Same file system: one rename."""
        target = self.path_of(digest, ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp, 0o444)  # store objects are immutable; an edit by hand shows as "modified"
        os.replace(temp, target)

    def sweep_temporaries(self) -> int:
        """Remove temporaries left by an interrupted run; only call while holding the render lock."""
        if not self.tmp.is_dir():
            return 0
        count = 0
        for entry in self.tmp.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            count += 1
        return count


class RunCache:
    """Finished stage runs by key digest: `.alpha/runs/<digest>.json` -> outputs and metrics.

    Written as soon as a stage finishes, so an interrupted render resumes after its last
    finished stage, and going back to earlier settings reuses the earlier outputs.
    """

    def __init__(self, state_dir: Path):
        self.folder = state_dir / "runs"

    def get(self, digest: str) -> dict | None:
        try:
            return json.loads((self.folder / f"{digest}.json").read_text())
        except FileNotFoundError:
            return None

    def put(self, digest: str, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / f"{digest}.json", json.dumps(record, sort_keys=True))
