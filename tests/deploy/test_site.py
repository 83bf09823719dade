"""The built site as deploy reads it, and the plan made from it (no servers needed)."""

from __future__ import annotations

import os

import pytest

from pipeline.deploy.hooks import Hooks
from pipeline.deploy.plan import make_plan
from pipeline.deploy.release import TargetState, build_state, release_for
from pipeline.deploy.site import scan_site
from pipeline.errors import UserError

from .sitegen import VIDEO_SIZE, build_site


def test_symlinks_are_dereferenced_and_media_go_to_the_store(tmp_path):
    version = build_site(tmp_path, "b1")
    os.symlink("../assets", tmp_path / "site" / "episodes" / "shared")   # a linked folder
    site = scan_site(tmp_path / "site", tmp_path / ".alpha" / "store")
    assert site.build_id == "b1" and site.built_at == "2026-03-01T10:00:00Z"
    assert "episodes/shared/style.css" in site.files
    video = site.files["episodes/ep01/video.mp4"]
    assert video.stored and video.size == VIDEO_SIZE and video.source.is_relative_to(tmp_path / ".alpha")
    assert video.object == f"{video.hash[:2]}/{video.hash}.mp4"
    assert site.files[version.videos["ep01"]].object == video.object    # one object, two names
    assert not site.files["episodes/ep01/poster.jpg"].stored and not site.files["index.html"].stored
    # The store's names are trusted; hashing the file gives the same digest anyway.
    assert scan_site(tmp_path / "site").digest == site.digest


def test_broken_symlinks_and_missing_build_json_are_user_errors(tmp_path):
    build_site(tmp_path, "b1")
    os.symlink("nowhere.mp4", tmp_path / "site" / "media" / "gone.mp4")
    with pytest.raises(UserError, match="broken symlink"):
        scan_site(tmp_path / "site")
    (tmp_path / "site" / "media" / "gone.mp4").unlink()
    (tmp_path / "site" / "build.json").write_text("{}")
    with pytest.raises(UserError, match="no build_id"):
        scan_site(tmp_path / "site")


def test_plan_against_an_empty_and_a_deployed_target(tmp_path):
    build_site(tmp_path, "b1")
    site = scan_site(tmp_path / "site")
    plan = make_plan(site, TargetState(), keep=5)
    assert plan.previous is None and len(plan.uploads) == 3 and not plan.noop
    assert plan.release_id.startswith("000001-")

    release = release_for(site, plan.release_id, plan.mtimes)
    state = build_state(f"releases/{release.id}", [release.id], {release.id: release.to_json()},
                        release.objects())
    again = make_plan(site, state, keep=5)
    assert again.noop and again.release_id.startswith("000002-")

    build_site(tmp_path, "b2", seeds={"ep01": 1, "ep02": 2, "ep03": 33})
    changed = make_plan(scan_site(tmp_path / "site"), state, keep=1)
    assert [f.path for f in changed.uploads] == ["episodes/ep03/video.mp4"]
    assert changed.prune == [release.id] and len(changed.collect) == 1   # ep03's old video
    assert changed.link_dests == [release.id]


def test_a_corrupt_manifest_does_not_count_as_a_release(tmp_path):
    build_site(tmp_path, "b1")
    site = scan_site(tmp_path / "site")
    release = release_for(site, "000001-20260101T000000Z", {})
    tampered = release.to_json().replace('"hash":"', '"hash":"0', 1)
    state = build_state(None, [release.id, ".partial-000002-20260101T000001Z"],
                        {release.id: tampered, "000009-20260101T000000Z": "{}"}, set())
    assert state.releases == {} and state.unreadable == [release.id]
    assert state.orphans == ["000009-20260101T000000Z"]
    assert state.leftovers == [".partial-000002-20260101T000001Z"]
    assert make_plan(site, state, keep=5).release_id.startswith("000010-")


def test_hooks_parse_points_counts_and_actions(tmp_path):
    hooks = Hooks(f"store:2=touch:{tmp_path}/a;switched=touch:{tmp_path}/b,sleep:0")
    hooks.at("store", 1)
    assert not (tmp_path / "a").exists()
    hooks.at("store", 2)
    hooks.at("switched")
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()
    assert not Hooks("")


def test_a_finished_release_that_never_went_live_is_reused_or_dropped(tmp_path):
    build_site(tmp_path, "b1")
    s1 = scan_site(tmp_path / "site")
    r1 = release_for(s1, "000001-20260101T000000Z", {})
    build_site(tmp_path, "b2", seeds={"ep01": 1, "ep02": 2, "ep03": 33})
    s2 = scan_site(tmp_path / "site")
    r2 = release_for(s2, "000002-20260101T000001Z", {})     # finished, then the deploy was killed
    state = build_state(f"releases/{r1.id}", [r1.id, r2.id],
                        {r1.id: r1.to_json(), r2.id: r2.to_json()}, r1.objects() | r2.objects())
    same = make_plan(s2, state, keep=5)
    assert same.reuse and same.release_id == r2.id and not same.uploads and same.prune == []
    build_site(tmp_path, "b3", seeds={"ep01": 1, "ep02": 2, "ep03": 44})
    other = make_plan(scan_site(tmp_path / "site"), state, keep=5)
    assert not other.reuse and other.release_id.startswith("000003-") and other.prune == [r2.id]
