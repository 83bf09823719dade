"""`alpha doctor` on projects pointing at the stand-in checkout, a broken one, or none."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipeline.commands.doctor import doctor
from pipeline.doctor import RUNTIME_MODULES
from tests.helpers import write
from tests.latentsync.conftest import drop_flags



def fake_python(folder: Path, **report) -> Path:
    """A "LatentSync Python" that answers the doctor's probe with a canned report."""
    modules = {name: "1.0" for name in RUNTIME_MODULES}
    modules.update(torch="2.5.1", diffusers="0.32.2", cv2="4.9.0", numpy="1.26.4", scipy="1.13.1")
    data = {"python": "3.10.14", "modules": modules, "errors": {}, "hooks_missing": [],
            "onnx_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
            "cuda": True, "gpu": "Stand-in GPU", "free_gb": 23.0, "total_gb": 24.0}
    data.update(report)
    script = folder / "python"
    script.write_text(f"#!/bin/sh\necho '@alpha-doctor {json.dumps(data)}'\n")
    script.chmod(0o755)
    return script


def make_project(root: Path, checkout: Path | str, python: Path | str, backend: str = "latentsync",
                 checkpoint: str = "1.6", registry: dict | None = None) -> Path:
    (root / "media").mkdir(parents=True, exist_ok=True)
    for name in ("face.png", "voice.wav"):
        (root / "media" / name).write_bytes(b"placeholder")
    checkpoints = f"checkpoints: {json.dumps(registry)}" if registry else ""
    write(root / "alpha.yaml", f"""
        name: Doctor
        latentsync:
          root: {checkout}
          python: {python}
          {checkpoints}
        defaults:
          lipsync: {{backend: {backend}, checkpoint: "{checkpoint}"}}
    """)
    write(root / "episodes" / "ep01.yaml", """
        title: One
        date: 2026-01-01
        source: {image: media/face.png}
        audio: {voice: media/voice.wav}
    """)
    return root


def run_doctor(project: Path, capsys) -> tuple[int, str]:
    code = doctor(project)
    return code, capsys.readouterr().out  # the answer of a query command is on stdout


def test_ready_with_the_standin_checkout_and_a_big_enough_gpu(tmp_path, checkout, capsys):
    project = make_project(tmp_path / "p", checkout, fake_python(tmp_path))
    code, out = run_doctor(project, capsys)
    assert code == 0, out
    assert "ready:" in out and "missing" not in out
    assert "Stand-in GPU" in out and "1.6 needs about 18 GB" in out
    assert "stage2_512.yaml" in out and "resolution 512" in out


def test_gpu_too_small_for_16(tmp_path, checkout, capsys):
    project = make_project(tmp_path / "p", checkout, fake_python(tmp_path, free_gb=11.0, total_gb=12.0))
    code, out = run_doctor(project, capsys)
    assert code == 1
    assert "✗ GPU: Stand-in GPU: 11.0 GB free of 12.0 GB" in out
    assert "a GPU with at least 18 GB is needed; use checkpoint 1.5" in out
    # The same GPU is enough for 1.5.
    project = make_project(tmp_path / "q", checkout, fake_python(tmp_path), checkpoint="1.5")
    assert run_doctor(project, capsys)[0] == 0


def test_missing_checkout(tmp_path, capsys):
    project = make_project(tmp_path / "p", tmp_path / "no-such-checkout", fake_python(tmp_path))
    code, out = run_doctor(project, capsys)
    assert code == 1
    assert f"✗ LatentSync checkout: LatentSync checkout not found: {tmp_path / 'no-such-checkout'}" in out
    assert "fix: git clone https://github.com/bytedance/LatentSync" in out
    assert "not ready: LatentSync checkout" in out


def test_missing_checkout_is_fine_when_no_episode_uses_latentsync(tmp_path, capsys):
    project = make_project(tmp_path / "p", tmp_path / "no-such-checkout", fake_python(tmp_path), backend="preview")
    code, out = run_doctor(project, capsys)
    assert code == 0, out
    assert "ready:" in out


