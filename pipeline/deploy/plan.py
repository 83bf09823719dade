"""What a deploy will do to a target, computed before anything is written (and all `--dry-run` does)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .release import Release, TargetState, new_release_id
from .site import Site, SiteFile


@dataclass
class DeployPlan:
    site: Site
    release_id: str
    previous: str | None                 # the release `current` points to now
    base: Release | None                 # its manifest: what "changed" is relative to
    uploads: list[SiteFile]              # one file per store object to upload, largest first
    changed: list[str]                   # site paths new or different from `base`
    removed: list[str]                   # paths of `base` that the new release lacks
    unchanged: int
    link_dests: list[str]                # releases whose unchanged small files get hard-linked
    mtimes: dict[str, int]               # deployed mtime per small file (unchanged keep theirs)
    reuse: bool = False                  # a complete release of this very site is there already
    prune: list[str] = field(default_factory=list)     # releases removed after the switch
    collect: list[str] = field(default_factory=list)   # store objects removed last

    @property
    def noop(self) -> bool:
        return (self.base is not None and self.base.id == self.previous
                and self.base.digest == self.site.digest)

    @property
    def upload_bytes(self) -> int:
        return sum(f.size for f in self.uploads)

    @property
    def changed_small_bytes(self) -> int:
        return sum(self.site.files[p].size for p in self.changed if not self.site.files[p].stored)

    def as_json(self) -> dict:
        return {
            "release": self.release_id,
            "reuse": self.reuse,
            "upload": {
                "objects": [{"object": f.object, "path": f.path, "size": f.size} for f in self.uploads],
                "files": [{"path": p, "size": self.site.files[p].size} for p in self.changed
                          if not self.site.files[p].stored],
                "bytes": self.upload_bytes + self.changed_small_bytes,
            },
            "changed": self.changed,
            "unchanged": self.unchanged,
            "delete": {"files": self.removed, "releases": self.prune, "objects": self.collect},
            "switch": {"from": self.previous, "to": self.release_id},
        }


def make_plan(site: Site, state: TargetState, keep: int) -> DeployPlan:
    base = state.releases.get(state.current) if state.current else None
    if base is None and state.releases:
        # `current` is missing or foreign: compare with (and link from) the newest release.
        base = state.releases[next(reversed(state.releases))]
    # A deploy killed after its release was complete but before the switch left that release
    # behind, newer than the live one: switch to it rather than build the same thing again.
    reuse = next((rid for rid, release in reversed(state.releases.items())
                  if release.digest == site.digest and (state.current is None or rid > state.current)),
                 None)
    release_id = reuse or new_release_id(state.names)
    old = base.files if base else {}

    changed = [p for p, f in site.files.items()
               if p not in old or old[p]["hash"] != f.hash or ("object" in old[p]) != f.stored]
    removed = [p for p in old if p not in site.files]

    uploads: dict[str, SiteFile] = {}
    for f in site.files.values():
        if reuse is None and f.stored and f.object not in state.objects and f.object not in uploads:
            uploads[f.object] = f

    # An unchanged small file keeps the mtime it was deployed with, so rsync's quick check
    # (size + mtime) matches the previous release's copy and hard-links it, even when the
    # builder rewrote the file with the same bytes; web servers' ETags stay valid too.
    # A changed file must fail that quick check even when the builder gave it the same size
    # and second (fast rebuilds, or reproducible builds with one fixed mtime): rsync compares
    # whole seconds, so its mtime is moved a second past the old one's when they would tie.
    mtimes: dict[str, int] = {}
    for p, f in site.files.items():
        if f.stored:
            continue
        entry = old.get(p)
        if entry is None or "object" in entry:
            mtimes[p] = f.mtime_ns
        elif entry["hash"] == f.hash:
            mtimes[p] = entry["mtime_ns"]
        elif entry["size"] == f.size and entry["mtime_ns"] // 10**9 == f.mtime_ns // 10**9:
            mtimes[p] = entry["mtime_ns"] + 10**9
        else:
            mtimes[p] = f.mtime_ns
    link_dests = [base.id] if base else []

    plan = DeployPlan(site, release_id, state.current, base,
                      sorted(uploads.values(), key=lambda f: (-f.size, f.path)),
                      changed, removed, len(site.files) - len(changed), link_dests, mtimes,
                      reuse=reuse is not None)
    # Complete releases newer than the live one that are not reused were never live (a deploy
    # killed after finishing its release): remove them too, so that the release before the live
    # one is always the one that was live before it, which is what --rollback goes back to.
    abandoned = [rid for rid in state.releases
                 if state.current is not None and rid > state.current and rid != release_id]
    plan.prune = sorted(set(prune_after(state, release_id, keep)) | set(abandoned))
    kept = [r for rid, r in state.releases.items() if rid not in plan.prune]
    referenced = set().union(*(r.objects() for r in kept)) | {f.object for f in site.files.values() if f.stored}
    plan.collect = sorted((state.objects | set(uploads)) - referenced)
    return plan


def prune_after(state: TargetState, new_id: str, keep: int) -> list[str]:
    """Releases beyond the newest `keep` (the new one counted); the live one is never pruned."""
    ids = sorted({*state.releases, new_id})
    keep_ids = set(ids[-keep:]) | {new_id}
    return [rid for rid in ids if rid not in keep_ids]


def collectable(state: TargetState, remaining: list[Release]) -> list[str]:
    referenced = set().union(*(r.objects() for r in remaining)) if remaining else set()
    return sorted(state.objects - referenced)
