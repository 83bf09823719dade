"""The plan's reasons, one test per kind, on a real project whose lock is written by `accept`-like
recording of the current keys (no rendering: planning never runs anything)."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.plan.hashing import HashCache
from pipeline.plan.lock import read_lock, write_lock
from pipeline.plan.plan import plan_project
from pipeline.project.load import load_project
from pipeline.stages import STAGES
from tests.helpers import write


def plans(root: Path):
    project = load_project(root)
    lock = read_lock(project.lock_path)
    hashes = HashCache(root, root / ".alpha/cache/hashes.json")
    result = {plan.id: plan for plan in plan_project(project, lock, hashes)}
    hashes.save()
    return result


def record_as_rendered(root: Path) -> None:
    """Write a lock that says every episode was rendered from exactly its current inputs.

    The outputs are small real files standing in for renders, so output checks have something
    to hash.
    """
    project = load_project(root)
    lock = read_lock(project.lock_path)
    hashes = HashCache(root, root / ".alpha/cache/hashes.json")
    for plan in plan_project(project, lock, hashes):
        stages = {}
        for stage_plan in plan.stages:
            out = root / ".alpha/store" / f"{plan.id}-{stage_plan.stage.name}.bin"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(f"{plan.id} {stage_plan.stage.name}".encode())
            relative = str(out.relative_to(root))
            stages[stage_plan.stage.name] = {**stage_plan.key.record(), "upstream": {},
                                             "outputs": {"main": {"path": relative, "hash": hashes.hash(relative)}},
                                             "metrics": {}}
        lock.episodes[plan.id] = {"version": 1, "rendered_at": "2026-01-01T00:00:00Z", "stages": stages,
                                  "history": [{"version": 1, "reasons": [{"kind": "new"}]}]}
    write_lock(lock)
    hashes.save()


def reasons(plan) -> list[dict]:
    return [reason.as_json() for reason in plan.reasons]


def stages_to_run(plan) -> list[str]:
    return [stage.stage.name for stage in plan.stages if stage.run]


def test_new_episode(bare_project):
    plan = plans(bare_project)["ep01"]
    assert plan.stale and plan.version == 0
    assert reasons(plan) == [{"kind": "new"}]
    assert stages_to_run(plan) == [stage.name for stage in STAGES]
    assert set(plan.inputs) == {"source.image", "audio.voice", "audio.foley[0]"}
    assert plan.inputs["audio.voice"]["path"] == "media/v1.wav"
    assert len(plan.inputs["audio.voice"]["hash"]) == 32


def test_recorded_project_is_up_to_date(bare_project):
    record_as_rendered(bare_project)
    assert not any(plan.stale for plan in plans(bare_project).values())


def test_param_change_names_field_old_and_new(bare_project):
    record_as_rendered(bare_project)
    write(bare_project / "alpha.yaml", """
        defaults:
          lipsync: {backend: preview}
          restore: {blend: seamless, blur: 3}
    """.replace("          restore", "          restore"))
    # ep02 lists TASK-101, which must stay defined
    text = (bare_project / "alpha.yaml").read_text()
    (bare_project / "alpha.yaml").write_text(
        "fixes:\n  - {id: TASK-101, layer: restore, title: P, settings: {restore.blend: poisson}}\n" + text)
    result = plans(bare_project)
    assert reasons(result["ep01"]) == [
        {"kind": "param", "field": "restore.blend", "old": "alpha", "new": "seamless"}]
    assert stages_to_run(result["ep01"]) == ["restore", "mux", "proof"]
    assert not result["ep02"].stale  # its named fix still sets poisson


def test_late_stage_change_reruns_only_that_stage(bare_project):
    record_as_rendered(bare_project)
    text = (bare_project / "episodes/ep01.yaml").read_text()
    (bare_project / "episodes/ep01.yaml").write_text(text + "proof: {at: [1, 2]}\n")
    plan = plans(bare_project)["ep01"]
    assert reasons(plan) == [{"kind": "param", "field": "proof.at", "old": [5.0], "new": [1.0, 2.0]}]
    assert stages_to_run(plan) == ["proof"]


def test_foley_gain_reruns_mux_not_lipsync(bare_project):
    record_as_rendered(bare_project)
    path = bare_project / "episodes/ep01.yaml"
    path.write_text(path.read_text().replace("gain_db: -20", "gain_db: -14"))
    plan = plans(bare_project)["ep01"]
    assert reasons(plan) == [{"kind": "param", "field": "audio.foley[0].gain_db", "old": -20.0, "new": -14.0}]
    assert stages_to_run(plan) == ["mux", "proof"]


def test_input_change_names_file_and_both_hashes(bare_project):
    record_as_rendered(bare_project)
    before = plans(bare_project)["ep01"].inputs["audio.voice"]["hash"]
    (bare_project / "media/v1.wav").write_bytes(b"a different take")
    plan = plans(bare_project)["ep01"]
    assert reasons(plan) == [{"kind": "input", "field": "audio.voice", "path": "media/v1.wav",
                              "old": before, "new": plan.inputs["audio.voice"]["hash"]}]
    assert before != plan.inputs["audio.voice"]["hash"]
    assert stages_to_run(plan) == ["lipsync", "restore", "mux", "proof"]
    assert not plans(bare_project)["ep02"].stale


def test_touched_but_unchanged_file_is_rehashed_not_rerendered(bare_project):
    record_as_rendered(bare_project)
    voice = bare_project / "media/v1.wav"
    stat = voice.stat()
    os.utime(voice, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    project = load_project(bare_project)
    hashes = HashCache(bare_project, bare_project / ".alpha/cache/hashes.json")
    result = plan_project(project, read_lock(project.lock_path), hashes)
    assert not any(plan.stale for plan in result)
    assert hashes.hashed_bytes == stat.st_size  # exactly that file was read again


def rendered_on_latentsync(root):
    """The project switched to the latentsync backend with a checkpoint file, recorded as
    rendered; returns the checkpoint's path."""
    checkpoint = root / "ls/checkpoints/latentsync-1.6/latentsync_unet.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights v1")
    text = (root / "alpha.yaml").read_text().replace("backend: preview", "backend: latentsync")
    (root / "alpha.yaml").write_text(f"latentsync: {{root: {root / 'ls'}}}\n" + text)
    record_as_rendered(root)
    return checkpoint


