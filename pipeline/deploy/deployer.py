"""One deploy, in the order that keeps the live site whole at every instant.

Under the target's lock:
  1. read the target; plan (nothing to do when the site equals the live release);
  2. clean what a killed deploy left; upload new store objects (media first);
  3. build `releases/.partial-<id>` with rsync `--link-dest` from the live release: non-HTML
     files, then HTML; stored media are relative symlinks into `store/`;
  4. write the manifest, rename the release into place, rename a new `current` symlink over
     the old one (the switch), verify the live site;
  5. prune releases beyond `keep`, then garbage-collect store objects no release references.
A kill before 4's switch leaves the previous release live; the next deploy starts clean.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import Failure
from ..plan.hashing import hash_file
from .hooks import Hooks
from .plan import DeployPlan, make_plan
from .proc import OUT_FORMAT, TransferStats, run_rsync
from .release import PARTIAL, Release, release_for
from .site import Site, read_build
from .transport import Target
from .verify import Verification

Verifier = Callable[[DeployPlan], Verification]
ReleaseVerifier = Callable[[Release], Verification]


@dataclass
class Outcome:
    action: str                      # "deploy", "noop", "dry-run", "rollback"
    target: Target
    release: str | None              # live after this (or, for a dry run, the one planned)
    previous: str | None             # live before
    build_id: str | None = None
    plan: DeployPlan | None = None
    transfer: TransferStats = field(default_factory=TransferStats)
    pruned: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)      # releases a rollback left behind
    verification: Verification | None = None
    rolled_back_to: str | None = None                     # --rollback-on-failure went back here

    @property
    def ok(self) -> bool:
        return self.verification is None or self.verification.ok

    def as_json(self) -> dict:
        return {
            "action": self.action,
            "target": self.target.name,
            "kind": self.target.settings.kind,
            "location": self.target.describe(),
            "build_id": self.build_id,
            "release": self.release,
            "previous": self.previous,
            "plan": self.plan.as_json() if self.plan else None,
            "transfer": self.transfer.as_json(),
            "pruned": self.pruned,
            "collected": self.collected,
            "removed": self.removed,
            "verification": self.verification.as_json() if self.verification else None,
            "rolled_back_to": self.rolled_back_to,
            "ok": self.ok,
        }


def deploy(site: Site, target: Target, *, dry_run: bool = False, verifier: Verifier | None = None,
           rollback_on_failure: bool = False, hooks: Hooks | None = None,
           on_upload: Callable[[str, int], None] | None = None) -> Outcome:
    hooks = hooks or Hooks()
    keep = target.settings.keep
    if dry_run:
        plan = make_plan(site, target.state(), keep)
        return Outcome("noop" if plan.noop else "dry-run", target, plan.release_id, plan.previous,
                       site.build_id, plan)
    with target.lock():
        hooks.at("locked")
        state = target.state()
        plan = make_plan(site, state, keep)
        if plan.noop:
            return Outcome("noop", target, plan.previous, plan.previous, site.build_id, plan)
        target.prepare(state)
        outcome = Outcome("deploy", target, plan.release_id, plan.previous, site.build_id, plan)
        if not plan.reuse:
            outcome.transfer = upload(plan, target, hooks, on_upload)
            target.write_manifest(release_for(site, plan.release_id, plan.mtimes))
            hooks.at("manifest")
            target.finalize(plan.release_id)
            hooks.at("finalized")
        target.switch(plan.release_id)
        hooks.at("switched")
        if verifier is not None:
            outcome.verification = verifier(plan)
            if not outcome.verification.ok:
                # Keep every release (no prune, no GC): the previous one is what a rollback needs.
                if rollback_on_failure and plan.previous:
                    target.switch(plan.previous)
                    target.remove_releases([plan.release_id])
                    outcome.rolled_back_to = plan.previous
                    outcome.removed = [plan.release_id]
                return outcome
        target.remove_releases(plan.prune)
        outcome.pruned = plan.prune
        hooks.at("pruned")
        target.remove_objects(plan.collect)
        outcome.collected = plan.collect
        hooks.at("collected")
        return outcome


def rollback(target: Target, *, dry_run: bool = False, verifier: ReleaseVerifier | None = None,
             hooks: Hooks | None = None) -> Outcome:
    """Point `current` at the release before it; the release rolled back from is removed, so
    that a second rollback goes one further back and the next deploy links from the good one.
    Its store objects stay until the next deploy (a fixed redeploy usually needs them)."""
    hooks = hooks or Hooks()

    def plan_rollback():
        state = target.state()
        if state.current is None:
            where = f" (it points to {state.current_link!r})" if state.current_link else ""
            raise Failure(f"{target.name} has no current release to roll back from{where}")
        previous = state.previous(state.current)
        if previous is None:
            raise Failure(f"{state.current} is the oldest release on {target.name}: "
                          "there is nothing to roll back to")
        return state, previous

    if dry_run:
        state, previous = plan_rollback()
        outcome = Outcome("dry-run", target, previous, state.current, state.releases[previous].build_id)
        outcome.removed = [rid for rid in state.releases if rid > previous]
        return outcome
    with target.lock():
        hooks.at("locked")
        state, previous = plan_rollback()
        target.switch(previous)
        hooks.at("switched")
        outcome = Outcome("rollback", target, previous, state.current, state.releases[previous].build_id)
        if verifier is not None:
            outcome.verification = verifier(state.releases[previous])
        outcome.removed = [rid for rid in state.releases if rid > previous]
        target.remove_releases(outcome.removed)
        return outcome


def upload(plan: DeployPlan, target: Target, hooks: Hooks,
           on_upload: Callable[[str, int], None] | None = None) -> TransferStats:
    """Store objects first, then the release tree: everything but HTML, then the HTML."""
    stats = TransferStats()
    with tempfile.TemporaryDirectory(prefix="alpha-deploy-") as temp:
        staging = Path(temp)
        stage(plan, staging)
        # A site build that finished meanwhile swapped in another site: what was read may mix
        # the two. (The build id is a hash of the whole site: a same-content rebuild keeps it.)
        if read_build(plan.site.root)[0] != plan.site.build_id:
            raise Failure(f"{plan.site.root} was rebuilt during the deploy: deploy again")
        options = ["--recursive", "--links", "--times", "--perms", "--no-owner", "--no-group",
                   "--stats", f"--out-format={OUT_FORMAT}"]
        if plan.uploads:
            # Objects are immutable and named by content: an existing one is never re-sent.
            stats.add(run_rsync([*target.rsync_prefix(), *options, "--copy-links", "--ignore-existing", "--chmod=D755,F444",
                                 "--", f"{staging}/store/", target.rsync_dest("store")],
                                hooks, "store", on_upload))
        else:
            hooks.at("store")
        tree = [*options, "--chmod=D755,F644", *(f"--link-dest=../{rid}" for rid in plan.link_dests)]
        ends = ["--", f"{staging}/tree/", target.rsync_dest(f"releases/{PARTIAL}{plan.release_id}")]
        not_html = ["--exclude=*.[hH][tT][mM]", "--exclude=*.[hH][tT][mM][lL]"]
        stats.add(run_rsync([*target.rsync_prefix(), *tree, *not_html, *ends], hooks, "tree"))
        stats.add(run_rsync([*target.rsync_prefix(), *tree, *ends], hooks, "html"))
    return stats


def stage(plan: DeployPlan, staging: Path) -> None:
    """The release as rsync will send it, in a temporary folder.

    `store/<object>`: symlinks to the real files (rsync dereferences them). `tree/`: copies of
    the small files with their deployed mtimes, and for each stored file a relative symlink
    from its place in `releases/<id>/` to `store/<object>` on the target.
    """
    (staging / "store").mkdir()
    (staging / "tree").mkdir()
    for f in plan.uploads:
        link = staging / "store" / f.object
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(f.source, link)
    for path, f in plan.site.files.items():
        dest = staging / "tree" / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if f.stored:
            os.symlink("../" * (path.count("/") + 2) + f"store/{f.object}", dest)
            continue
        try:
            shutil.copyfile(f.source, dest)
        except FileNotFoundError:
            raise Failure(f"{plan.site.root / path} disappeared during the deploy (a site build?): "
                          "deploy again") from None
        if hash_file(dest) != f.hash:
            raise Failure(f"{plan.site.root / path} changed during the deploy: "
                          "finish building the site, then deploy again")
        os.chmod(dest, 0o644)
        mtime = plan.mtimes[path]
        os.utime(dest, ns=(mtime, mtime))
