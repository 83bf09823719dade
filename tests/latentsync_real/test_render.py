"""The real `alpha render` on the real LatentSync code (1.5 at 256, 1.6 at 512), one step.

One project with one episode per (checkpoint, blend, feather) is rendered once for the module;
every assertion reads what a user gets: the lock, the report, the episode's final video, and
the proof inputs in the store (the 25 fps clip LatentSync pasted into, the crops video, the
track). With random weights the generated region is noise, so a paste-back that reaches past it
(defect 1: the whole decoded crop, eyes included) is many grey levels off the original there.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.media import probe, read_frames
from pipeline.restore import inner_mask_from_latentsync_png
from tests.latentsync_real.conftest import ADDED, RealEpisode

CROP_WH = {"1.5": (210, 280), "1.6": (420, 560)}
RESOLUTION = {"1.5": 256, "1.6": 512}
# x264 at crf 0 is lossless in YUV 4:2:0; decoding to RGB and encoding again moves an
# unchanged pixel by a few grey levels at most (chroma rounding). A generated pixel of the
# random model is tens of levels off.
UNCHANGED_TOLERANCE = 6
# Every blend at blur 0 / erode 0 and at the Restorer's defaults (8/8). The blends are
# resolution-independent code, so 1.6 (512, about 2.4 times the CPU of 1.5) renders one of them.
EPISODES = [
    RealEpisode("a15-alpha-hard", "1.5", blend="alpha", blur=0, erode=0, faceless=(3,)),
    RealEpisode("a15-seamless-hard", "1.5", blend="seamless", blur=0, erode=0),
    RealEpisode("a15-poisson-hard", "1.5", blend="poisson", blur=0, erode=0),
    RealEpisode("a15-alpha-soft", "1.5", blend="alpha", blur=8, erode=8),
    RealEpisode("a15-seamless-soft", "1.5", blend="seamless", blur=8, erode=8),
    RealEpisode("a16-poisson-soft", "1.6", blend="poisson", blur=8, erode=8),
]
BY_ID = {episode.id: episode for episode in EPISODES}


def file_digests(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, latentsync_env, make_project):
    checkout_before = file_digests(latentsync_env.checkout)
    root = make_project(tmp_path_factory.mktemp("real") / "show", EPISODES)
    done = latentsync_env.alpha(root, "render", "--json")
    return {"root": root, "done": done, "checkout_before": checkout_before,
            "lock": json.loads((root / "alpha.lock").read_text()) if (root / "alpha.lock").is_file() else None}


@pytest.fixture(params=[e.id for e in EPISODES])
def episode(request, rendered):
    return rendered_episode(request.param, rendered)


@pytest.fixture(params=[e.id for e in EPISODES if e.faceless])
def episode_with_a_faceless_frame(request, rendered):
    return rendered_episode(request.param, rendered)


def rendered_episode(episode_id: str, rendered):
    assert rendered["done"].returncode == 0, rendered["done"].stdout[-4000:] + rendered["done"].stderr[-4000:]
    spec = BY_ID[episode_id]
    return spec, rendered["lock"]["episodes"][spec.id], rendered["root"]


def stored(root: Path, entry: dict, stage: str, output: str) -> Path:
    return root / entry["stages"][stage]["outputs"][output]["path"]


def test_render_exits_0_and_every_episode_passes(rendered):
    done = rendered["done"]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    outcomes = {o["id"]: o for o in json.loads(done.stdout)["episodes"]}
    assert sorted(outcomes) == sorted(BY_ID)
    assert all(o["ok"] for o in outcomes.values()), outcomes


def test_frame_counts_crop_sizes_and_track(episode):
    spec, entry, root = episode
    metrics = entry["stages"]["lipsync"]["metrics"]
    counts = metrics["frame_counts"]
    # LatentSync generates two frames more than the clip has (whisper's chunking); alpha
    # writes exactly the voice's frames and drops the extras.
    assert counts["target"] == counts["source"] == counts["written"] == spec.frames
    assert counts["generated"] == spec.frames + 2 and counts["dropped"] == 2
    assert metrics["raw_crops"] is True and metrics["latentsync_reencode"] == "skipped"
    assert metrics["resolution"] == RESOLUTION[spec.checkpoint]

    # The crops are the model's raw output at its resolution: nothing was pasted or resized
    # in LatentSync's process.
    crops = probe(stored(root, entry, "lipsync", "crops"))
    resolution = RESOLUTION[spec.checkpoint]
    assert (crops.video_codec, crops.width, crops.height) == ("ffv1", resolution, resolution)
    frames = list(read_frames(stored(root, entry, "lipsync", "crops")))
    assert len(frames) == spec.frames
    assert [k for k, crop in enumerate(frames) if not crop.any()] == list(spec.faceless)
    with np.load(stored(root, entry, "lipsync", "track")) as track:
        assert track["affines"].shape == (spec.frames, 2, 3)
        assert track["found"].shape == (spec.frames,)
        assert tuple(track["crop_size"]) == CROP_WH[spec.checkpoint]
        assert [k for k in range(spec.frames) if not track["found"][k]] == list(spec.faceless)

    final = probe(stored(root, entry, "mux", "video"))
    assert (final.width, final.height) == (256, 256)
    assert len(list(read_frames(stored(root, entry, "mux", "video")))) == spec.frames


def generated_region_in_frame(checkout: Path, affine: np.ndarray, crop_wh, frame_hw) -> np.ndarray:
    """Where a frame may change: mask.png's generated region under the crop, in the frame
    (bilinear footprint, plus two pixels for 4:2:0 chroma)."""
    gray = cv2.imread(str(checkout / "latentsync" / "utils" / "mask.png"), cv2.IMREAD_GRAYSCALE)
    inner = inner_mask_from_latentsync_png(gray, (crop_wh[1], crop_wh[0]))
    warped = cv2.warpAffine(inner, affine.astype(np.float64), (frame_hw[1], frame_hw[0]),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)
    return cv2.dilate((warped > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def test_only_the_generated_region_changes(episode, latentsync_env):
    """Defect 1: in every blend, at blur 0 / erode 0 and at the defaults (8/8), the final
    video differs from the frames LatentSync pasted into only in mask.png's generated region."""
    spec, entry, root = episode
    original = list(read_frames(stored(root, entry, "lipsync", "original")))
    final = list(read_frames(stored(root, entry, "mux", "video")))
    with np.load(stored(root, entry, "lipsync", "track")) as track:
        affines, found = track["affines"], track["found"]
    changed_inside = 0
    for k, (before, after) in enumerate(zip(original, final)):
        diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).max(axis=2)
        if not found[k]:
            continue
        region = generated_region_in_frame(latentsync_env.checkout, affines[k], CROP_WH[spec.checkpoint],
                                           before.shape[:2])
        outside = diff[~region]
        assert outside.max() <= UNCHANGED_TOLERANCE, (
            f"{spec.id} frame {k}: {(outside > UNCHANGED_TOLERANCE).sum()} pixels outside the generated "
            f"region changed, by up to {outside.max()} levels")
        changed_inside += int((diff[region] > 3 * UNCHANGED_TOLERANCE).sum())
    assert changed_inside > 100  # the model's output really was pasted


