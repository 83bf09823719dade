"""The built site in memory, its build id, and the move into place.

Pages are rendered with a placeholder where the build id goes; the build id is the hash of
every file's path and content (placeholders included, store hashes for linked media), so the
same inputs always give the same id and any change gives a new one. The placeholder is then
replaced in every page.

The site is written into a spare folder beside the output folder (`.site.spare`, which holds
the build before last, so only what changed is written) and swapped in: with one atomic
rename(2) RENAME_EXCHANGE where the kernel has it, else renames. A failed build leaves the
live site as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import xxhash

from ..errors import Failure, UserError
from .markers import BUILD

BUILD_FILE = "build.json"
PORTABLE_MARK = "file:"  # a manifest link entry written as a real file, not a symlink
_OLD_PREFIX = ".old-"


class SiteFiles:
    """Every file of one build: text and bytes by site path, plus links into the store."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.blobs: dict[str, bytes] = {}
        self.links: dict[str, Path] = {}
        self.link_digests: dict[str, str] = {}

    def add_text(self, path: str, text: str) -> None:
        self._claim(path)
        self.texts[path] = text

    def add_bytes(self, path: str, data: bytes) -> None:
        self._claim(path)
        self.blobs[path] = data

    def add_link(self, path: str, target: Path, digest: str) -> None:
        if path in self.links and self.links[path] == target:
            return
        self._claim(path)
        self.links[path] = target
        self.link_digests[path] = digest

    def _claim(self, path: str) -> None:
        if path in self.texts or path in self.blobs or path in self.links:
            raise UserError(f"two things in the site want the same path {path!r} "
                            "(a post slug or tag that clashes with another page?)")

    def paths(self) -> set[str]:
        return set(self.texts) | set(self.blobs) | set(self.links)

    def __len__(self) -> int:
        return len(self.texts) + len(self.blobs) + len(self.links)

    def build_id(self) -> str:
        digest = xxhash.xxh3_128()
        entries: list[tuple[str, str]] = []
        entries += [(path, xxhash.xxh3_128_hexdigest(text.encode("utf-8"))) for path, text in self.texts.items()]
        entries += [(path, xxhash.xxh3_128_hexdigest(data)) for path, data in self.blobs.items()]
        entries += [(path, "link:" + value) for path, value in self.link_digests.items()]
        for path, value in sorted(entries):
            digest.update(f"{path}\0{value}\n".encode("utf-8"))
        return digest.hexdigest()

    def finish(self, build_id: str) -> None:
        """Put the build id where the placeholders are."""
        for path, text in self.texts.items():
            if BUILD in text:
                self.texts[path] = text.replace(BUILD, build_id)

    def contents(self) -> dict[str, bytes]:
        """Every file's final bytes (after `finish`)."""
        contents = {path: text.encode("utf-8") for path, text in self.texts.items()}
        contents.update(self.blobs)
        return contents

    def link_targets(self, final: Path) -> dict[str, str]:
        """Every link's relative target, as seen from its place under `final`."""
        cache: dict[tuple[str, str], str] = {}
        targets: dict[str, str] = {}
        for path, target in self.links.items():
            parent = os.path.dirname(path)
            folder, name = os.path.split(os.fspath(target))
            key = (parent, folder)
            if key not in cache:
                cache[key] = os.path.relpath(folder, os.path.join(final, parent))
            targets[path] = f"{cache[key]}/{name}"
        return targets


def build_record(build_id: str, drafts: bool, pages: int, files: int, portable: bool = False,
                 aliases: dict[str, str] | None = None) -> str:
    """build.json; `aliases` (old URL path -> the site path it stands for) are what deploy
    verification checks beside the pages."""
    from .. import __version__

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return json.dumps({"build_id": build_id, "built_at": now.isoformat().replace("+00:00", "Z"),
                       "drafts": drafts, "portable": portable, "pages": pages, "files": files,
                       "generator": f"alpha {__version__}", "aliases": aliases or {}}, indent=1) + "\n"


# --- the folders ------------------------------------------------------------------------------


