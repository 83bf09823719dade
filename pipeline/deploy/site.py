"""The built site as deploy sees it: every file dereferenced, hashed, and sorted into
store objects (large media, shared by releases) and small files (hard-linked between releases).

Media entries in `site/` are usually relative symlinks into the project's `.alpha/store/`;
deploy uploads what they point to, never the links. The build id comes from `site/build.json`,
which `alpha build site` writes; deploy never adds files of its own to a release.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import xxhash

from ..errors import Failure, UserError
from ..plan.hashing import HashCache, hash_file

# Files at least this large go to the content-addressed store, whatever their type.
STORE_MIN_SIZE = 256 * 1024
# Audio and video always go to the store: they are what makes a release big.
MEDIA_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".ogv",
                            ".mp3", ".m4a", ".aac", ".oga", ".ogg", ".opus", ".wav", ".flac"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".ogv"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
_STORE_NAME = re.compile(r"^[0-9a-f]{32}$")  # an xxh3-128 digest: how pipeline.store names objects
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")


@dataclass(frozen=True)
class SiteFile:
    path: str          # relative to the site root, with "/" separators
    source: Path       # the real file (symlinks resolved)
    size: int
    mtime_ns: int
    hash: str          # xxh3-128 of the content
    stored: bool       # lives in the target's store; the release holds a symlink to it

    @property
    def object(self) -> str | None:
        """The store object name, `<2 hex>/<hash><suffix>`, for a stored file."""
        if not self.stored:
            return None
        suffix = Path(self.path).suffix.lower()
        return f"{self.hash[:2]}/{self.hash}{suffix if _SUFFIX.match(suffix) else ''}"

    @property
    def is_html(self) -> bool:
        return Path(self.path).suffix.lower() in HTML_SUFFIXES

    @property
    def is_video(self) -> bool:
        return Path(self.path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class Site:
    root: Path
    files: dict[str, SiteFile]   # by path, sorted
    build_id: str
    built_at: str | None
    digest: str                  # the content of the whole site: equal digests, nothing to deploy

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files.values())


def is_stored(path: str, size: int) -> bool:
    return size >= STORE_MIN_SIZE or Path(path).suffix.lower() in MEDIA_SUFFIXES


def site_digest(entries: dict[str, tuple[str, bool]]) -> str:
    """One hash over every (path, content hash, stored) of a site or a release."""
    digest = xxhash.xxh3_128()
    for path in sorted(entries):
        content, stored = entries[path]
        digest.update(f"{path}\0{content}\0{'S' if stored else 'F'}\n".encode())
    return digest.hexdigest()


def read_build(site_dir: Path) -> tuple[str, str | None]:
    build_file = site_dir / "build.json"
    try:
        data = json.loads(build_file.read_text())
    except FileNotFoundError:
        raise UserError(f"{build_file} is missing: build the site first (alpha build site)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{build_file} is not readable JSON: {exc}") from None
    build_id = data.get("build_id") if isinstance(data, dict) else None
    if not isinstance(build_id, str) or not build_id:
        raise UserError(f"{build_file} has no build_id: rebuild the site (alpha build site)")
    built_at = data.get("built_at")
    return build_id, built_at if isinstance(built_at, str) else None


def scan_site(site_dir: Path, trusted_store: Path | None = None, hashes: HashCache | None = None) -> Site:
    """Every file of the built site, symlinks dereferenced, each hashed once.

    Files that resolve into `trusted_store` (the project's `.alpha/store/`, whose objects are
    read-only and named by their xxh3-128 digest) are named by their hash; with `hashes` (the
    project's stat-keyed hash cache) each is checked against its name, so a store object edited
    by hand is refused rather than published, at the cost of a stat when nothing changed.
    """
    if not site_dir.is_dir():
        raise UserError(f"{site_dir} does not exist: build the site first (alpha build site)")
    build_id, built_at = read_build(site_dir)
    store_root = trusted_store.resolve() if trusted_store is not None else None
    files: dict[str, SiteFile] = {}
    try:
        for path, source in _walk(site_dir):
            stat = source.stat()
            digest = _trusted_digest(source, store_root)
            if digest is not None and hashes is not None:
                actual = hashes.hash(os.path.relpath(source, hashes.root))
                if actual != digest:
                    raise Failure(f"{path} links to {source}, which was modified after it was rendered "
                                  "(its content no longer matches its name), so it is not deployed; "
                                  "`alpha status` names the episodes to re-render")
            digest = digest or hash_file(source)
            files[path] = SiteFile(path, source, stat.st_size, stat.st_mtime_ns, digest,
                                   is_stored(path, stat.st_size))
    except FileNotFoundError as exc:  # `alpha build site` swapped a new site in meanwhile
        raise Failure(f"{site_dir} changed while it was read ({exc.filename}): "
                      "let the site build finish, then deploy again") from None
    files = dict(sorted(files.items()))
    digest = site_digest({p: (f.hash, f.stored) for p, f in files.items()})
    return Site(site_dir, files, build_id, built_at, digest)


def _trusted_digest(source: Path, store_root: Path | None) -> str | None:
    if store_root is None or not source.is_relative_to(store_root):
        return None
    stem = source.name.split(".", 1)[0]
    return stem if _STORE_NAME.match(stem) else None


def _walk(site_dir: Path):
    """(relative path, real file) for every file, following symlinks, refusing broken ones."""
    seen: set[Path] = set()

    def walk(folder: Path, prefix: str):
        real = folder.resolve()
        if real in seen:
            raise UserError(f"{site_dir}: symlink loop at {prefix or '.'}")
        seen.add(real)
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                relative = f"{prefix}{entry.name}"
                if "\n" in entry.name or "\r" in entry.name:
                    raise UserError(f"{site_dir}/{relative!r}: file names with line breaks cannot be deployed")
                path = Path(entry.path)
                if entry.is_symlink():
                    try:
                        target = path.resolve(strict=True)
                    except (OSError, RuntimeError):
                        raise UserError(f"{site_dir}/{relative} is a broken symlink "
                                        f"(-> {os.readlink(path)})") from None
                    if target.is_dir():
                        yield from walk(target, f"{relative}/")
                    elif target.is_file():
                        yield relative, target
                elif entry.is_dir(follow_symlinks=False):
                    yield from walk(path, f"{relative}/")
                elif entry.is_file(follow_symlinks=False):
                    yield relative, path
        seen.discard(real)

    yield from walk(site_dir, "")
