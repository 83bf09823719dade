"""The preview backend, then the restore and proof stages, on real media (portrait, synthetic
speech, ffmpeg)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.demo import synth_speech, write_portrait
from pipeline.media import FrameWriter, probe, read_frames
from pipeline.project.schema import ProjectSettings
from pipeline.stages import StageRun
from pipeline.restore import read_track
from pipeline.stages.lipsync.preview import run_preview
from pipeline.stages.proof import write_proofs
from pipeline.stages.restore import restore_clip
from tests.helpers import run_alpha

FPS = 25


def job(tmp_path: Path, source: Path, voice: Path, *, kind: str = "image", blend: str = "poisson",
        size: int = 384) -> StageRun:
    work = tmp_path / f"work-{blend}-{kind}"
    work.mkdir()
    params = {"lipsync": {"backend": "preview", "checkpoint": "1.6", "drift": 0.08},
              "source": {"kind": kind},
              "video": {"fps": FPS, "width": size, "height": size, "crf": 18, "preset": "veryfast"},
              "restore": {"blend": blend, "blur": 8, "erode": 8}}
    return StageRun("ep", params, {"audio.voice": voice}, {"source.media": source}, work,
                    lambda done, total: None, tmp_path, ProjectSettings())


def restored(result, job_: StageRun) -> tuple[Path, dict]:
    """The restore stage's video and metrics from a preview result."""
    out = job_.work / "restored.mp4"
    metrics = restore_clip(result.outputs["original"], result.outputs["track"], result.outputs.get("crops"), out,
                           restore=job_.params["restore"], video=job_.params["video"])
    return out, metrics


def upstream_of(result, video: Path) -> dict[str, Path]:
    upstream = {f"lipsync.{name}": path for name, path in result.outputs.items()}
    upstream["restore.video"] = upstream["mux.video"] = video
    return upstream


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    write_portrait(root / "portrait.jpg")
    synth_speech(root / "voice.wav", seconds=2.0, seed=5)
    ramp = np.linspace(40, 220, 256, dtype=np.float32)
    faceless = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (256, 1)), np.tile(ramp[:, None], (1, 256))], axis=2)
    cv2.circle(faceless, (128, 128), 60, (30, 90, 200), -1)
    cv2.imwrite(str(root / "faceless.png"), faceless.astype(np.uint8))
    return {"portrait": root / "portrait.jpg", "voice": root / "voice.wav", "faceless": root / "faceless.png"}


def test_preview_animates_the_tracked_face_and_keeps_the_rest(media, tmp_path):
    preview = job(tmp_path, media["portrait"], media["voice"])
    result = run_preview(preview)
    metrics = result.metrics
    assert metrics["frames"] == 50 and metrics["faces_missed"] == 0
    assert "video" not in result.outputs  # the paste-back is the restore stage's
    video, restore = restored(result, preview)
    assert restore["frames"] == restore["frames_written"] == 50 and restore["fallbacks"] == 0
    assert probe(video).duration == pytest.approx(2.0, abs=0.05)
    track = read_track(str(result.outputs["track"]))
    assert track.affines.shape == (50, 2, 3) and track.found.all() and track.crop_size == (420, 560)
    assert track.inner_mask.shape == (560, 420) and 0.2 < track.inner_mask.mean() < 0.6
    # A still source gives a still face: the smoothed alignment does not jitter.
    assert np.abs(np.diff(track.affines, axis=0)).max() < 1e-3
    assert result.outputs["original"].suffix == ".png"  # a still source stays one lossless frame
    still = next(read_frames(result.outputs["original"]))
    rendered = list(read_frames(video))
    crops = list(read_frames(result.outputs["crops"]))
    assert len(rendered) == len(crops) == 50
    originals = [still] * 50
    change = [np.abs(r.astype(int) - o.astype(int)).mean(axis=2) for r, o in zip(rendered, originals)]
    # The image corners are far from the face: the paste-back leaves them alone, so they
    # differ from the lossless still by the H.264 encode only, while the mouth changes far more.
    corner = max(c[:40, :40].mean() for c in change)
    inverse = cv2.invertAffineTransform(track.affines[0])
    mouth_x, mouth_y = (inverse @ np.array([210.0, 316.0, 1.0])).astype(int)
    mouth = max(c[mouth_y - 6:mouth_y + 6, mouth_x - 12:mouth_x + 12].mean() for c in change)
    assert corner < 4.0 and mouth > 10 * corner
    # The mouth moves with the voice: crops differ more between loud and quiet frames than
    # between two quiet ones.
    motion = [np.abs(crops[i].astype(int) - crops[0].astype(int)).mean() for i in range(50)]
    assert max(motion) > 3 * (min(motion[1:]) + 0.1)


def test_frames_without_a_face_keep_their_pixels_and_are_counted(media, tmp_path):
    preview = job(tmp_path, media["faceless"], media["voice"])
    result = run_preview(preview)
    assert result.metrics["faces_missed"] == 50
    assert "crops" not in result.outputs
    video, restore = restored(result, preview)
    assert restore["frames"] == 0 and restore["frames_written"] == 50 and "blend" not in restore
    original = next(read_frames(result.outputs["original"]))
    for rendered in read_frames(video):
        assert np.abs(rendered.astype(int) - original.astype(int)).mean() < 1.5  # only the encode


