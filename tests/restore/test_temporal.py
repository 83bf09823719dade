"""Frame-to-frame behaviour of blend="poisson": steady when nothing changes, quick to follow a
colour change of the whole region, slow to follow local noise at its edge."""

import cv2
import numpy as np

from pipeline.restore import Restorer


def deep_region(scene, region_pixels):
    core = cv2.erode(scene.inner, np.ones((21, 21), np.uint8))
    return region_pixels(scene.frame.shape[:2], scene.affine, core, 0.99)


def flicker(outs, where):
    return float(np.mean([np.abs(b.astype(float) - a)[where].mean() for a, b in zip(outs, outs[1:])]))


def test_a_still_shot_gives_identical_frames(make_scene):
    scene = make_scene()
    restorer = Restorer("poisson", scene.inner)
    outs = [restorer.restore_img(scene.frame, scene.face, scene.affine) for _ in range(4)]
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    summary = restorer.summary()
    assert summary["frames"] == 4
    assert summary["seam_temporal_mean"] == 0.0


def test_a_region_wide_colour_change_is_followed_at_once(make_scene, region_pixels):
    """The VAE shifts each frame's colour differently; a lagging correction would leave that
    shift visible. Each frame must be as good as if it were corrected on its own."""
    shots = [make_scene(offset=(7.0 + s, -4.0 - s, -6.0 + s)) for s in (0.0, 5.0, -5.0, 5.0)]
    core = deep_region(shots[0], region_pixels)
    smoothed = Restorer("poisson", shots[0].inner, temporal=0.9)
    for scene in shots:
        alone = Restorer("poisson", scene.inner, temporal=0.0).restore_img(scene.frame, scene.face, scene.affine)
        out = smoothed.restore_img(scene.frame, scene.face, scene.affine)
        stock = Restorer("alpha", scene.inner, blur=0, erode=0).restore_img(scene.frame, scene.face, scene.affine)
        err, err_alone, err_stock = (np.abs(img.astype(float) - scene.ideal)[core].mean() for img in (out, alone, stock))
        assert err < err_alone + 0.3
        assert err < 0.3 * err_stock


def test_local_noise_at_the_edge_is_smoothed_over_time(make_scene, region_pixels):
    """Grain in the original frame changes the boundary differences every frame; with
    temporal smoothing the correction (and so the output inside the region) flickers less."""
    scene = make_scene()
    rng = np.random.default_rng(5)
    frames = [np.clip(scene.frame + rng.normal(0.0, 8.0, scene.frame.shape), 0, 255).astype(np.uint8) for _ in range(10)]
    core = deep_region(scene, region_pixels)
    results = {}
    for temporal in (0.0, 0.8):
        restorer = Restorer("poisson", scene.inner, temporal=temporal)
        outs = [restorer.restore_img(frame, scene.face, scene.affine) for frame in frames]
        results[temporal] = (flicker(outs, core), restorer.summary()["seam_temporal_mean"])
    assert results[0.8][0] < 0.7 * results[0.0][0]
    assert results[0.8][1] < results[0.0][1]


def test_reset_starts_a_new_shot(make_scene):
    first = make_scene(offset=(12.0, 0.0, 0.0))
    second = make_scene(offset=(-12.0, 0.0, 0.0))
    restorer = Restorer("poisson", first.inner, temporal=0.9)
    restorer.restore_img(first.frame, first.face, first.affine)
    restorer.reset()
    assert restorer.summary()["frames"] == 0
    got = restorer.restore_img(second.frame, second.face, second.affine)
    fresh = Restorer("poisson", second.inner, temporal=0.9).restore_img(second.frame, second.face, second.affine)
    np.testing.assert_array_equal(got, fresh)
