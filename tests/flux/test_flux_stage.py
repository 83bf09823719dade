"""The Flux source stage through `alpha render`, with a tiny random Flux pipeline built here.

Real diffusers classes, random weights: this checks that the stage loads the model named in
alpha.yaml, restyles at the episode's strength and seed, and is keyed by those settings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.flux import build_tiny_pipeline
from tests.helpers import run_alpha

pytest.importorskip("torch")
pytest.importorskip("diffusers")


def test_render_restyles_the_reference_and_keys_on_strength(tmp_path):
    import cv2

    root = tmp_path / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    build_tiny_pipeline(root / "models/tiny-flux")
    for other in ("ep01-hello", "ep03-rain"):
        (root / f"episodes/{other}.yaml").unlink()
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("model: ~/models/FLUX.1-dev", "model: models/tiny-flux")
                      .replace("backend: preview", "backend: none"))
    episode = root / "episodes/ep02-the-seam.yaml"
    episode.write_text(episode.read_text().replace(
        "source:\n  image: media/portrait.jpg\n",
        "source:\n  image: media/portrait.jpg\n  flux: {enabled: true, strength: 0.5, steps: 2, prompt: a painted portrait}\n"))

    result = run_alpha("-C", str(root), "render", "--json")
    assert result.exit_code == 0, result.stderr
    lock = json.loads((root / "alpha.lock").read_text())["episodes"]["ep02-the-seam"]
    source = lock["stages"]["source"]
    assert source["params"]["source"]["flux"]["strength"] == 0.5
    assert source["metrics"]["flux"]["steps"] == 2
    restyled = cv2.imread(str(root / source["outputs"]["media"]["path"]))
    original = cv2.imread(str(root / "media/portrait.jpg"))
    assert restyled.shape == original.shape
    assert np.abs(restyled.astype(int) - original.astype(int)).mean() > 1  # it was restyled

    episode.write_text(episode.read_text().replace("strength: 0.5", "strength: 0.25"))
    status = json.loads(run_alpha("-C", str(root), "status", "--json").stdout)["episodes"][0]
    assert status["reasons"] == [{"kind": "param", "field": "source.flux.strength", "old": 0.5, "new": 0.25}]
    assert [s["name"] for s in status["stages"] if s["run"]] == ["source", "lipsync", "restore", "mux", "proof"]


def test_flux_without_a_model_is_a_manifest_error(tmp_path):
    root = tmp_path / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("flux:\n  model: ~/models/FLUX.1-dev\n", ""))
    episode = root / "episodes/ep03-rain.yaml"
    episode.write_text(episode.read_text().replace(
        "source:\n  image: media/portrait.jpg\n", "source:\n  image: media/portrait.jpg\n  flux: {enabled: true}\n"))
    result = run_alpha("-C", str(root), "status")
    assert result.exit_code == 2
    assert ("episodes/ep03-rain.yaml:7: source.flux.enabled: Flux restyling needs a model: "
            "set flux.model in alpha.yaml") in result.stderr
