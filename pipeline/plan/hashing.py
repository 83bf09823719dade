"""Content hashes of files, computed once and remembered by stat.

xxh3-128 keeps up with the page cache; the cache (keyed by path, size, mtime_ns and inode, as
DVC's state database is) means an untouched file is never read again. A touched but unchanged
file is re-hashed and comes out with the same hash, so it never causes a re-render.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import xxhash

from ..atomic import atomic_write_text
from ..console import warn

HASH_NAME = "xxh3-128"
# Small enough to stay in L2 between the read and the hash: 2x faster than 4 MiB chunks.
_CHUNK = 1 << 18


def hash_file(path: Path) -> str:
    """The xxh3-128 hex digest of a file's bytes."""
    digest = xxhash.xxh3_128()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while True:
            count = stream.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
    return digest.hexdigest()


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def short(digest: str | None) -> str | None:
    return digest[:10] if digest else digest


class HashCache:
    """Hashes of files under one project, persisted in a JSON file.

    Entries are keyed by the path relative to the project root; each remembers the stat
    signature it was computed for. `save()` writes only when something changed, atomically.
    """

    def __init__(self, root: Path, cache_file: Path):
        self.root = root
        self._prefix = f"{root}{os.sep}"  # string joins: this runs for every file of every episode
        self.cache_file = cache_file
        self.hashed_bytes = 0
        self._dirty = False
        try:
            self._entries: dict[str, list] = json.loads(cache_file.read_text())
        except FileNotFoundError:
            self._entries = {}
        except (ValueError, OSError) as exc:
            # A damaged cache only costs re-hashing; say so rather than hide it.
            warn(f"hash cache {cache_file} unreadable ({exc}); re-hashing")
            self._entries = {}

    def hash(self, relative: str) -> str:
        """The content hash of `root/relative`; raises FileNotFoundError if it is missing."""
        if relative.startswith((os.sep, "~")):
            path = os.path.expanduser(relative)
        else:
            path = self._prefix + relative
        stat = os.stat(path)
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        entry = self._entries.get(relative)
        if entry is not None and entry[:3] == signature:
            return entry[3]
        digest = hash_file(path)
        self.hashed_bytes += stat.st_size
        self._entries[relative] = [*signature, digest]
        self._dirty = True
        return digest

    def hash_if_exists(self, relative: str) -> str | None:
        try:
            return self.hash(relative)
        except FileNotFoundError:
            return None

    def remember(self, relative: str, digest: str) -> None:
        """Record a hash already known (a file we just wrote), sparing a re-read."""
        stat = os.stat(self._prefix + relative)
        self._entries[relative] = [stat.st_size, stat.st_mtime_ns, stat.st_ino, digest]
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.cache_file, json.dumps(self._entries, separators=(",", ":")))
        self._dirty = False
