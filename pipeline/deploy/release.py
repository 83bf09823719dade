"""Releases on a target, and the manifests that describe them.

Layout under a target's PATH (the web server's document root is PATH/current):

    current                  -> releases/<id>   (a relative symlink, replaced by rename)
    releases/<id>/           one complete release: exactly the files of one built site;
                             stored media are relative symlinks ../../store/<2 hex>/<hash><ext>
    releases/.partial-<id>/  a release being built (invisible until renamed to <id>)
    releases/.trash-<id>/    a release being deleted
    manifests/<id>.json      what a release holds: path -> size, hash, mtime, store object
    store/<2 hex>/<hash><ext>  content-addressed media shared by releases (read-only)
    .deploy.lock             held (flock) for the whole of a deploy or rollback

A release exists when `releases/<id>` exists; its manifest is written before the rename, so a
release is never without one. Ids sort in deploy order: `<6-digit sequence>-<UTC time>`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from .site import Site, site_digest

FORMAT = 1
RELEASE_ID = re.compile(r"^(\d{6})-(\d{8}T\d{6}Z)$")
PARTIAL = ".partial-"
TRASH = ".trash-"


@dataclass(frozen=True)
class Release:
    id: str
    build_id: str
    built_at: str | None
    deployed_at: str
    digest: str
    files: dict[str, dict]   # path -> {"size", "hash", "mtime_ns"[, "object"]}

    def objects(self) -> set[str]:
        return {entry["object"] for entry in self.files.values() if "object" in entry}

    def content(self) -> dict[str, tuple[str, bool]]:
        return {path: (entry["hash"], "object" in entry) for path, entry in self.files.items()}

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "id": self.id, "build_id": self.build_id,
                           "built_at": self.built_at, "deployed_at": self.deployed_at,
                           "digest": self.digest, "files": self.files},
                          separators=(",", ":"), sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Release":
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown manifest format {data.get('format')!r}")
        release = cls(data["id"], data["build_id"], data.get("built_at"), data["deployed_at"],
                      data["digest"], data["files"])
        if site_digest(release.content()) != release.digest:
            raise ValueError("manifest digest does not match its files")
        return release


def new_release_id(existing: set[str], now: dt.datetime | None = None) -> str:
    """The next id: one more than the highest sequence number seen on the target."""
    sequence = max((int(m.group(1)) for name in existing
                    if (m := RELEASE_ID.match(_bare(name)))), default=0) + 1
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{sequence:06d}-{now:%Y%m%dT%H%M%SZ}"


def _bare(name: str) -> str:
    for prefix in (PARTIAL, TRASH):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name.removesuffix(".json")


def is_release_id(name: str) -> bool:
    return RELEASE_ID.match(name) is not None


@dataclass
class TargetState:
    """What a target holds, read in one go before anything is planned or written."""

    exists: bool = False
    current: str | None = None           # the release id `current` points to
    current_link: str | None = None      # the raw link text (to report a foreign `current`)
    releases: dict[str, Release] = field(default_factory=dict)   # complete, by id, sorted
    leftovers: list[str] = field(default_factory=list)  # .partial-*/.trash-* dirs in releases/
    orphans: list[str] = field(default_factory=list)    # manifests without a release dir
    unreadable: list[str] = field(default_factory=list)  # release dirs with a bad/missing manifest
    objects: set[str] = field(default_factory=set)      # store objects present
    names: set[str] = field(default_factory=set)        # every name seen, for the next id

    def previous(self, release_id: str | None) -> str | None:
        """The newest complete release older than `release_id`."""
        older = [rid for rid in self.releases if release_id is None or rid < release_id]
        return older[-1] if older else None


def build_state(current_link: str | None, dirs: list[str], manifests: dict[str, str | None],
                objects: set[str]) -> TargetState:
    """A TargetState from raw listings (the same for local and remote targets)."""
    state = TargetState(exists=True, current_link=current_link, objects=objects)
    state.names = set(dirs) | {f"{name}.json" for name in manifests}
    releases: dict[str, Release] = {}
    for name in dirs:
        if name.startswith((PARTIAL, TRASH)):
            state.leftovers.append(name)
        elif is_release_id(name):
            text = manifests.get(name)
            try:
                if text is None:
                    raise ValueError("no manifest")
                release = Release.from_json(text)
                if release.id != name:
                    raise ValueError("manifest of another release")
                releases[name] = release
            except (ValueError, KeyError, TypeError):
                state.unreadable.append(name)
    state.orphans = sorted(name for name in manifests if name not in dirs)
    state.releases = dict(sorted(releases.items()))
    if current_link is not None:
        name = current_link.rstrip("/").removeprefix("releases/")
        if "/" not in name and name in state.releases:
            state.current = name
    return state


def release_for(site: Site, release_id: str, mtimes: dict[str, int], now: dt.datetime | None = None) -> Release:
    """The manifest of `site` deployed as `release_id`; `mtimes` are the deployed mtimes."""
    now = now or dt.datetime.now(dt.timezone.utc)
    files = {}
    for path, f in site.files.items():
        entry = {"size": f.size, "hash": f.hash, "mtime_ns": mtimes.get(path, f.mtime_ns)}
        if f.stored:
            entry["object"] = f.object
        files[path] = entry
    return Release(release_id, site.build_id, site.built_at, now.isoformat(timespec="seconds"),
                   site.digest, files)
