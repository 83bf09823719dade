"""Invariants of the three blends: locality, no shift, edges of the frame, degenerate masks."""

import cv2
import numpy as np
import pytest

from pipeline.restore import BLENDS, Restorer
from pipeline.restore.quality import phase_shift

EDGE_CASES = {
    "centre": dict(),
    "rotated": dict(angle=17.0, scale=2.0),
    "left_edge": dict(at=(20.0, 240.0)),
    "top_right_corner": dict(at=(630.0, 15.0), angle=-8.0),
    "bottom_edge": dict(at=(300.0, 420.0)),
    "odd_sizes": dict(frame_wh=(333, 251), scale=1.0, at=(150.0, 120.0), crop_hw=(91, 67)),
    "latentsync_1.6": dict(version="1.6", frame_wh=(960, 540), scale=3.0, angle=-5.0),
}


def restore(scene, blend, **kwargs):
    restorer = Restorer(blend, scene.inner, **kwargs)
    return restorer.restore_img(scene.frame, scene.face, scene.affine), restorer


def bbox(mask):
    rows, cols = np.nonzero(mask)
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


@pytest.mark.parametrize("blend", BLENDS)
@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_nothing_outside_the_rectangle_changes(make_scene, rect_coverage, blend, case):
    scene = make_scene(**EDGE_CASES[case])
    out, restorer = restore(scene, blend)
    assert out.shape == scene.frame.shape and out.dtype == np.uint8
    rect = rect_coverage(scene.frame.shape[:2], scene.affine, scene.face.shape[:2])
    np.testing.assert_array_equal(out[~rect], scene.frame[~rect])
    # ... and something inside did change: the test is not vacuous.
    assert (out[rect] != scene.frame[rect]).mean() > 0.05
    assert restorer.summary()["fallbacks"] == 0


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_poisson_changes_only_the_generated_region(make_scene, region_pixels, case):
    scene = make_scene(**EDGE_CASES[case])
    out, _ = restore(scene, "poisson")
    touched = region_pixels(scene.frame.shape[:2], scene.affine, scene.inner, 1e-6)
    np.testing.assert_array_equal(out[~touched], scene.frame[~touched])


def generated_box(scene, region_pixels):
    """Bounding box of the generated region in the frame: where the pasted content comes from."""
    return bbox(region_pixels(scene.frame.shape[:2], scene.affine, scene.inner, 0.5))


@pytest.mark.parametrize("blend", ["poisson", "seamless"])
@pytest.mark.parametrize("case", ["centre", "rotated", "left_edge"])
def test_no_shift(make_scene, region_pixels, blend, case):
    scene = make_scene(**EDGE_CASES[case])
    out, _ = restore(scene, blend)
    box = generated_box(scene, region_pixels)
    dx, dy = phase_shift(out[box], scene.frame[box])
    assert np.hypot(dx, dy) <= 0.1


@pytest.mark.parametrize("offset", [0.3, 1.0])
def test_shift_measure_can_fail(make_scene, region_pixels, offset):
    """Control for test_no_shift: a crop pasted a fraction of a pixel off is detected."""
    scene = make_scene()
    moved = scene.affine.copy()
    moved[:, 2] += scene.affine[:, :2] @ [offset, 0.0]
    out = Restorer("poisson", scene.inner).restore_img(scene.frame, scene.face, moved)
    dx, dy = phase_shift(out[generated_box(scene, region_pixels)], scene.frame[generated_box(scene, region_pixels)])
    assert dx == pytest.approx(-offset, abs=0.5 * offset) and abs(dy) < 0.1


@pytest.mark.parametrize("case", ["centre", "rotated", "left_edge", "top_right_corner", "latentsync_1.6"])
def test_poisson_removes_the_colour_drift(make_scene, region_pixels, case):
    scene = make_scene(**EDGE_CASES[case])
    core_mask = cv2.erode(scene.inner, np.ones((15, 15), np.uint8))
    core = region_pixels(scene.frame.shape[:2], scene.affine, core_mask, 0.99)
    assert core.sum() > 500
    errors, seams = {}, {}
    for blend in BLENDS:
        out, restorer = restore(scene, blend)
        errors[blend] = np.abs(out.astype(float) - scene.ideal)[core].mean()
        seams[blend] = restorer.summary()["seam_inner_mean"]
    # The drift is several grey levels; alpha and seamless keep it inside the region.
    assert errors["alpha"] > 3.0 and errors["seamless"] > 3.0
    assert errors["poisson"] < 0.4 * min(errors["alpha"], errors["seamless"])
    # The no-reference seam figure sees the same: seamless hides the rectangle, not the U.
    assert seams["poisson"] < 0.5 * min(seams["alpha"], seams["seamless"])


def test_poisson_with_the_whole_crop_generated(make_scene, rect_coverage):
    """inner_mask=None: the membrane's boundary is the rectangle itself."""
    scene = make_scene(inner=np.ones((280, 210), np.float32))
    stock, _ = restore(scene, "alpha", blur=0, erode=0)
    restorer = Restorer("poisson", None)
    out = restorer.restore_img(scene.frame, scene.face, scene.affine)
    rect = rect_coverage(scene.frame.shape[:2], scene.affine, scene.face.shape[:2])
    err = lambda img: np.abs(img.astype(float) - scene.ideal)[rect].mean()  # noqa: E731
    assert err(out) < 0.5 * err(stock)
    summary = restorer.summary()
    assert summary["seam_inner_mean"] is None and summary["seam_rect_mean"] is not None


