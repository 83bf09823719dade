"""Render outputs as site files: content-addressed URLs that are relative links into the store.

A page never names a video or image by a URL that could later hold different bytes: every
media file appears as `media/<hash prefix><ext>`, so a re-render gives a new URL and no cache
can serve the old one. The stable per-episode URL (`episodes/<id>/video.mp4`) is a second link
to the same store file, always the latest render, for links from outside.

Files are not copied: the site holds relative symlinks into `.alpha/store/`, which the deploy
tool dereferences. The proof stage renders a display JPEG of every proof image (and a
thumbnail of each frame) beside the PNG; for renders that lack them, the builder makes them
once and keeps them in the store like any other output.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write_text
from ..console import warn
from ..errors import Failure
from ..plan.hashing import HashCache
from ..store import Store

MEDIA_DIR = "media"
HASH_CHARS = 16  # 64 bits of the content hash name a media URL

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class Image:
    """An image in the site: its site-relative path and pixel size (None when unknown)."""

    path: str
    width: int | None
    height: int | None


class Media:
    """The store files one build links to, by site path."""

    def __init__(self, root: Path, state_dir: Path):
        self.root = root
        self.store = Store(state_dir)
        self.links: dict[str, str] = {}     # site path -> absolute store file
        self.digests: dict[str, str] = {}   # site path -> content hash (for the build id)
        self.sizes: dict[str, int] = {}     # site path -> bytes
        self._root = os.fspath(root)
        self._checked: dict[str, str] = {}  # store path -> absolute path, known to exist and intact
        # What is published is checked against its recorded hash, by the same stat-keyed cache
        # as status uses, so an unchanged store costs a stat per file.
        self.hashes = HashCache(root, state_dir / "cache" / "hashes.json")
        self._cache_file = state_dir / "cache" / "site-images.json"
        self._cache: dict[str, list] = self._read_cache()
        self._dirty = False

    # --- links ---------------------------------------------------------------------------

    def add(self, store_path: str, digest: str, what: str) -> str:
        """The content-addressed site path of a store file (`media/<hash>.<ext>`)."""
        source = self._existing(store_path, digest, what)
        ext = os.path.splitext(store_path)[1].lower()
        site_path = f"{MEDIA_DIR}/{digest[:HASH_CHARS]}{ext}"
        known = self.digests.get(site_path)
        if known is not None and known != digest:  # a prefix collision: use the whole hash
            site_path = f"{MEDIA_DIR}/{digest}{ext}"
        self._link(site_path, source, digest)
        return site_path

    def alias(self, site_path: str, store_path: str, digest: str, what: str) -> str:
        """A stable site path for a store file (e.g. `episodes/<id>/video.mp4`)."""
        self._link(site_path, self._existing(store_path, digest, what), digest)
        return site_path

    def size(self, site_path: str) -> int:
        if site_path not in self.sizes:
            self.sizes[site_path] = os.stat(self.links[site_path]).st_size
        return self.sizes[site_path]

    def _link(self, site_path: str, source: str, digest: str) -> None:
        self.links[site_path] = source
        self.digests[site_path] = digest

    def _existing(self, store_path: str, digest: str, what: str) -> str:
        source = self._checked.get(store_path)
        if source is None:
            source = os.path.join(self._root, store_path)
            if not os.path.isfile(source):
                raise Failure(f"{what}: {store_path} is missing from the store "
                              "(run `alpha status` to see which episodes to re-render)")
            if self.hashes.hash(store_path) != digest:
                raise Failure(f"{what}: {store_path} was modified after it was rendered (its content no "
                              "longer matches alpha.lock), so it is not published; `alpha status` names "
                              "the episodes to re-render")
            self._checked[store_path] = source
        return source

    # --- images --------------------------------------------------------------------------

    def image(self, store_path: str, digest: str, what: str, size: tuple[int, int] | None = None) -> Image:
        """The image, linked, with its size (given, or read when it is a PNG)."""
        path = self.add(store_path, digest, what)
        width, height = size or self._size_of(store_path, digest)
        return Image(path, width, height)

    def variant(self, store_path: str, digest: str, variant: str, what: str) -> Image:
        """A smaller JPEG of a store image (made once, kept in the store); the original if the
        source cannot be decoded."""
        key = f"{digest}/{variant}"
        entry = self._cache.get(key)
        if entry is not None:
            derived, width, height = entry
            relative = self.store.relative(derived, ".jpg")
            if relative in self._checked or os.path.isfile(os.path.join(self._root, relative)):
                return Image(self.add(relative, derived, what), width, height)
        made = self._make_variant(Path(self._root, store_path), variant)
        if made is None:
            return self.image(store_path, digest, what)
        derived, width, height = made
        self._cache[key] = [derived, width, height]
        self._dirty = True
        return Image(self.add(self.store.relative(derived, ".jpg"), derived, what), width, height)

    def _make_variant(self, source: Path, variant: str) -> tuple[str, int, int] | None:
        import cv2  # only when a new image must be made

        from ..media.images import display_jpeg

        pixels = cv2.imread(str(source), cv2.IMREAD_COLOR) if os.path.isfile(source) else None
        if pixels is None:
            warn(f"{source} is not a readable image; the page links it as it is")
            return None
        encoded, width, height = display_jpeg(pixels, variant)
        with self.store.temporary(".jpg") as temp:
            temp.write_bytes(encoded)
            digest = self.store.put(temp, ".jpg")
        return digest, width, height

    def _size_of(self, store_path: str, digest: str) -> tuple[int | None, int | None]:
        key = f"{digest}/size"
        if key in self._cache:
            width, height = self._cache[key]
            return width, height
        width = height = None
        with open(self.root / store_path, "rb") as stream:  # add() has checked it exists
            head = stream.read(24)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
        self._cache[key] = [width, height]
        self._dirty = True
        return width, height

    # --- the cache of derived images -----------------------------------------------------

    def _read_cache(self) -> dict[str, list]:
        try:
            data = json.loads(self._cache_file.read_text())
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as exc:
            warn(f"image cache {self._cache_file} unreadable ({exc}); remaking posters")
            return {}
        if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
            return {}
        return data.get("images", {})

    def save(self) -> None:
        self.hashes.save()
        if not self._dirty:
            return
        self._cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self._cache_file, json.dumps({"format": _CACHE_FORMAT, "images": self._cache},
                                                       sort_keys=True))
        self._dirty = False