def check_output(root: Path, output: Path, setting: str = "site.output") -> Path:
    """Refuse an output folder whose replacement would destroy something else."""
    output = Path(os.path.abspath(output))
    root = Path(os.path.abspath(root))
    if output == root or root.is_relative_to(output):
        raise UserError(f"alpha.yaml: {setting}: {output} holds the project itself; "
                        "the site folder is replaced on every build")
    for name in ("episodes", "posts", "templates", "media", ".alpha/store", ".alpha/runs",
                 ".alpha/cache", ".alpha/tmp"):
        protected = root / name
        if output == protected or output.is_relative_to(protected) or protected.is_relative_to(output):
            raise UserError(f"alpha.yaml: {setting}: {output} overlaps the project's {name}/; "
                            "the site folder is replaced on every build")
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise UserError(f"{output} is not a folder; move it away or change {setting}")
    if output.is_dir() and not (output / BUILD_FILE).is_file() and any(output.iterdir()):
        raise UserError(f"{output} is not empty and was not written by `alpha build site` "
                        f"(no {BUILD_FILE}); move it away or change {setting}")
    return output


class Folders:
    """The live site folder and a spare one beside it; each build updates the spare and swaps.

    Double buffering: the spare holds the site of the build before last, and a manifest (in
    the project's state folder) says what it holds, so a build writes only the files that
    differ from it, makes only the links that are new, and removes what is gone. The spare's
    `build.json` is its commit mark: removed before the spare is touched, written last, and a
    manifest whose build id does not match it is not trusted (the spare is then rebuilt from
    nothing). The live folder is never written to: a failed build leaves it as it was.
    """

    FORMAT = 1

    def __init__(self, output: Path, state_dir: Path):
        self.live = output
        self.spare = output.parent / f".{output.name}.spare"
        key = xxhash.xxh3_64_hexdigest(os.fspath(output).encode())[:12]
        self.manifest_file = state_dir / "cache" / f"site-{key}.json"
        self.written = 0
        self.linked = 0
        self.removed = 0

    # --- manifests -------------------------------------------------------------------------

    def _manifests(self) -> dict:
        try:
            data = json.loads(self.manifest_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("format") == self.FORMAT else {}

    @staticmethod
    def _build_id_in(folder: Path) -> str | None:
        try:
            return json.loads((folder / BUILD_FILE).read_text()).get("build_id")
        except (OSError, ValueError, AttributeError):
            return None

    def _save(self, live: dict | None, spare: dict | None) -> None:
        from ..atomic import atomic_write_text

        self.manifest_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.manifest_file, json.dumps({"format": self.FORMAT, "live": live, "spare": spare},
                                                         separators=(",", ":")))

    # --- the build -------------------------------------------------------------------------

    def update(self, contents: dict[str, bytes], links: dict[str, str], record: str, build_id: str,
               portable: bool = False) -> None:
        """Make the spare hold exactly `contents`, `links` and build.json (= `record`), then swap
        it in. Raises on any failure before the swap, leaving the live site untouched.

        With `portable`, each link becomes a real file: a hard link to its target where the file
        system allows, else a copy. The manifest marks such entries (`PORTABLE_MARK`), so a change
        of mode remakes them."""
        if portable:
            links = {path: PORTABLE_MARK + target for path, target in links.items()}
        for leftover in self.live.parent.glob(f".{self.live.name}{_OLD_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        manifests = self._manifests()
        old = manifests.get("spare")
        if not (old and self.spare.is_dir() and self._build_id_in(self.spare) == old.get("build_id")):
            old = None
            if self.spare.exists() or self.spare.is_symlink():
                if self.spare.is_dir() and not self.spare.is_symlink():
                    shutil.rmtree(self.spare)
                else:
                    self.spare.unlink()
        self.spare.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.spare / BUILD_FILE)  # the spare is no longer what its manifest says
        files = self._sync(old or {"files": {}, "links": {}}, contents, links)
        data = record.encode("utf-8")
        self._write(BUILD_FILE, data)
        new = {"build_id": build_id, "files": files, "links": links}
        live = manifests.get("live") if self.live.is_dir() and \
            self._build_id_in(self.live) == (manifests.get("live") or {}).get("build_id") else None
        self._swap()
        self._save(new, live if self.spare.exists() else None)

    def _sync(self, old: dict, contents: dict[str, bytes], links: dict[str, str]) -> dict[str, list]:
        root = os.fspath(self.spare)
        old_files: dict[str, list] = old.get("files", {})
        old_links: dict[str, str] = old.get("links", {})
        known_dirs = _with_ancestors(os.path.dirname(path) for path in (*old_files, *old_links))

        def ensure_parent(path: str) -> None:
            parent = os.path.dirname(path)
            if parent and parent not in known_dirs:
                os.makedirs(os.path.join(root, parent), exist_ok=True)
                while parent and parent not in known_dirs:
                    known_dirs.add(parent)
                    parent = os.path.dirname(parent)

        # Gone first, so that a file can become a folder and the other way round.
        for path in set(old_files).difference(contents) | set(old_links).difference(links):
            self._remove(os.path.join(root, path))
        for path in set(old_files) & set(links) | set(old_links) & set(contents):
            self._remove(os.path.join(root, path))
        files: dict[str, list] = {}
        for path, data in contents.items():
            digest = xxhash.xxh3_64_hexdigest(data)
            before = old_files.get(path)
            full = os.path.join(root, path)
            if before is not None and before[0] == digest:
                try:
                    stat = os.lstat(full)
                except FileNotFoundError:
                    stat = None
                if stat is not None and [stat.st_size, stat.st_mtime_ns] == before[1:]:
                    files[path] = before
                    continue
            ensure_parent(path)
            files[path] = [digest, *self._write(path, data)]
        for path, target in links.items():
            if old_links.get(path) == target:
                continue
            ensure_parent(path)
            full = os.path.join(root, path)
            self._remove(full)
            if target.startswith(PORTABLE_MARK):
                _real_file(os.path.join(os.path.dirname(full), target.removeprefix(PORTABLE_MARK)), full, path)
            else:
                os.symlink(target, full)
            if not os.path.exists(full):
                raise Failure(f"link check: {path} -> {target} does not resolve")
            self.linked += 1
        # Folders left empty by removals.
        keep = _with_ancestors(os.path.dirname(path) for path in (*contents, *links))
        for folder in sorted(known_dirs - keep, key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(root, folder))
        return files

    def _write(self, path: str, data: bytes) -> tuple[int, int]:
        full = os.path.join(self.spare, path)
        try:
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except IsADirectoryError:
            shutil.rmtree(full)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except FileExistsError:  # pragma: no cover - O_CREAT without O_EXCL does not raise it
            raise
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        self.written += 1
        return stat.st_size, stat.st_mtime_ns

    def _remove(self, full: str) -> None:
        try:
            os.unlink(full)
            self.removed += 1
        except FileNotFoundError:
            pass
        except (IsADirectoryError, PermissionError):
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
                self.removed += 1
            else:
                raise

    def _swap(self) -> None:
        """Put the spare in the live folder's place (and the old live site in the spare's)."""
        if not self.live.exists():
            os.rename(self.spare, self.live)
            return
        if _exchange(self.spare, self.live):
            return
        old = Path(tempfile.mkdtemp(prefix=f".{self.live.name}{_OLD_PREFIX}", dir=self.live.parent))
        os.rmdir(old)
        os.rename(self.live, old)
        try:
            os.rename(self.spare, self.live)
        except OSError:
            os.rename(old, self.live)
            raise
        os.rename(old, self.spare)


def _real_file(source: str, destination: str, path: str) -> None:
    """`destination` as a real file with `source`'s bytes: a hard link where the file system
    allows (same device, links permitted), else a copy written under a temporary name."""
    try:
        os.link(source, destination)
        return
    except FileNotFoundError:
        raise Failure(f"link check: {path}: {source} is missing") from None
    except OSError:
        pass  # another file system, or hard links refused: a copy does the same
    temporary = f"{destination}.tmp-{os.getpid()}"
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o444)  # as read-only as the store object it copies
        os.rename(temporary, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _with_ancestors(folders: Iterable[str]) -> set[str]:
    """The relative folders given and every folder above them (the root, "", excluded)."""
    found: set[str] = set()
    for folder in folders:
        while folder and folder not in found:
            found.add(folder)
            folder = os.path.dirname(folder)
    return found