def test_real_mask_png(make_scene, mask_png, region_pixels):
    from pipeline.restore import inner_mask_from_latentsync_png

    inner = inner_mask_from_latentsync_png(mask_png, (280, 210))
    scene = make_scene(inner=inner)
    core = region_pixels(scene.frame.shape[:2], scene.affine, cv2.erode(inner, np.ones((15, 15), np.uint8)), 0.99)
    stock, _ = restore(scene, "alpha", blur=0, erode=0)
    out, restorer = restore(scene, "poisson")
    err = lambda img: np.abs(img.astype(float) - scene.ideal)[core].mean()  # noqa: E731
    assert err(out) < 0.4 * err(stock)
    assert restorer.summary()["fallbacks"] == 0


def test_crop_outside_the_frame_is_a_counted_fallback(make_scene, caplog):
    scene = make_scene()
    far = scene.affine.copy()
    far[:, 2] += 10000.0
    restorer = Restorer("poisson", scene.inner)
    with caplog.at_level("WARNING", logger="pipeline.restore.restorer"):
        out = restorer.restore_img(scene.frame, scene.face, far)
    np.testing.assert_array_equal(out, scene.frame)
    assert out is not scene.frame
    summary = restorer.summary()
    assert summary["fallbacks"] == 1 and summary["fallback_reasons"] == {"crop_outside_frame": 1}
    assert "crop_outside_frame" in caplog.text


@pytest.mark.parametrize("blend", BLENDS)
def test_empty_inner_mask(make_scene, rect_coverage, blend):
    scene = make_scene()
    restorer = Restorer(blend, np.zeros_like(scene.inner))
    out = restorer.restore_img(scene.frame, scene.face, scene.affine)
    rect = rect_coverage(scene.frame.shape[:2], scene.affine, scene.face.shape[:2])
    np.testing.assert_array_equal(out[~rect], scene.frame[~rect])
    summary = restorer.summary()
    if blend == "poisson":
        # Nothing was generated: nothing to correct or paste, and it is said so.
        np.testing.assert_array_equal(out, scene.frame)
        assert summary["fallback_reasons"] == {"empty_inner_mask": 1}
    else:
        assert summary["fallbacks"] == 0


@pytest.mark.parametrize("blend", BLENDS)
def test_tiny_inner_mask(make_scene, rect_coverage, blend):
    scene = make_scene()
    tiny = np.zeros_like(scene.inner)
    tiny[200:203, 100:103] = 1.0
    restorer = Restorer(blend, tiny)
    out = restorer.restore_img(scene.frame, scene.face, scene.affine)
    rect = rect_coverage(scene.frame.shape[:2], scene.affine, scene.face.shape[:2])
    np.testing.assert_array_equal(out[~rect], scene.frame[~rect])
    # The default erosion (8) swallows a 3×3 region: the hard region is used, and counted.
    assert restorer.summary()["fallback_reasons"] == {"feather_erased_mask": 1}
    hard = Restorer(blend, tiny, blur=0, erode=0)
    hard.restore_img(scene.frame, scene.face, scene.affine)
    assert hard.summary()["fallbacks"] == 0


def test_frames_and_inputs_are_not_modified(make_scene):
    scene = make_scene()
    frame, face, affine = scene.frame.copy(), scene.face.copy(), scene.affine.copy()
    for blend in BLENDS:
        Restorer(blend, scene.inner).restore_img(scene.frame, scene.face, scene.affine)
    np.testing.assert_array_equal(scene.frame, frame)
    np.testing.assert_array_equal(scene.face, face)
    np.testing.assert_array_equal(scene.affine, affine)


def test_latentsync_shaped_affine_is_accepted(make_scene):
    scene = make_scene()
    a = Restorer("poisson", scene.inner).restore_img(scene.frame, scene.face, scene.affine)
    b = Restorer("poisson", scene.inner).restore_img(scene.frame, scene.face, scene.affine[None].astype(np.float32))
    assert np.abs(a.astype(int) - b).max() <= 1


@pytest.mark.parametrize("blend", BLENDS)
@pytest.mark.parametrize("blur, erode", [(0, 0), (8, 8)])
def test_only_the_generated_region_changes(make_scene, region_pixels, blend, blur, erode):
    """A generated crop that differs from the original everywhere, as a real decode does,
    changes the frame only under the generated region (hard-edged at blur = erode = 0)."""
    scene = make_scene()
    noisy = np.random.default_rng(3).integers(0, 256, scene.face.shape, dtype=np.uint8)
    got = Restorer(blend, scene.inner, blur=blur, erode=erode).restore_img(scene.frame, noisy, scene.affine)
    outside = ~region_pixels(scene.frame.shape[:2], scene.affine, scene.inner, 1e-6)
    np.testing.assert_array_equal(got[outside], scene.frame[outside])
    assert np.abs(got.astype(int) - scene.frame)[~outside].mean() > 10
