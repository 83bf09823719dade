"""Files between hosts as hash-verified chunks, and the hash-keyed cache on each host.

No shared file system is assumed. A file travels as a stream of fixed-size chunks, each with
its own hash, and is written under a temporary name; only when every chunk and the whole
file's hash check out is it renamed into place. The cache keys files by content hash, so a
file crosses to a host at most once: a per-hash lock makes a second job on the same host wait
for the first transfer instead of starting its own. This module knows nothing about Ray: the
chunks come from any iterable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..plan.hashing import hash_bytes, hash_file

# Well under the smallest object store a node may have (Ray's test nodes default to 150 MiB),
# and large enough that per-chunk overhead stays small against the bytes moved.
CHUNK_BYTES = 8 << 20

Chunk = tuple[bytes, str]  # the bytes, and their xxh3-128 hex digest


class TransferError(Exception):
    """A transfer that did not deliver the file it promised (a bad chunk, a wrong total hash)."""


def read_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """The file's bytes in order, `chunk_bytes` at a time, each with its hash."""
    with open(path, "rb") as stream:
        while True:
            data = stream.read(chunk_bytes)
            if not data:
                return
            yield data, hash_bytes(data)


def receive(chunks: Iterable[Chunk], target: Path, digest: str) -> int:
    """Write `chunks` to `target` (a temporary path) and check them; returns the byte count.

    Raises TransferError (and removes `target`) when a chunk or the whole file does not match.
    """
    size = 0
    try:
        with open(target, "wb") as stream:
            for index, (data, chunk_digest) in enumerate(chunks):
                if hash_bytes(data) != chunk_digest:
                    raise TransferError(f"chunk {index} of {digest[:10]} arrived damaged")
                stream.write(data)
                size += len(data)
        if hash_file(target) != digest:
            raise TransferError(f"the file received as {digest[:10]} has another content hash")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        raise
    return size


class HostCache:
    """Files by content hash on one host: `objects/<2 hex>/<hash><ext>`.

    `received.jsonl` lists every file that crossed to this host (hash, bytes, seconds), which is
    how tests and the cluster benchmark see what each node received.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.objects = folder / "objects"
        self.tmp = folder / "tmp"
        self.locks = folder / "locks"
        self.ledger = folder / "received.jsonl"

    def path(self, digest: str, ext: str) -> Path:
        return self.objects / digest[:2] / f"{digest}{ext}"

    def has(self, digest: str, ext: str) -> bool:
        return self.path(digest, ext).is_file()

    def fetch(self, digest: str, ext: str, chunks: Callable[[], Iterable[Chunk]], name: str) -> Path:
        """The cached file for `digest`, receiving it through `chunks()` only if it is not here."""
        target = self.path(digest, ext)
        if target.is_file():
            return target
        with self._locked(digest):
            if target.is_file():  # another job on this host received it while we waited
                return target
            started = time.monotonic()
            temp = self._temporary(ext)
            size = receive(chunks(), temp, digest)
            self._install(temp, target)
            self._log({"hash": digest, "name": name, "bytes": size,
                       "seconds": round(time.monotonic() - started, 3)})
        return target

    def adopt(self, temp: Path, ext: str) -> tuple[str, int, Path]:
        """Move a finished file into the cache; returns its hash, size and cached path."""
        digest = hash_file(temp)
        size = temp.stat().st_size
        target = self.path(digest, ext)
        with self._locked(digest):
            if target.is_file():
                temp.unlink()
            else:
                self._install(temp, target)
        return digest, size, target

    def work_folder(self, prefix: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.tmp))

    def received(self) -> list[dict]:
        try:
            lines = self.ledger.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def _temporary(self, ext: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=ext, dir=self.tmp)
        os.close(fd)
        return Path(name)

    def _install(self, temp: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp, 0o444)
        os.replace(temp, target)

    def _log(self, entry: dict) -> None:
        # One short line per write with O_APPEND: lines from concurrent writers never interleave.
        fd = os.open(self.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _locked(self, digest: str) -> Iterator[None]:
        self.locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.locks / digest, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

