"""The latentsync backend end to end, against the stand-in checkout (see standin/README.md).

One full run (a jittery clip with face-less frames, checkpoint 1.5, poisson paste-back) is
shared by most tests; a second covers a still image with 1.6, alpha paste-back and 30 fps.
The proof inputs it hands back (original, crops, track) are checked down to write_proofs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from pipeline.errors import Failure, UserError
from pipeline.media import ffmpeg_exe, probe, read_frames
from pipeline.media.filters import LOSSLESS_RGB_ARGS
from pipeline.stages.lipsync.latentsync import run_latentsync
from pipeline.stages.proof import proof_name, write_proofs
from pipeline.stages.restore import restore_clip
from tests.helpers import write_voice

from .conftest import FACELESS, H, VOICE_SECONDS, W, copy_checkout, make_job, settings_for

pytest.importorskip("torch")  # the stand-in "model" is written with torch (CPU)

SHORT_VOICE = 0.56  # 14 frames: LatentSync makes 16, one chunk
OUTPUTS = {"original", "crops", "track", "telemetry", "log"}


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and folder under root with its content hash (folders: "dir")."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def recording_ffmpeg(folder: Path) -> tuple[Path, Path]:
    """An `ffmpeg` for PATH that logs its arguments, then runs the real one."""
    folder.mkdir(parents=True, exist_ok=True)
    calls = folder / "calls.log"
    script = folder / "ffmpeg"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nexec "{ffmpeg_exe()}" "$@"\n')
    script.chmod(0o755)
    return folder, calls


def args_of(job) -> dict:
    return json.loads((job.work / "latentsync" / "args.json").read_text())


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def load_track(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def check_track(track: dict[str, np.ndarray], frames: int, crop_wh: tuple[int, int]) -> None:
    """The names, dtypes and shapes every backend writes (pipeline.restore.track)."""
    assert set(track) == {"affines", "found", "detected", "shot", "fps", "crop_size", "inner_mask"}
    assert track["affines"].shape == (frames, 2, 3)
    assert track["found"].dtype == bool and track["found"].shape == (frames,)
    assert track["detected"].dtype == bool and np.array_equal(track["detected"], track["found"])
    assert track["shot"].shape == (frames,) and float(track["fps"]) == 25.0
    assert track["crop_size"].dtype.kind == "i" and tuple(track["crop_size"]) == crop_wh
    assert track["inner_mask"].shape == (crop_wh[1], crop_wh[0])


def restored(result, job, **video) -> tuple[Path, dict]:
    """The restore stage on a LatentSync result: the silent video and its metrics."""
    out = job.work / "restored.mp4"
    metrics = restore_clip(result.outputs["original"], result.outputs["track"], result.outputs["crops"], out,
                           restore=job.params["restore"], video={**job.params["video"], **video})
    return out, metrics


@pytest.fixture(scope="module")
def run(tmp_path_factory, media) -> SimpleNamespace:
    """One render of the clip (24 frames, face-less 8–10, jittered) to a 1.2 s voice."""
    tmp = tmp_path_factory.mktemp("run")
    checkout = copy_checkout(tmp / "LatentSync")
    before = tree_digest(checkout)
    bin_dir, calls = recording_ffmpeg(tmp / "bin")
    progress: list[tuple[int, int]] = []
    job = make_job(tmp / "work", media["clip"], media["voice"], kind="video", checkpoint="1.5",
                   blend="poisson", steps=2, progress=lambda done, total: progress.append((done, total)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        result = run_latentsync(job, settings_for(checkout), tmp)
    telemetry = json.loads(result.outputs["telemetry"].read_text())
    video, restore = restored(result, job)
    return SimpleNamespace(tmp=tmp, checkout=checkout, before=before, calls=calls, job=job,
                           result=result, telemetry=telemetry, progress=progress, video=video, restore=restore,
                           log=(job.work / "latentsync" / "latentsync.log").read_text())


def test_launches_runner_in_checkout_with_the_checkpoints_own_config(run, media):
    argv = args_of(run.job)["argv"]
    assert flag(argv, "--unet_config_path") == "configs/unet/stage2.yaml"
    assert flag(argv, "--inference_ckpt_path") == "checkpoints/latentsync-1.5/latentsync_unet.pt"
    assert flag(argv, "--inference_steps") == "2"
    # The runner captures only: its one encoder writes the crops, nothing pastes back there.
    args = args_of(run.job)
    assert "restore" not in args and "encode" not in args and "output" not in args
    assert Path(args["crops"]["output"]) == run.result.outputs["crops"]
    assert float(flag(argv, "--guidance_scale")) == 1.5
    assert flag(argv, "--seed") == "1247"
    assert "--enable_deepcache" not in argv
    assert Path(flag(argv, "--audio_path")) == media["voice"].resolve()
    work = run.job.work.resolve()
    for name in ("--temp_dir", "--video_path", "--video_out_path"):
        assert Path(flag(argv, name)).is_relative_to(work), name
    # The runner, serving in the checkout, built the pipeline from the checkpoint the flags name.
    first = run.log.splitlines()[0]
    assert first == f"$ (cd {run.checkout} && {sys.executable} -m pipeline.stages.lipsync.runner --serve)"
    assert f"Stand-in working directory: {run.checkout}" in run.log
    assert "Stand-in UNet loaded from checkpoints/latentsync-1.5/latentsync_unet.pt" in run.log
    assert "alpha runner (pid" in run.log


def test_checkout_is_not_modified(run):
    assert tree_digest(run.checkout) == run.before


def test_frames_without_a_face_keep_their_pixels_and_are_counted(run):
    faces = run.telemetry["faces"]
    assert faces["missed"] == len(FACELESS)
    assert faces["missed_source_frames"] == list(FACELESS)
    assert faces["kept_original_output_frames"] == len(FACELESS)
    assert run.result.metrics["faces"]["missed"] == len(FACELESS)
    source = list(read_frames(run.job.work / "input.mp4"))
    output = list(read_frames(run.video))
    for k in range(len(output)):
        diff = np.abs(source[k].astype(int) - output[k].astype(int))
        if k in FACELESS:
            assert diff.max() < 40 and diff.mean() < 2.0, k   # only the codec's noise
        else:
            assert diff.max() > 100, k                        # the generated mouth


def test_alignment_matrices_are_smoothed(run):
    smoothing = run.telemetry["smoothing"]
    assert smoothing["method"] == "centred-gaussian"
    assert smoothing["cuts"] == []
    assert smoothing["jitter_smoothed_px"] < 0.4 * smoothing["jitter_raw_px"]
    matrices = run.telemetry["matrices"]
    assert [k for k, m in enumerate(matrices["raw"]) if m is None] == list(FACELESS)
    assert len(matrices["smoothed"]) == len(matrices["raw"]) == 30
    assert all(m is not None and len(m) == 6 for m in matrices["smoothed"])


def test_latentsyncs_own_encode_and_mux_skipped(run):
    info = probe(run.video)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", None, W, H)
    assert info.fps == 25 and abs(info.duration - VOICE_SECONDS) < 0.02
    frames = run.telemetry["frames"]
    assert frames["written"] == 30 and frames["generated"] == 32 and frames["dropped"] == 2
    assert run.telemetry["latentsync_reencode"] == "skipped"
    # The `ffmpeg` on PATH (LatentSync's) only answered its install check: no re-encode of
    # the input into ./temp, no crf 13 write, no crf 18 re-encode + 16 kHz mux.
    calls = run.calls.read_text().splitlines()
    assert calls and all(call == "-version" for call in calls), calls
    temp = Path(flag(args_of(run.job)["argv"], "--temp_dir"))
    assert not (temp / "video.mp4").exists() and not (temp / "audio.wav").exists()
    assert not Path(flag(args_of(run.job)["argv"], "--video_out_path")).exists()


def test_the_restore_stage_pastes_the_raw_crops_and_no_restore_setting_reaches_the_model(run):
    restore = run.restore
    assert restore["blend"] == "poisson" and (restore["blur"], restore["erode"]) == (0, 0)
    assert restore["frames"] == 30 - len(FACELESS) and restore["frames_written"] == 30
    assert restore["fallbacks"] == 0
    assert run.telemetry["raw_crops"] is True
    assert "restore" not in run.result.metrics and "restore" not in run.telemetry
    assert "Restoring" not in run.log and "Capturing 30 generated crops" in run.log


def test_the_crops_are_the_models_raw_output_at_its_resolution(run):
    """Kept at the model's 256×256 (1.5); the restore stage resizes them to the crop box."""
    crops = probe(run.result.outputs["crops"])
    assert (crops.video_codec, crops.width, crops.height) == ("ffv1", 256, 256)
    assert run.telemetry["matrices"]["resolution"] == 256


