"""The restore stage apart from the model: crops survive the store, and a paste from the store
is the paste the model's process would have made. Real ffmpeg, real preview crops."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.demo import synth_speech, write_portrait
from pipeline.media import FrameWriter, LosslessWriter, probe, read_frames
from pipeline.project.schema import ProjectSettings
from pipeline.restore import Restorer, Track, read_track, write_track
from pipeline.stages import StageRun
from pipeline.stages.lipsync import run_none
from pipeline.stages.lipsync.preview import generate, run_preview
from pipeline.stages.restore import restore_clip

FPS = 25
RESTORE = {"blend": "poisson", "blur": 8, "erode": 8}
VIDEO = {"fps": FPS, "width": 320, "height": 320, "crf": 18, "preset": "veryfast"}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    write_portrait(root / "portrait.jpg")
    synth_speech(root / "voice.wav", seconds=1.2, seed=3)
    return {"portrait": root / "portrait.jpg", "voice": root / "voice.wav"}


def make_job(tmp_path: Path, media, name: str, backend: str = "preview") -> StageRun:
    work = tmp_path / name
    work.mkdir()
    params = {"lipsync": {"backend": backend, "checkpoint": "1.6", "drift": 0.08}, "source": {"kind": "image"},
              "video": VIDEO, "restore": RESTORE}
    return StageRun("ep", params, {"audio.voice": media["voice"]}, {"source.media": media["portrait"]}, work,
                    lambda done, total: None, tmp_path, ProjectSettings())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_generated_crops_survive_the_store_bit_for_bit(media, tmp_path):
    _, _, frames = generate(make_job(tmp_path, media, "gen"))
    raw = [item.crop for item in frames]
    assert len(raw) == 30 and all(crop is not None for crop in raw)
    stored = tmp_path / "crops.mkv"
    with LosslessWriter(stored, raw[0].shape[1], raw[0].shape[0], FPS) as writer:
        for crop in raw:
            writer.write(crop)
    back = list(read_frames(stored))
    assert len(back) == len(raw)
    assert min(psnr(a, b) for a, b in zip(raw, back)) == float("inf")  # lossless, not merely ≥ 50 dB
    # Odd sides too (a crop box need not be even), where yuv420p could not even be written.
    odd = np.random.default_rng(0).integers(0, 256, (57, 43, 3), dtype=np.uint8)
    with LosslessWriter(tmp_path / "odd.mkv", 43, 57, FPS) as writer:
        writer.write(odd)
    assert np.array_equal(next(read_frames(tmp_path / "odd.mkv")), odd)


def test_a_paste_from_the_store_is_the_direct_paste(media, tmp_path):
    """The restore stage, fed from the files the lipsync stage stored, writes the very video
    that pasting each crop straight from the generator (no store in between) writes."""
    stored = run_preview(make_job(tmp_path, media, "stored"))
    from_store = tmp_path / "from-store.mp4"
    metrics = restore_clip(stored.outputs["original"], stored.outputs["track"], stored.outputs["crops"], from_store,
                           restore=RESTORE, video=VIDEO)
    assert metrics["frames"] == metrics["frames_written"] == 30 and metrics["fallbacks"] == 0

    track = read_track(str(stored.outputs["track"]))
    restorer = Restorer(RESTORE["blend"], track.inner_mask, blur=RESTORE["blur"], erode=RESTORE["erode"])
    direct = tmp_path / "direct.mp4"
    _, _, frames = generate(make_job(tmp_path, media, "direct"))
    with FrameWriter(direct, VIDEO["width"], VIDEO["height"], FPS, crf=VIDEO["crf"], preset=VIDEO["preset"]) as writer:
        for item in frames:
            writer.write(restorer.restore_img(item.frame, item.crop, item.affine))
    assert direct.read_bytes() == from_store.read_bytes()  # bit-identical, so PSNR is infinite


def test_restore_resamples_to_the_episode_rate_and_restarts_per_shot(media, tmp_path):
    stored = run_preview(make_job(tmp_path, media, "shots"))
    track = read_track(str(stored.outputs["track"]))
    two_shots = dataclasses.replace(track, shot=np.repeat(np.array([0, 1], np.int32), [12, 18]))
    split = tmp_path / "two-shots.npz"
    write_track(str(split), two_shots)
    out = tmp_path / "30fps.mp4"
    metrics = restore_clip(stored.outputs["original"], split, stored.outputs["crops"], out, restore=RESTORE,
                           video={**VIDEO, "fps": 30})
    assert metrics["shots"] == 2 and metrics["frames"] == 30
    info = probe(out)
    assert info.fps == 30 and len(list(read_frames(out))) == 36  # 1.2 s at 30 fps


def test_inputs_that_disagree_fail_naming_the_file(media, tmp_path):
    stored = run_preview(make_job(tmp_path, media, "short"))
    track = read_track(str(stored.outputs["track"]))
    longer = tmp_path / "longer.npz"
    write_track(str(longer), dataclasses.replace(
        track, affines=np.concatenate([track.affines, track.affines[:5]]), found=np.r_[track.found, [True] * 5],
        detected=np.r_[track.detected, [True] * 5], shot=np.zeros(35, np.int32)))
    out = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match=r"crops\.mkv ends after 30 frames; the track .*longer\.npz has 35"):
        restore_clip(stored.outputs["original"], longer, stored.outputs["crops"], out, restore=RESTORE, video=VIDEO)
    assert not out.exists()  # nothing half-written is left


def test_the_none_backend_goes_through_the_same_split(media, tmp_path):
    result = run_none(make_job(tmp_path, media, "none", backend="none"))
    assert set(result.outputs) == {"original", "track"}
    track = read_track(str(result.outputs["track"]))
    assert track.frames == 30 and not track.found.any()
    out = tmp_path / "none.mp4"
    metrics = restore_clip(result.outputs["original"], result.outputs["track"], None, out, restore=None, video=VIDEO)
    assert metrics["frames"] == 0 and metrics["frames_written"] == 30
    still = cv2.cvtColor(cv2.imread(str(result.outputs["original"])), cv2.COLOR_BGR2RGB)
    assert all(psnr(frame, still) > 35 for frame in read_frames(out))  # the source, through one encode


def test_a_track_must_describe_its_frames(tmp_path):
    with pytest.raises(ValueError, match="track arrays disagree"):
        Track(affines=np.zeros((3, 2, 3)), found=np.zeros(2, bool), detected=np.zeros(2, bool),
              shot=np.zeros(2, np.int32), fps=25.0, crop_size=(0, 0))
    (tmp_path / "bad.npz").write_bytes(b"not a track")
    with pytest.raises(ValueError, match="bad.npz is not a readable track"):
        read_track(str(tmp_path / "bad.npz"))
