"""pipeline.flux: Flux img2img restyle, tested on a tiny random Flux pipeline built and saved here.

The tiny pipeline has random weights, so its pictures are noise-like: these tests check the
plumbing (loading via from_pretrained, sizes, seeding, strength semantics, errors), not the style.
The tests that need torch/diffusers/transformers skip without the ``flux`` extra; the ones about the
missing extra run everywhere.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pipeline.flux as flux
from pipeline.errors import UserError

PORTRAIT = Path(__file__).resolve().parents[2] / "pipeline" / "demo" / "assets" / "portrait.jpg"
STEPS = 4


# --- without the extra (runs everywhere) --------------------------------------------------------


def test_import_does_not_load_the_heavy_modules():
    code = ("import sys, pipeline.flux; "
            "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PORTRAIT.parents[3])


@pytest.mark.parametrize("missing", ["torch", "diffusers", "transformers"])
def test_missing_extra_raises_flux_unavailable(monkeypatch, tmp_path, missing):
    # A None entry in sys.modules makes `import NAME` fail with ModuleNotFoundError(name=NAME),
    # whether or not the package is really installed. Where the extra is installed, import it for
    # real first: diffusers records at import time which libraries exist, and must not be first
    # imported while one of them is hidden (that would break it for the rest of the session).
    really_missing = set()
    for name in ("torch", "transformers", "diffusers"):
        try:
            __import__(name)
        except ImportError:
            really_missing.add(name)
    # The message names the first missing module, checked in the order torch, diffusers, transformers.
    expected = next(n for n in ("torch", "diffusers", "transformers") if n == missing or n in really_missing)
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(flux.FluxUnavailable) as info:
        flux.restyle(PORTRAIT, tmp_path / "out.png", model=tmp_path, strength=0.5, prompt="x",
                     seed=0, steps=2, guidance=3.5)
    message = str(info.value)
    assert message == ("source.flux needs the optional extra: pip install 'alpha-pipeline[flux]' "
                       f"(missing module: {expected})")
    assert isinstance(info.value, UserError)  # the CLI prints it without a traceback
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(flux.FluxUnavailable):
        flux.build_tiny_pipeline(tmp_path / "tiny")


# --- with the extra ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("models") / "tiny-flux"
    flux.build_tiny_pipeline(folder, seed=0)
    yield folder
    flux.clear_cache()


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """The portrait at 66×50 (not a multiple of the pipeline's 4), and a different image of that size."""
    from PIL import Image, ImageOps

    folder = tmp_path_factory.mktemp("images")
    with Image.open(PORTRAIT) as src:
        small = src.convert("RGB").resize((66, 50), Image.LANCZOS)
    small.save(folder / "portrait.png")
    ImageOps.invert(ImageOps.mirror(small)).save(folder / "other.png")
    return folder


def _run(tiny_model, image, out, **overrides):
    kwargs = dict(model=tiny_model, strength=0.5, prompt="an oil painting of a person", seed=1,
                  steps=STEPS, guidance=3.5, device="cpu")
    kwargs.update(overrides)
    return flux.restyle(image, out, **kwargs)


def _pixels(path):
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def test_output_is_rgb_png_at_the_input_size_and_exact_path(tiny_model, images, tmp_path):
    from PIL import Image

    out = tmp_path / "nested" / "source.png.partial"  # the caller's temp name: written as given
    metrics = _run(tiny_model, images / "portrait.png", out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as img:
        assert img.format == "PNG" and img.mode == "RGB" and img.size == (66, 50)
    assert metrics["width"] == 66 and metrics["height"] == 50
    assert (metrics["run_width"], metrics["run_height"]) == (64, 48)  # nearest multiples of 4
    assert metrics["device"] == "cpu" and metrics["dtype"] == "float32"
    assert metrics["model"] == "tiny-flux"
    assert metrics["denoise_steps"] == 2  # strength 0.5 of 4 steps
    assert metrics["seconds"] >= 0
    import json

    json.dumps(metrics)  # JSON-able


def test_grayscale_input_gives_rgb_output(tiny_model, images, tmp_path):
    from PIL import Image

    gray = tmp_path / "gray.png"
    with Image.open(images / "portrait.png") as img:
        img.convert("L").save(gray)
    _run(tiny_model, gray, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as img:
        assert img.mode == "RGB" and img.size == (66, 50)


def test_same_seed_same_output_other_seed_other_output(tiny_model, images, tmp_path):
    first = _run(tiny_model, images / "portrait.png", tmp_path / "a.png", seed=7)
    second = _run(tiny_model, images / "portrait.png", tmp_path / "b.png", seed=7)
    _run(tiny_model, images / "portrait.png", tmp_path / "c.png", seed=8)
    assert (_pixels(tmp_path / "a.png") == _pixels(tmp_path / "b.png")).all()
    assert abs(_pixels(tmp_path / "a.png") - _pixels(tmp_path / "c.png")).mean() > 1.0  # grey levels
    assert second["cached"] is True  # the loaded pipeline is reused within the process
    assert first["cached"] in (True, False)


def test_strength_behaves_as_img2img(tiny_model, images, tmp_path):
    """What img2img's strength means, asserted in forms that a random-weight model still shows.

    The probe: run two different images (the portrait and a mirrored negative of it) with one seed
    and measure how far apart the outputs are; that is how much the input image still shapes the
    output.

    * strength 0 re-runs none of the schedule: the image comes back unchanged. (diffusers refuses a
      zero-step run, so restyle short-cuts it: no model load, the input re-saved as an RGB PNG.)
    * strength 1 re-runs all of it: the flow-matching schedule starts at sigma = 1, where the start
      latent is 1·noise + 0·image, so the output cannot depend on the input: the two outputs are
      identical. Fails if diffusers changes img2img so that full strength keeps some of the image.
    * in between, the start latent is (1 - sigma)·image + sigma·noise with sigma growing with
      strength, so the input's influence shrinks as strength grows: 0.25 > 0.5 > 1 (= 0). Measured
      on this tiny model: about 8.7 vs 3.4 grey levels. This ordering is certain in the start
      latent, but the random transformer and VAE could in principle scramble it; if a new torch or
      diffusers draws different random weights and it flips, look at the numbers before the code.
    * strength s runs int-rounded s·steps of the steps (diffusers' get_timesteps).
    Not asserted: "lower strength stays closer to the input" in pixels. That holds for a trained VAE
    and transformer, but this model's random VAE does not even reconstruct its input.
    """
    import numpy as np

    portrait, other = images / "portrait.png", images / "other.png"

    keep = _run(tiny_model, portrait, tmp_path / "s0.png", strength=0.0)
    assert (_pixels(tmp_path / "s0.png") == _pixels(portrait)).all()
    assert keep["denoise_steps"] == 0

    influence = {}
    for strength, steps_run in ((0.25, 1), (0.5, 2), (1.0, STEPS)):
        a = _run(tiny_model, portrait, tmp_path / f"a{strength}.png", strength=strength)
        b = _run(tiny_model, other, tmp_path / f"b{strength}.png", strength=strength)
        assert a["denoise_steps"] == b["denoise_steps"] == steps_run
        diff = _pixels(tmp_path / f"a{strength}.png") - _pixels(tmp_path / f"b{strength}.png")
        influence[strength] = float(np.abs(diff).mean())
    assert influence[1.0] == 0.0, influence
    assert influence[0.25] > influence[0.5] > 0.5, influence


def test_bad_strength_is_refused(tiny_model, images, tmp_path):
    with pytest.raises(ValueError, match="strength"):
        _run(tiny_model, images / "portrait.png", tmp_path / "out.png", strength=1.5)


def test_missing_model_folder(tiny_model, images, tmp_path):
    with pytest.raises(FileNotFoundError, match="Flux model folder not found") as info:
        _run(tiny_model, images / "portrait.png", tmp_path / "out.png", model=tmp_path / "no-such-model")
    assert "no-such-model" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="model_index.json"):
        _run(tiny_model, images / "portrait.png", tmp_path / "out.png", model=tmp_path / "empty")
    assert not (tmp_path / "out.png").exists()