def test_telemetry_sidecar_and_metrics(run):
    sidecar = run.result.outputs["telemetry"]
    assert sidecar.parent == run.job.work and sidecar.is_file()
    metrics = run.result.metrics
    assert metrics["checkpoint"] == "1.5" and metrics["resolution"] == 256
    assert "per_frame" not in json.dumps(metrics) and "matrices" not in metrics
    json.dumps(metrics)  # JSON-able, for the lock


def test_progress_reaches_the_end(run):
    assert run.progress[-1] == (30, 30)
    dones = [done for done, _ in run.progress]
    assert dones == sorted(dones) and len(dones) >= 3


def test_still_image_16_alpha_blend_30fps(tmp_path, media, run):
    checkout = copy_checkout(tmp_path / "LatentSync")
    voice = write_voice(tmp_path / "short.wav", seconds=SHORT_VOICE)  # one 16-frame chunk
    job = make_job(tmp_path / "work", media["still"], voice, kind="image", checkpoint="1.6",
                   blend="alpha", fps=30, steps=1, deepcache=True)
    result = run_latentsync(job, settings_for(checkout), tmp_path)
    argv = args_of(job)["argv"]
    assert flag(argv, "--unet_config_path") == "configs/unet/stage2_512.yaml"
    assert flag(argv, "--inference_ckpt_path") == "checkpoints/latentsync-1.6/latentsync_unet.pt"
    assert "--enable_deepcache" in argv
    video, restore = restored(result, job)
    info = probe(video)
    assert info.fps == 30 and abs(info.duration - SHORT_VOICE) < 0.04
    telemetry = json.loads(result.outputs["telemetry"].read_text())
    assert telemetry["faces"]["missed"] == 0
    assert telemetry["matrices"]["crop_wh"] == [420, 560]
    # Proof inputs at 25 fps whatever the episode's rate, at 1.6's crop size.
    assert set(result.outputs) == OUTPUTS
    assert result.outputs["original"] == job.work.resolve() / "input.mp4"
    track = load_track(result.outputs["track"])
    check_track(track, 14, (420, 560))
    assert track["found"].all()
    crops = probe(result.outputs["crops"])
    assert (crops.video_codec, crops.width, crops.height, crops.fps) == ("ffv1", 512, 512, 25)
    assert len(list(read_frames(result.outputs["crops"]))) == 14
    assert restore["blend"] == "alpha"
    # alpha with blur=erode=0 keeps the model's colour drift as a step at the mask edge;
    # poisson takes it away.
    assert restore["seam_inner_mean"] > 4 * run.restore["seam_inner_mean"]
    # Distinct episodes (work folders) get distinct temp dirs.
    assert flag(argv, "--temp_dir") != flag(args_of(run.job)["argv"], "--temp_dir")