def test_a_frame_without_a_face_is_kept(episode_with_a_faceless_frame):
    spec, entry, root = episode_with_a_faceless_frame
    metrics = entry["stages"]["lipsync"]["metrics"]
    assert metrics["faces"]["kept_original_output_frames"] == len(spec.faceless)
    assert entry["quality"]["faces_missed"] == len(spec.faceless)
    original = list(read_frames(stored(root, entry, "lipsync", "original")))
    final = list(read_frames(stored(root, entry, "mux", "video")))
    crops = list(read_frames(stored(root, entry, "lipsync", "crops")))
    for k in spec.faceless:
        diff = np.abs(final[k].astype(np.int16) - original[k].astype(np.int16))
        assert diff.max() <= UNCHANGED_TOLERANCE, f"frame {k} without a face changed by up to {diff.max()}"
        assert crops[k].max() <= 16  # its crop is black


def test_latentsync_log_is_kept_with_the_report(episode):
    """Defect 4: a successful run's LatentSync log is in the store, named by the report."""
    spec, entry, root = episode
    text = stored(root, entry, "lipsync", "log").read_text()
    assert "Affine transforming" in text and "alpha runner: read" in text  # this episode's run
    report = json.loads((root / entry["report"]).read_text())
    assert report["logs"]["lipsync"] == entry["stages"]["lipsync"]["outputs"]["log"]["path"]


def test_the_patch_list_and_latentsync_warnings_are_in_a_kept_log(rendered):
    """A warm worker prints its patch list and LatentSync's start-up once, into the log of the
    first episode it serves."""
    assert rendered["done"].returncode == 0
    root = rendered["root"]
    logs = [stored(root, entry, "lipsync", "log").read_text() for entry in rendered["lock"]["episodes"].values()]
    assert any("patched latentsync.pipelines.lipsync_pipeline.read_video" in text for text in logs)
    assert any("TEST SHIMS active" in text for text in logs)  # LatentSync's stderr is kept too


def test_the_checkout_is_not_written_to(rendered, latentsync_env):
    assert rendered["done"].returncode == 0
    after = file_digests(latentsync_env.checkout)
    assert after == rendered["checkout_before"]
    assert not (latentsync_env.checkout / "temp").exists()
    assert set(ADDED) <= set(after)
