"""`alpha deploy`: publish the built site to a target from alpha.yaml, verify it, roll back."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from rich.markup import escape

from ..console import console, info, warn
from ..deploy import open_target
from ..deploy.deployer import Outcome
from ..deploy.deployer import deploy as run_deploy
from ..deploy.deployer import rollback as run_rollback
from ..deploy.hooks import Hooks
from ..deploy.overlap import check_target_apart
from ..deploy.plan import DeployPlan
from ..deploy.release import Release
from ..deploy.site import VIDEO_SUFFIXES, scan_site
from ..deploy.transport import LocalTarget
from ..deploy.verify import Alias, Verification, Video, verify as verify_live
from ..errors import Failure, UserError
from ..project.keys import did_you_mean
from ..project.schema import DeploySettings, DeployTarget
from ..workspace import Workspace, open_workspace

FEEDS = ("feed.xml", "rss.xml", "atom.xml")
MAX_LISTED = 20
MAX_CHANGES = 5


def deploy(project_dir: Path | None, target: str | None, dry_run: bool, rollback: bool,
           as_json: bool = False, verify: bool = True, rollback_on_failure: bool = False,
           allow_drafts: bool = False) -> int:
    workspace = open_workspace(project_dir)
    project = workspace.project
    name, settings = select_target(project.settings.deploy, target)
    destination = open_target(name, settings, project.root)
    if isinstance(destination, LocalTarget):
        check_target_apart(project, name, destination.path)
    hooks = Hooks()
    url = settings.url if verify and settings.url else None
    rollback_command = (f"alpha -C {shlex.quote(str(project.root))} deploy --target {shlex.quote(name)} "
                        "--rollback")
    try:
        if rollback:
            verifier = (lambda release: _verify_release(url, release)) if url else None
            outcome = run_rollback(destination, dry_run=dry_run, verifier=verifier, hooks=hooks)
        else:
            ensure_current(workspace, allow_drafts, dry_run)
            site = scan_site(project.site_dir, project.state_dir / "store", workspace.hashes)
            if not dry_run:  # a dry run writes nothing, not even the hash cache
                workspace.hashes.save()
            verifier = (lambda plan: _verify_plan(url, plan)) if url else None
            if not dry_run and not as_json:
                say(f"deploy [bold]{escape(site.build_id)}[/] to {escape(name)} "
                    f"({settings.kind} {escape(destination.describe())})")
            outcome = run_deploy(site, destination, dry_run=dry_run, verifier=verifier,
                                 rollback_on_failure=rollback_on_failure, hooks=hooks,
                                 on_upload=None if as_json else _print_upload)
    except KeyboardInterrupt:
        raise Failure("deploy interrupted: `current` still points to a complete release; "
                      "run the deploy again (it cleans up what was left)") from None
    if as_json:
        print(json.dumps(outcome.as_json(), indent=2))
    else:
        print_outcome(outcome)
    if outcome.verification is not None and not outcome.verification.ok:
        failed = outcome.verification.failures
        what = f"verification of {outcome.verification.url} failed ({len(failed)} of " \
               f"{len(outcome.verification.checks)} checks)"
        if outcome.rolled_back_to:
            raise Failure(f"{what}; rolled back to release {outcome.rolled_back_to} "
                          f"(release {outcome.release} removed)")
        if outcome.action == "deploy" and outcome.previous:
            raise Failure(f"{what}; release {outcome.release} is live. To go back to release "
                          f"{outcome.previous}, run:\n  {rollback_command}")
        raise Failure(what)
    return 0


def ensure_current(workspace: Workspace, allow_drafts: bool, dry_run: bool) -> None:
    """Refuse a drafts build unless allowed; rebuild site/ first when its inputs changed since
    it was built (as `mkdocs gh-deploy` builds before it publishes), naming what changed."""
    from ..site.build import build_site
    from ..site.inputs import built_with, changes_since_build

    site_dir = workspace.project.site_dir
    record = _build_record(site_dir)
    if record is None:
        return  # no build at all: scan_site says how to make one
    shown = _shown(site_dir, workspace.project.root)
    if record.get("drafts") and not allow_drafts:
        raise UserError(f"{shown}/build.json: {shown}/ is a drafts build (`alpha build site --drafts`: "
                        "drafts and future-dated items, a robots.txt that forbids indexing); rebuild it "
                        "with `alpha build site`, or publish it on purpose with `alpha deploy --allow-drafts`")
    changes = changes_since_build(workspace, site_dir, record["build_id"])
    if changes is None:
        warn(f"{shown}/ holds build {record['build_id'][:12]}, which this project did not record "
             "building: it is deployed as it is")
        return
    if not changes:
        return
    listing = "; ".join(changes[:MAX_CHANGES]) + (f"; and {len(changes) - MAX_CHANGES} more"
                                                  if len(changes) > MAX_CHANGES else "")
    if dry_run:
        warn(f"{shown}/ is out of date ({listing}): `alpha deploy` rebuilds it first; "
             f"this dry run shows {shown}/ as it is")
        return
    info(f"{shown}/ is out of date ({listing}): rebuilding it first")
    modes = built_with(workspace, site_dir, record["build_id"])
    result = build_site(workspace.project.root, drafts=bool(record.get("drafts")),
                        portable=modes.get("portable"))
    for message in result.warnings:
        warn(message)
    info(f"built {result.pages} pages into {shown}/: build {result.build_id[:12]}")


def _build_record(site_dir: Path) -> dict | None:
    try:
        data = json.loads((site_dir / "build.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("build_id"), str) else None


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def select_target(settings: DeploySettings, name: str | None) -> tuple[str, DeployTarget]:
    targets = settings.targets
    if not targets:
        raise UserError("alpha.yaml defines no deploy targets; add one, e.g.\n"
                        "  deploy:\n    targets:\n      www: {kind: local, path: /var/www/alpha}")
    if name is None:
        name = settings.default
        if name is None:
            if len(targets) > 1:
                raise UserError(f"several deploy targets ({', '.join(targets)}): pick one with "
                                "--target NAME, or set deploy.default in alpha.yaml")
            name = next(iter(targets))
        elif name not in targets:
            raise UserError(f"deploy.default is {name!r}, which is not under deploy.targets "
                            f"({', '.join(targets)}){did_you_mean(name, targets)}")
    if name not in targets:
        raise UserError(f"unknown deploy target {name!r}; alpha.yaml defines: "
                        f"{', '.join(targets)}{did_you_mean(name, targets)}")
    return name, targets[name]


# --- verification -----------------------------------------------------------------------------


def _verify_plan(url: str, plan: DeployPlan) -> Verification:
    files = plan.site.files
    pages = [p for p in plan.changed if files[p].is_html] or (["index.html"] if "index.html" in files else [])
    videos = [f for f in (files[p] for p in plan.changed) if f.is_video]
    seen: set[str] = set()
    unique = []
    for f in videos or [f for f in files.values() if f.is_video][:1]:
        if f.hash not in seen:  # the alias and the hashed name of one video: ask once
            seen.add(f.hash)
            unique.append(Video(f.path, f.size, f.source))
    feeds = [p for p in FEEDS if p in files]
    return verify_live(url, plan.site.build_id, pages, unique, feeds, token=plan.release_id,
                       aliases=_aliases(plan))


def _aliases(plan: DeployPlan) -> list[Alias]:
    """The build's aliases (old URLs), from its build.json: each is checked live."""
    record = _build_record(plan.site.root) or {}
    aliases = record.get("aliases") if isinstance(record.get("aliases"), dict) else {}
    files = plan.site.files
    checks = []
    for path, target in sorted(aliases.items()):
        if path not in files:
            continue
        file = files[path]
        checks.append(Alias(path, target, Video(path, file.size, file.source) if file.is_video else None))
    return checks