# -- errors ------------------------------------------------------------------------------

def test_missing_checkout(tmp_path, media):
    job = make_job(tmp_path / "work", media["clip"], media["voice"])
    with pytest.raises(UserError, match=r"LatentSync checkout not found: .*nowhere.*git clone"):
        run_latentsync(job, settings_for(tmp_path / "nowhere"), tmp_path)
    with pytest.raises(UserError, match="latentsync.root is not set"):
        run_latentsync(job, settings_for(None), tmp_path)


def test_missing_python_and_checkpoint(tmp_path, checkout, media):
    job = make_job(tmp_path / "work", media["clip"], media["voice"])
    with pytest.raises(UserError, match="Python not found"):
        run_latentsync(job, settings_for(checkout, python=str(tmp_path / "no-python")), tmp_path)
    (checkout / "checkpoints" / "latentsync-1.5" / "latentsync_unet.pt").unlink()
    with pytest.raises(UserError, match=r"checkpoint not found: .*latentsync-1.5.*huggingface-cli download"):
        run_latentsync(job, settings_for(checkout), tmp_path)


def test_a_16_checkpoint_never_runs_with_the_256_config(tmp_path, checkout, media):
    job = make_job(tmp_path / "work", media["clip"], media["voice"], checkpoint="1.6")
    job.params["lipsync"]["config"] = "configs/unet/stage2.yaml"
    wrong = {"1.6": {"config": "configs/unet/stage2.yaml",
                     "checkpoint": "checkpoints/latentsync-1.6/latentsync_unet.pt", "resolution": 512}}
    with pytest.raises(UserError, match=r"data.resolution 256.*needs 512.*never run with the 256 config"):
        run_latentsync(job, settings_for(checkout, **wrong), tmp_path)
    assert list(job.work.iterdir()) == []  # refused before anything was made or spawned


def test_process_dying_mid_run_is_a_failure_with_its_log_and_no_output(tmp_path, checkout, media, monkeypatch):
    monkeypatch.setenv("STANDIN_CRASH_AT_CHUNK", "1")
    job = make_job(tmp_path / "work", media["clip"], media["voice"])
    with pytest.raises(Failure) as caught:
        run_latentsync(job, settings_for(checkout), tmp_path)
    message = str(caught.value)
    assert "killed by signal 9" in message and "simulated crash at chunk 1" in message
    for name in ("lipsync.mp4", "lipsync.telemetry.json", "crops.mp4", "track.npz"):
        assert not (job.work / name).exists(), name


