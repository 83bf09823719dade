"""The binding Python API: arguments, validation, telemetry, counted fallbacks."""

import json
import logging

import cv2
import numpy as np
import pytest

import pipeline.restore.paste as paste_module
import pipeline.restore.restorer as restorer_module
from pipeline.restore import BLENDS, DEFAULT_BLUR, DEFAULT_ERODE, Restorer


def test_contract_call(make_scene):
    scene = make_scene()
    r = Restorer(blend="poisson", inner_mask=scene.inner)
    frame_out = r.restore_img(scene.frame, scene.face, scene.affine)
    assert frame_out.shape == scene.frame.shape and frame_out.dtype == np.uint8
    assert r.blur == DEFAULT_BLUR and r.erode == DEFAULT_ERODE and r.blend == "poisson"
    assert Restorer().blend == "poisson"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(blend="median"), "unknown blend 'median'"),
        (dict(blur=-1), "blur must be an integer in 0..255"),
        (dict(erode=256), "erode must be an integer in 0..255"),
        (dict(blur=2.5), "blur must be an integer"),
        (dict(erode=True), "erode must be an integer"),
        (dict(temporal=1.0), "temporal must be a number in"),
        (dict(inner_mask=np.ones((4, 4, 1), np.float32)), "inner_mask must be a 2-D"),
        (dict(inner_mask=np.full((4, 4), 255, np.uint8)), "inner_mask must be float"),
        (dict(inner_mask=np.full((4, 4), 1.5, np.float32)), r"in \[0, 1\]"),
        (dict(inner_mask=np.full((4, 4), np.nan, np.float32)), "finite"),
    ],
)
def test_constructor_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Restorer(**kwargs)


@pytest.mark.parametrize(
    "what, bad, message",
    [
        ("frame", lambda s: s.frame.astype(np.float32), "frame must be an H×W×3 uint8"),
        ("frame", lambda s: s.frame[..., 0], "frame must be an H×W×3 uint8"),
        ("frame", lambda s: s.frame.tolist(), "frame must be an H×W×3 uint8"),
        ("face", lambda s: np.dstack([s.face, s.face[..., :1]]), "face must be an H×W×3 uint8"),
        ("face", lambda s: s.face[:-2], "inner_mask is 280×210"),
        ("affine", lambda s: s.affine[:, :2], "affine must be a 2×3"),
        ("affine", lambda s: np.zeros((2, 3)), "not invertible"),
        ("affine", lambda s: np.full((2, 3), np.inf), "non-finite"),
        ("affine", lambda s: "matrix", "affine must be a 2×3"),
    ],
)
def test_restore_img_validation(make_scene, what, bad, message):
    scene = make_scene()
    args = dict(frame=scene.frame, face=scene.face, affine=scene.affine)
    args[what] = bad(scene)
    with pytest.raises(ValueError, match=message):
        Restorer("poisson", scene.inner).restore_img(**args)


def test_crop_size_is_fixed_within_a_shot(make_scene):
    scene = make_scene()
    restorer = Restorer("alpha")
    restorer.restore_img(scene.frame, scene.face, scene.affine)
    with pytest.raises(ValueError, match="call reset"):
        restorer.restore_img(scene.frame, scene.face[:100, :80].copy(), scene.affine)
    restorer.reset()
    restorer.restore_img(scene.frame, scene.face[:100, :80].copy(), scene.affine)


@pytest.mark.parametrize("blend", BLENDS)
def test_telemetry_is_json_and_complete(make_scene, blend):
    scene = make_scene()
    restorer = Restorer(blend, scene.inner)
    for _ in range(3):
        restorer.restore_img(scene.frame, scene.face, scene.affine)
    data = json.loads(json.dumps(restorer.telemetry))
    for key in ("frames", "fallbacks", "fallback_reasons", "seam_rect_mean", "seam_rect_max", "seam_inner_mean",
                "seam_inner_max", "seam_temporal_mean", "seam_temporal_max", "ms_mean", "blend", "blur", "erode"):
        assert key in data
    assert data["frames"] == 3 and data["fallbacks"] == 0 and data["fallback_reasons"] == {}
    assert len(data["per_frame"]) == 3
    assert data["per_frame"][0]["frame"] == 0 and data["per_frame"][0]["fallback"] is None
    assert data["seam_inner_mean"] >= 0 and data["seam_rect_max"] >= data["seam_rect_mean"]
    assert restorer.summary().keys() == {k: v for k, v in data.items() if k != "per_frame"}.keys()


def test_seam_figures_see_the_steps(make_scene):
    """alpha leaves the drift's step at the hard inner edge: the no-reference figure reports
    about the drift's size there; poisson takes it down."""
    scene = make_scene(offset=(10.0, 10.0, 10.0), spread=0.0)
    stock = Restorer("alpha", scene.inner, blur=0, erode=0)
    stock.restore_img(scene.frame, scene.face, scene.affine)
    poisson = Restorer("poisson", scene.inner)
    poisson.restore_img(scene.frame, scene.face, scene.affine)
    assert 6.0 < stock.summary()["seam_inner_mean"] < 12.0
    assert poisson.summary()["seam_inner_mean"] < 1.0
    assert poisson.summary()["seam_rect_mean"] < 0.5


def test_seam_figures_can_be_switched_off(make_scene):
    scene = make_scene()
    restorer = Restorer("poisson", scene.inner, seam_stats=False)
    restorer.restore_img(scene.frame, scene.face, scene.affine)
    summary = restorer.summary()
    assert summary["frames"] == 1 and summary["seam_inner_mean"] is None


def test_seamless_failure_falls_back_to_alpha_counted_and_logged(make_scene, monkeypatch, caplog):
    scene = make_scene()

    def refuse(*args, **kwargs):
        raise cv2.error("(-215:Assertion failed) 0 <= roi.x && 0 <= roi.width in function 'seamlessClone'")

    monkeypatch.setattr(paste_module.cv2, "seamlessClone", refuse)
    restorer = Restorer("seamless", scene.inner)
    with caplog.at_level(logging.DEBUG, logger="pipeline.restore.restorer"):
        outs = [restorer.restore_img(scene.frame, scene.face, scene.affine) for _ in range(3)]
    alpha = Restorer("alpha", scene.inner).restore_img(scene.frame, scene.face, scene.affine)
    np.testing.assert_array_equal(outs[0], alpha)
    summary = restorer.summary()
    assert summary["fallbacks"] == 3 and summary["fallback_reasons"] == {"seamless_clone_failed": 3}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "roi.x" in warnings[0].getMessage()
    assert sum("seamless_clone_failed" in r.getMessage() for r in caplog.records) == 3


def test_solver_failure_falls_back_to_alpha_counted(make_scene, monkeypatch, caplog):
    scene = make_scene()

    def broken(plan, counts):
        raise RuntimeError("Factor is exactly singular")

    monkeypatch.setattr(restorer_module, "factorize", broken)
    restorer = Restorer("poisson", scene.inner)
    with caplog.at_level(logging.WARNING, logger="pipeline.restore.restorer"):
        out = restorer.restore_img(scene.frame, scene.face, scene.affine)
    alpha = Restorer("alpha", scene.inner).restore_img(scene.frame, scene.face, scene.affine)
    np.testing.assert_array_equal(out, alpha)
    assert restorer.summary()["fallback_reasons"] == {"solver_failed": 1}
    assert "singular" in caplog.text
    # The next frame tries the solver again rather than staying on the fallback.
    monkeypatch.undo()
    restorer.restore_img(scene.frame, scene.face, scene.affine)
    assert restorer.summary()["fallbacks"] == 1