def _verify_release(url: str, release: Release) -> Verification:
    files = release.files
    videos = [Video(p, e["size"]) for p, e in files.items() if Path(p).suffix.lower() in VIDEO_SUFFIXES][:1]
    pages = ["index.html"] if "index.html" in files else []
    feeds = [p for p in FEEDS if p in files]
    return verify_live(url, release.build_id, pages, videos, feeds, token=release.id)


# --- human output -----------------------------------------------------------------------------


def say(text: str) -> None:
    console.print(text, soft_wrap=True)  # paths and ids stay whole for copy and paste


def _print_upload(name: str, size: int) -> None:
    say(f"  [dim]↑[/] store/{escape(name)} ({_size(size)})")


def print_outcome(outcome: Outcome) -> None:
    target = outcome.target
    plan = outcome.plan
    if outcome.action == "noop":
        say(f"[green]✓[/] {escape(target.name)} is up to date: release {outcome.release} "
            f"holds build {escape(outcome.build_id or '')}; nothing to deploy")
        return
    if outcome.action == "dry-run" and plan is None:  # a rollback's dry run
        say(f"dry run, nothing written: on {escape(target.name)} "
            f"({escape(target.describe())}) a rollback would")
        say(f"  switch current: {outcome.previous} → {outcome.release} "
            f"(build {escape(outcome.build_id or '')})")
        say(f"  remove release{'s' if len(outcome.removed) != 1 else ''}: {', '.join(outcome.removed)}")
        return
    if outcome.action == "rollback":
        say(f"[green]✓[/] rolled back {escape(target.name)}: current {outcome.previous} → "
            f"{outcome.release} (build {escape(outcome.build_id or '')}); "
            f"removed {', '.join(outcome.removed)}")
        _print_verification(outcome.verification)
        return
    assert plan is not None
    if outcome.action == "dry-run":
        site = plan.site
        say(f"dry run, nothing written: deploy build {escape(site.build_id)} to "
            f"{escape(target.name)} ({escape(target.describe())})")
        say(f"  site: {len(site.files)} files, {_size(site.size)}")
        small = [p for p in plan.changed if not site.files[p].stored]
        say(f"  would upload {len(plan.uploads)} store object{_s(plan.uploads)} "
            f"({_size(plan.upload_bytes)}) and {len(small)} changed file{_s(small)} "
            f"({_size(plan.changed_small_bytes)}); {plan.unchanged} unchanged")
        for f in plan.uploads[:MAX_LISTED]:
            say(f"    ↑ {escape(f.path)} → store/{f.object} ({_size(f.size)})")
        for path in small[:MAX_LISTED]:
            say(f"    ↑ {escape(path)} ({_size(site.files[path].size)})")
        _more(len(plan.uploads) + len(small), 2 * MAX_LISTED)
        if plan.removed:
            say(f"  would delete {len(plan.removed)} file{_s(plan.removed)} from the live site "
                "(not in the new release):")
            for path in plan.removed[:MAX_LISTED]:
                say(f"    - {escape(path)}")
            _more(len(plan.removed), MAX_LISTED)
        reuse = " (complete already: an interrupted deploy left it)" if plan.reuse else ""
        say(f"  would switch current: {plan.previous or '(none)'} → {plan.release_id}{reuse}")
        if plan.prune:
            say(f"  would prune release{_s(plan.prune)}: {', '.join(plan.prune)}")
        if plan.collect:
            say(f"  would collect {len(plan.collect)} unreferenced store object{_s(plan.collect)}")
        return
    removed = f", {len(plan.removed)} removed" if plan.removed else ""
    if plan.reuse:
        say(f"  release {outcome.release} holds this build already (an interrupted deploy "
            "left it complete): switching to it")
    say(f"  release {outcome.release}: {len(plan.changed)} changed{removed}, "
        f"{plan.unchanged} unchanged")
    say(f"  transferred {_size(outcome.transfer.file_bytes)} in {outcome.transfer.files} "
        f"file{_s(range(outcome.transfer.files))} ({outcome.transfer.sent:,} bytes sent)")
    say(f"[green]✓[/] switched current: {outcome.previous or '(none)'} → {outcome.release}")
    _print_verification(outcome.verification)
    if outcome.rolled_back_to:
        say(f"[yellow]↩[/] rolled back: current → {outcome.rolled_back_to}")
    if outcome.pruned or outcome.collected:
        say(f"  pruned {len(outcome.pruned)} release{_s(outcome.pruned)}, collected "
            f"{len(outcome.collected)} store object{_s(outcome.collected)}")


def _print_verification(verification: Verification | None) -> None:
    if verification is None:
        return
    if verification.ok:
        say(f"[green]✓[/] verified {escape(verification.url)}: {verification.summary()}")
        return
    say(f"[red]✗[/] verification of {escape(verification.url)}: {verification.summary()}")
    for check in verification.failures:
        say(f"    {check.kind}: {escape(check.url)}: {escape(check.detail)}")


def _more(count: int, shown: int) -> None:
    if count > shown:
        say(f"    … and {count - shown} more (--json lists all)")


def _s(items) -> str:
    return "" if len(items) == 1 else "s"


def _size(count: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count}"