def test_interrupt_kills_the_process_group_and_leaves_no_output(tmp_path, checkout, media):
    def interrupt(done, total):
        raise KeyboardInterrupt

    job = make_job(tmp_path / "work", media["clip"], media["voice"], progress=interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_latentsync(job, settings_for(checkout), tmp_path)
    log = (job.work / "latentsync" / "latentsync.log").read_text()
    pid = int(re.search(r"alpha runner \(pid (\d+)\)", log).group(1))
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    for name in ("lipsync.mp4", "lipsync.telemetry.json", "crops.mp4", "track.npz"):
        assert not (job.work / name).exists(), name


# -- proof inputs: original, crops, track --------------------------------------------------

def test_proof_outputs_are_frame_for_frame_with_the_input_clip(run):
    outputs = run.result.outputs
    assert set(outputs) == OUTPUTS
    work = run.job.work.resolve()
    assert outputs["original"] == work / "input.mp4"
    assert Path(flag(args_of(run.job)["argv"], "--video_path")) == outputs["original"]
    assert (outputs["crops"], outputs["track"]) == (work / "crops.mkv", work / "track.npz")
    track = load_track(outputs["track"])
    check_track(track, 30, (210, 280))
    crops = probe(outputs["crops"])
    assert (crops.video_codec, crops.audio_codec, crops.width, crops.height, crops.fps) == ("ffv1", None, 256, 256, 25)
    # Lossless RGB: the restore stage pastes exactly the crops the model made.
    assert args_of(run.job)["crops"]["output_args"] == LOSSLESS_RGB_ARGS
    assert len(list(read_frames(outputs["crops"]))) == 30
    assert len(list(read_frames(outputs["original"]))) == 30
    assert run.telemetry["frames"]["written"] == 30
    # The smoothed matrices the crops were cut with (output frame k is source frame k).
    smoothed = np.array(run.telemetry["matrices"]["smoothed"]).reshape(-1, 2, 3)
    face = track["found"]
    assert np.allclose(track["affines"][face], smoothed[:30][face], atol=1e-3)
    assert not np.array_equal(track["affines"][face], np.array(
        [m for m in run.telemetry["matrices"]["raw"] if m is not None]).reshape(-1, 2, 3))


def test_a_frame_without_a_face_is_not_found_and_gets_a_black_crop(run):
    track = load_track(run.result.outputs["track"])
    assert [k for k in range(30) if not track["found"][k]] == list(FACELESS)
    assert not track["affines"][list(FACELESS)].any()
    crops = list(read_frames(run.result.outputs["crops"]))
    originals = list(read_frames(run.result.outputs["original"]))
    w, h = (int(v) for v in track["crop_size"])
    for k, crop in enumerate(crops):
        if k in FACELESS:
            assert crop.max() <= 2, k
            continue
        assert crop.mean() > 60, k
        # The crop (at the model's resolution, resized to the crop box as paste-back does) is
        # registered with its matrix: the original warped by it matches best.
        crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC)

        def diff(dx: float) -> float:
            affine = track["affines"][k].astype(np.float64) + [[0, 0, dx], [0, 0, 0]]
            warped = cv2.warpAffine(originals[k], affine, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            return float(np.abs(warped.astype(int) - crop.astype(int)).mean())
        assert diff(0) < 20 and diff(0) < diff(-8) and diff(0) < diff(8), k


def test_write_proofs_works_on_the_latentsync_outputs(run, tmp_path):
    outputs = run.result.outputs
    upstream = {"mux.video": run.video, **{f"lipsync.{name}": outputs[name]
                                                   for name in ("original", "crops", "track")}}
    faceless = FACELESS[1] / 25  # 0.36 s
    times = [0.2, faceless, 1.0]
    images, metrics = write_proofs(upstream, times, run.job.params["restore"], tmp_path)
    assert metrics == {"clamped_to_end": [], "no_face_at": [faceless]}
    assert set(images) == {proof_name(kind, t) for t in times for kind in ("frame", "face", "compare")} - {
        proof_name("face", faceless), proof_name("compare", faceless)}
    for t in (0.2, 1.0):
        face = cv2.imread(str(images[proof_name("face", t)]))
        assert face.shape == (280, 210, 3)
        compare = cv2.imread(str(images[proof_name("compare", t)]))
        assert compare is not None and compare.shape[0] >= 280 and compare.std() > 10
    assert cv2.imread(str(images[proof_name("frame", faceless)])).shape == (H, W, 3)
