"""`alpha doctor` and `alpha render` against the real code: what the checkout and LatentSync's
environment lack is said before anything renders (defects 2 and 3)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import write
from tests.latentsync_real.conftest import RealEpisode

KNOWN_GOOD = "a229c3948406bc2cf6eaf4873e662e70c6a04746"


def variant(good: Path, dest: Path, drop_flags: bool, drop_hook: bool) -> Path:
    """A copy of the test checkout as an older LatentSync would have it: scripts/inference.py
    without --temp_dir and --enable_deepcache (as at the 1.6 release d058a61), and/or
    LipsyncPipeline without restore_video (a hook target). The weights are linked, not copied."""
    shutil.copytree(good, dest, ignore=shutil.ignore_patterns("checkpoints"))
    (dest / "checkpoints").symlink_to(good / "checkpoints", target_is_directory=True)
    if drop_flags:
        inference = dest / "scripts" / "inference.py"
        text = inference.read_text()
        kept = [line for line in text.splitlines(keepends=True)
                if '"--temp_dir"' not in line and '"--enable_deepcache"' not in line]
        text = "".join(kept).replace("temp_dir=args.temp_dir,", "").replace("if args.enable_deepcache:", "if True:")
        inference.write_text(text)
    if drop_hook:
        module = dest / "latentsync" / "pipelines" / "lipsync_pipeline.py"
        text = module.read_text()
        assert "def restore_video(" in text
        module.write_text(text.replace("def restore_video(", "def restore_frames("))
    return dest


@pytest.fixture(scope="module")
def project(tmp_path_factory, make_project):
    return make_project(tmp_path_factory.mktemp("doctor") / "show", [RealEpisode("d15", "1.5", seconds=0.4)])


def retarget(project: Path, checkout: Path) -> Path:
    text = (project / "alpha.yaml").read_text()
    (project / "alpha.yaml").write_text(re.sub(r"(?m)^(  root: ).*$", lambda m: m.group(1) + str(checkout), text))
    return project


def test_doctor_on_the_real_checkout(project, latentsync_env):
    done = latentsync_env.alpha(project, "doctor")
    out = done.stdout + done.stderr
    assert "LatentSync version" in out and "flags and all hook targets present" in out
    assert "LatentSync modules" in out and "modules inference imports load" in out
    # What this CPU machine lacks, said as such: the detector's GPU provider, its models, a GPU.
    assert "! face detector on GPU" in out and "onnxruntime has no CUDAExecutionProvider" in out
    assert "! face detector models" in out and "insightface downloads buffalo_l.zip" in out
    assert "buffalo_l.zip" in out and "checkpoints/auxiliary/models/buffalo_l" in out
    assert "✗ GPU: LatentSync's torch sees no CUDA GPU" in out
    assert done.returncode == 1
    assert "not ready: GPU" in out


def test_doctor_names_a_module_inference_imports(project, latentsync_env, tmp_path):
    """Defect 3: kornia hidden from LatentSync's Python, as if not installed."""
    hidden = tmp_path / "hide"
    write(hidden / "kornia" / "__init__.py", 'raise ModuleNotFoundError("No module named \'kornia\'", name="kornia")\n')
    done = latentsync_env.alpha(project, "doctor", env={"PYTHONPATH": f"{hidden}:{latentsync_env.env['PYTHONPATH']}"})
    out = done.stdout + done.stderr
    assert done.returncode == 1
    assert "✗ LatentSync modules: LatentSync's inference imports them, and they fail: kornia" in out
    assert "pip install kornia==0.8.0" in out  # the pin from the checkout's requirements.txt
    assert "the hook targets could not be checked" in out


def test_doctor_and_render_refuse_an_old_checkout(project, latentsync_env, tmp_path):
    """Defect 2: a checkout lacking the flags alpha passes and a hook target."""
    old = variant(latentsync_env.checkout, tmp_path / "LatentSync-old", drop_flags=True, drop_hook=True)
    retarget(project, old)
    try:
        done = latentsync_env.alpha(project, "doctor")
        out = done.stdout + done.stderr
        assert done.returncode == 1
        assert "✗ LatentSync version: scripts/inference.py does not accept --temp_dir, --enable_deepcache" in out
        assert "the runner's hook targets are missing: LipsyncPipeline.restore_video" in out
        assert f"git -C {old} checkout {KNOWN_GOOD}" in out

        done = latentsync_env.alpha(project, "render", "--json")
        [outcome] = json.loads(done.stdout)["episodes"]
        assert done.returncode != 0 and not outcome["ok"]
        assert "does not accept --temp_dir, --enable_deepcache" in outcome["error"]
        assert KNOWN_GOOD in outcome["error"]
        assert outcome["ran"] == ["source"]  # refused before LatentSync was started
    finally:
        retarget(project, latentsync_env.checkout)


def test_render_refuses_a_checkout_without_a_hook_target_before_any_model_loads(project, latentsync_env, tmp_path):
    old = variant(latentsync_env.checkout, tmp_path / "LatentSync-hooks", drop_flags=False, drop_hook=True)
    retarget(project, old)
    try:
        done = latentsync_env.alpha(project, "render", "--json")
        [outcome] = json.loads(done.stdout)["episodes"]
        assert done.returncode != 0 and not outcome["ok"]
        assert "lacks LipsyncPipeline.restore_video" in outcome["error"] and KNOWN_GOOD in outcome["error"]
        assert "Loaded checkpoint path" not in outcome["error"]  # inference never started
    finally:
        retarget(project, latentsync_env.checkout)