def test_checkpoint_with_the_wrong_config_and_a_missing_file(tmp_path, checkout, capsys):
    registry = {
        "1.6": {"config": "configs/unet/stage2.yaml",  # wrong: 1.6 needs stage2_512.yaml
                "checkpoint": "checkpoints/latentsync-1.6/latentsync_unet.pt", "resolution": 512},
        "1.5": {"config": "configs/unet/stage2.yaml",
                "checkpoint": "checkpoints/latentsync-1.5/latentsync_unet.pt", "resolution": 256},
    }
    project = make_project(tmp_path / "p", checkout, fake_python(tmp_path), registry=registry)
    (checkout / "checkpoints" / "latentsync-1.5" / "latentsync_unet.pt").unlink()
    code, out = run_doctor(project, capsys)
    assert code == 1
    assert "✗ checkpoint 1.6: LatentSync 1.6: config stage2.yaml has data.resolution 256" in out
    assert "never run with the 256 config" in out
    # 1.5 is registered but unused: its missing file is reported in the table, not a failure.
    assert "checkpoint 1.5" in out and "✗ checkpoint 1.5" not in out
    assert "not ready: checkpoint 1.6" in out


def test_real_probe_in_the_checkouts_python(tmp_path, checkout, capsys):
    """The probe really runs in "LatentSync's Python" (here: this interpreter, CPU torch)."""
    pytest.importorskip("torch")
    project = make_project(tmp_path / "p", checkout, sys.executable, checkpoint="1.5")
    code, out = run_doctor(project, capsys)
    assert "LatentSync Python" in out and "torch 2." in out
    if "sees no CUDA GPU" in out:
        assert code == 1
        assert "✗ GPU: LatentSync's torch sees no CUDA GPU (1.5 needs about 8 GB)" in out


def test_outside_a_project_checks_the_machine(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = doctor(None)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no project found" in out and "H.264 test encode ok" in out


def test_a_checkout_without_the_flags_alpha_passes(tmp_path, checkout, capsys):
    drop_flags(checkout, "--temp_dir", "--enable_deepcache")
    project = make_project(tmp_path / "p", checkout, fake_python(tmp_path))
    code, out = run_doctor(project, capsys)
    assert code == 1
    assert "✗ LatentSync version: scripts/inference.py does not accept --temp_dir, --enable_deepcache" in out
    assert f"git -C {checkout} checkout a229c3948406bc2cf6eaf4873e662e70c6a04746" in out
    assert "not ready: LatentSync version" in out


def test_missing_hook_targets_and_modules_are_named(tmp_path, checkout, capsys):
    (checkout / "requirements.txt").write_text("kornia==0.8.0\nDeepCache==0.1.1\n")
    python = fake_python(tmp_path, hooks_missing=["LipsyncPipeline.restore_video"],
                         errors={"kornia": "ModuleNotFoundError: No module named 'kornia'",
                                 "DeepCache": "ModuleNotFoundError: No module named 'DeepCache'"})
    project = make_project(tmp_path / "p", checkout, python)
    code, out = run_doctor(project, capsys)
    assert code == 1
    assert "the runner's hook targets are missing: LipsyncPipeline.restore_video" in out
    assert "✗ LatentSync modules: LatentSync's inference imports them, and they fail: kornia:" in out
    assert "fix: in LatentSync's environment: pip install kornia==0.8.0 DeepCache==0.1.1" in out


def test_face_detector_models_and_its_gpu_provider(tmp_path, checkout, capsys):
    python = fake_python(tmp_path, onnx_providers=["CPUExecutionProvider"])
    project = make_project(tmp_path / "p", checkout, python)
    code, out = run_doctor(project, capsys)
    assert code == 0, out  # both are warnings: a render still works, slowly or with network
    assert "! face detector on GPU: onnxruntime has no CUDAExecutionProvider" in out
    assert "! face detector models:" in out and "insightface downloads buffalo_l.zip from GitHub" in out
    assert f"unzip -o /tmp/buffalo_l.zip -d {checkout / 'checkpoints/auxiliary/models/buffalo_l'}" in out

    models = checkout / "checkpoints" / "auxiliary" / "models" / "buffalo_l"
    models.mkdir(parents=True)
    for name in ("det_10g.onnx", "2d106det.onnx"):
        (models / name).write_bytes(b"onnx")
    code, out = run_doctor(project, capsys)
    assert "! face detector models" not in out and "2d106det.onnx" in out