def test_preview_follows_a_moving_face_in_a_video_source(media, tmp_path):
    portrait = cv2.cvtColor(cv2.imread(str(media["portrait"])), cv2.COLOR_BGR2RGB)
    clip = tmp_path / "moving.mp4"
    with FrameWriter(clip, 512, 512, FPS) as writer:
        for step in range(20):  # 0.8 s, shorter than the voice: it loops forward and back
            shift = np.float32([[1, 0, 2 * step], [0, 1, step]])
            writer.write(cv2.warpAffine(portrait, shift, (512, 512), borderMode=cv2.BORDER_REPLICATE))
    result = run_preview(job(tmp_path, clip, media["voice"], kind="video"))
    assert result.metrics["faces_missed"] == 0
    # Where the crop's top-left corner lies in the frame.
    corner_x = np.array([cv2.invertAffineTransform(a)[0, 2] for a in read_track(str(result.outputs["track"])).affines])
    # The face moves right for 20 frames (1.5 px a frame at this size), then back: the
    # tracked crop follows both ways.
    assert corner_x[15] > corner_x[0] + 10
    assert corner_x[35] < corner_x[20] - 10


def test_proof_compares_stock_and_chosen_paste_back(media, tmp_path):
    preview = job(tmp_path, media["portrait"], media["voice"])
    result = run_preview(preview)
    upstream = upstream_of(result, restored(result, preview)[0])
    out = tmp_path / "proof"
    out.mkdir()
    written, metrics = write_proofs(upstream, [1.0, 9.0], {"blend": "poisson", "blur": 8, "erode": 8}, out)
    assert set(written) == {"frame@1s", "face@1s", "compare@1s", "frame@9s", "face@9s", "compare@9s"}
    assert metrics["clamped_to_end"] == [9.0]
    compare = cv2.imread(str(written["compare@1s"]))
    third = compare.shape[1] // 3
    heat = compare[:360, 2 * third:]
    # Stock alpha pastes the drifted crop as is; poisson corrects it: the heat-map is not blank.
    assert heat.mean() > 5
    face = cv2.imread(str(written["face@1s"]))
    assert face.shape == (560, 420, 3)


def test_quality_gate_fails_the_render_then_passes_without_rerunning(tmp_path):
    root = tmp_path / "demo"
    assert run_alpha("init", str(root)).exit_code == 0
    for extra in (root / "episodes/ep02-the-seam.yaml",):
        extra.write_text(extra.read_text() + "quality: {seam_max: 0.000001}\n")
    for other in ("ep01-hello", "ep03-rain"):
        (root / f"episodes/{other}.yaml").unlink()
    result = run_alpha("-C", str(root), "render", "--json")
    assert result.exit_code == 1
    [outcome] = json.loads(result.stdout)["episodes"]
    assert outcome["error"].startswith("quality gate: seam ")
    assert not (root / "alpha.lock").exists()
    [failed] = (root / ".alpha/reports/ep02-the-seam").glob("failed-*.json")
    report = json.loads(failed.read_text())
    assert report["gate"]["passed"] is False and report["quality"]["seam"] > 0.000001
    assert [fix["id"] for fix in report["fix_stack"]["named_fixes"]] == ["TASK-098", "TASK-099", "TASK-101"]

    episode = root / "episodes/ep02-the-seam.yaml"
    episode.write_text(episode.read_text().replace("seam_max: 0.000001", "seam_max: 50"))
    result = run_alpha("-C", str(root), "render", "--json")
    assert result.exit_code == 0, result.stderr
    [outcome] = json.loads(result.stdout)["episodes"]
    assert outcome["ran"] == [] and outcome["version"] == 1  # every stage came from the run cache
    lock = json.loads((root / "alpha.lock").read_text())["episodes"]["ep02-the-seam"]
    assert (root / lock["report"]).is_file() and lock["quality"]["faces_missed"] == 0

    proofs = run_alpha("-C", str(root), "proof", "ep02-the-seam", "--at", "2.5")
    assert proofs.exit_code == 0, proofs.stderr
    assert sorted(p.name for p in (root / "proofs/ep02-the-seam").iterdir()) == [
        "compare@2.5s.png", "face@2.5s.png", "frame@2.5s.png"]
    shutil.rmtree(root / "proofs")


def test_proof_stage_renders_display_copies_for_the_site(media, tmp_path):
    from pipeline.stages.proof import ProofStage

    preview = job(tmp_path, media["portrait"], media["voice"], size=1600)
    result = run_preview(preview)
    upstream = upstream_of(result, restored(result, preview)[0])
    work = tmp_path / "proof-work"
    work.mkdir()
    params = {"proof": {"at": [1.0]}, "restore": {"blend": "poisson", "blur": 8, "erode": 8}}
    proof = ProofStage().run(StageRun("ep", params, {}, upstream, work, lambda d, t: None, tmp_path, ProjectSettings()))
    at_times = {"frame@1s", "face@1s", "compare@1s", "frame@1s:view", "frame@1s:thumb",
                "face@1s:view", "compare@1s:view"}
    assert at_times <= set(proof.outputs)
    # The rest is aimed at the artifact: worst seam and worst change, each with its zoom.
    assert {name.split("@")[0] for name in set(proof.outputs) - at_times} == {
        "worst-seam", "zoom-seam", "worst-change", "zoom-change"}
    sizes = proof.metrics["sizes"]
    assert sizes["frame@1s"] == [1600, 1600]
    assert sizes["frame@1s:view"] == [1280, 1280] and sizes["frame@1s:thumb"] == [480, 480]
    view = cv2.imread(str(proof.outputs["frame@1s:view"]))
    assert view.shape == (1280, 1280, 3) and proof.outputs["frame@1s:view"].suffix == ".jpg"
    # The copy shows the same picture as the proof PNG.
    original = cv2.resize(cv2.imread(str(proof.outputs["frame@1s"])), (1280, 1280), interpolation=cv2.INTER_AREA)
    assert np.abs(view.astype(int) - original.astype(int)).mean() < 3
