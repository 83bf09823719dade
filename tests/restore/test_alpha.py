"""blend="alpha" reproduces LatentSync's stock paste-back, computed on the covered region only."""

import cv2
import numpy as np
import pytest

from pipeline.restore import Restorer
from pipeline.restore.paste import paste_alpha


def stock_restorer(inner=None):
    return Restorer("alpha", inner, blur=0, erode=0)


@pytest.mark.parametrize(
    "case",
    [
        dict(),                                                     # centred
        dict(angle=21.0, scale=2.1),                                # rotated, upscaled crop
        dict(version="1.6", frame_wh=(960, 540), scale=3.0),        # 1.6 geometry
        dict(at=(25.0, 240.0)),                                     # off the left edge
        dict(at=(620.0, 470.0), angle=-9.0),                        # off the bottom-right corner
        dict(frame_wh=(333, 251), scale=1.1, at=(160.0, 20.0)),     # odd frame, off the top
        dict(crop_hw=(41, 31), scale=0.3),                          # tiny crop: stock's edge is 0
    ],
)
def test_matches_full_frame_reference(make_scene, stock_reference, rect_coverage, region_pixels, case):
    """Inside the generated region: stock's arithmetic. Outside it: the frame's own pixels,
    where stock resamples the original twice (frame → crop → frame) and so blurs it."""
    scene = make_scene(**case)
    got = stock_restorer(scene.inner).restore_img(scene.frame, scene.face, scene.affine)
    want = stock_reference(scene.frame, scene.face, scene.affine)
    diff = np.abs(got.astype(int) - want.astype(int))
    rect = rect_coverage(scene.frame.shape[:2], scene.affine, scene.face.shape[:2])
    outside = ~region_pixels(scene.frame.shape[:2], scene.affine, scene.inner, 1e-6)
    np.testing.assert_array_equal(got[outside], scene.frame[outside])
    # Outside the face's footprint stock darkens a one-pixel line (its feather leaks a pixel
    # past the right and bottom sides: by truncation only, or by up to a quarter when the crop
    # is tiny and the feather 1 pixel); this engine leaves the frame alone there.
    ring = cv2.dilate(rect.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    np.testing.assert_array_equal(want[~ring], scene.frame[~ring])
    generated = region_pixels(scene.frame.shape[:2], scene.affine, scene.inner, 1.0) & rect
    assert generated.sum() > 50
    # Averaged over the generated region only, not diluted by the untouched frame.
    assert diff[generated].mean() <= 1.0
    # Away from the rectangle's outermost pixels (where stock's white padding of the face
    # leaks in and this engine replicates the edge instead) it is the same arithmetic.
    inner_rect = cv2.erode(rect.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert (diff[inner_rect & generated] > 1).mean() < 0.001


def test_really_blends(make_scene, stock_reference):
    """Guard against a vacuous match: the paste-back changes the frame, and a shifted
    matrix gives a different result."""
    scene = make_scene()
    got = stock_restorer().restore_img(scene.frame, scene.face, scene.affine)
    assert np.abs(got.astype(int) - scene.frame).mean() > 0.2
    moved = scene.affine.copy()
    moved[:, 2] += 1.0
    other = stock_reference(scene.frame, scene.face, moved)
    assert np.abs(got.astype(int) - other).max() > 5


def test_feathering_recomposites_the_inner_edge(make_scene, region_pixels):
    """blur/erode > 0 soften the hard inner edge: just inside it, original content returns."""
    scene = make_scene()
    hard = stock_restorer(scene.inner).restore_img(scene.frame, scene.face, scene.affine)
    soft = Restorer("alpha", scene.inner, blur=6, erode=6).restore_img(scene.frame, scene.face, scene.affine)
    edge_band = scene.inner - cv2.erode(scene.inner, np.ones((9, 9), np.uint8))
    ring = region_pixels(scene.frame.shape[:2], scene.affine, edge_band, 0.99)
    core = region_pixels(scene.frame.shape[:2], scene.affine, cv2.erode(scene.inner, np.ones((41, 41), np.uint8)), 0.99)
    assert ring.sum() > 100 and core.sum() > 100
    err = lambda out, where: np.abs(out.astype(int) - scene.frame)[where].mean()  # noqa: E731
    assert err(soft, ring) < 0.5 * err(hard, ring)
    # Deep inside the generated region both paste the same generated pixels.
    assert abs(err(soft, core) - err(hard, core)) < 0.05


def test_paste_alpha_is_a_new_array(make_scene):
    scene = make_scene()
    before = scene.frame.copy()
    out = paste_alpha(scene.frame, scene.face, scene.affine)
    assert out is not scene.frame
    np.testing.assert_array_equal(scene.frame, before)