def test_checkpoint_change(bare_project):
    checkpoint = rendered_on_latentsync(bare_project)
    old = plans(bare_project)["ep01"].stages[1].key.checkpoint["hash"]
    checkpoint.write_bytes(b"weights v2")
    plan = plans(bare_project)["ep01"]
    new = plan.stages[1].key.checkpoint["hash"]
    assert reasons(plan) == [{"kind": "checkpoint", "field": "lipsync.checkpoint",
                              "path": f"{bare_project / 'ls'}/checkpoints/latentsync-1.6/latentsync_unet.pt",
                              "old": old, "new": new}]
    assert stages_to_run(plan) == ["lipsync", "restore", "mux", "proof"]


def test_code_version_change(bare_project, monkeypatch):
    record_as_rendered(bare_project)
    mux = next(stage for stage in STAGES if stage.name == "mux")
    monkeypatch.setattr(type(mux), "version", mux.version + 1)
    plan = plans(bare_project)["ep01"]
    assert reasons(plan) == [{"kind": "code", "field": "mux", "old": mux.version - 1, "new": mux.version}]
    assert stages_to_run(plan) == ["mux", "proof"]


def test_missing_and_modified_outputs(bare_project):
    record_as_rendered(bare_project)
    lock = read_lock(bare_project / "alpha.lock")
    proof_out = lock.episodes["ep01"]["stages"]["proof"]["outputs"]["main"]
    mux_out = lock.episodes["ep02"]["stages"]["mux"]["outputs"]["main"]
    (bare_project / proof_out["path"]).unlink()
    (bare_project / mux_out["path"]).write_bytes(b"edited by hand")
    result = plans(bare_project)
    assert reasons(result["ep01"]) == [{"kind": "output", "field": "proof.main", "path": proof_out["path"],
                                        "old": proof_out["hash"], "new": None}]
    assert stages_to_run(result["ep01"]) == ["proof"]
    [modified] = reasons(result["ep02"])
    assert modified["kind"] == "output" and modified["field"] == "mux.main"
    assert modified["new"] not in (None, mux_out["hash"])
    assert stages_to_run(result["ep02"]) == ["mux", "proof"]


def test_renamed_input_with_same_content_is_not_stale(bare_project):
    record_as_rendered(bare_project)
    (bare_project / "media/v2.wav").rename(bare_project / "media/voice-two.wav")
    path = bare_project / "episodes/ep02.yaml"
    path.write_text(path.read_text().replace("media/v2.wav", "media/voice-two.wav"))
    assert not plans(bare_project)["ep02"].stale


def test_paste_back_and_encode_settings_rerun_restore_never_the_model(bare_project):
    record_as_rendered(bare_project)
    path = bare_project / "episodes/ep01.yaml"
    original = path.read_text()
    for change, field, old, new in (("restore: {blur: 21}", "restore.blur", 3, 21),
                                    ("restore: {erode: 3}", "restore.erode", 0, 3),
                                    ("restore: {blend: poisson}", "restore.blend", "alpha", "poisson"),
                                    ("video: {crf: 18}", "video.crf", 20, 18)):
        path.write_text(original + change + "\n")
        plan = plans(bare_project)["ep01"]
        assert reasons(plan) == [{"kind": "param", "field": field, "old": old, "new": new}], change
        assert stages_to_run(plan) == ["restore", "mux", "proof"], change


def test_none_backend_ignores_the_restore_settings(bare_project):
    text = (bare_project / "alpha.yaml").read_text().replace("backend: preview", "backend: none")
    (bare_project / "alpha.yaml").write_text(text)
    record_as_rendered(bare_project)
    path = bare_project / "episodes/ep01.yaml"
    path.write_text(path.read_text() + "restore: {blur: 21}\n")
    plan = plans(bare_project)["ep01"]
    assert not plan.stale, reasons(plan)


def test_on_latentsync_a_paste_back_change_never_reruns_the_model(bare_project):
    rendered_on_latentsync(bare_project)
    path = bare_project / "episodes/ep01.yaml"
    original = path.read_text()
    for change in ("restore: {blur: 21}", "restore: {erode: 5}", "restore: {blend: seamless}",
                   "video: {crf: 18}", "video: {fps: 30}"):
        path.write_text(original + change + "\n")
        assert stages_to_run(plans(bare_project)["ep01"]) == ["restore", "mux", "proof"], change
