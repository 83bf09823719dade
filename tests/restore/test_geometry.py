import cv2
import numpy as np
import pytest

from pipeline.restore import inner_mask_from_latentsync_png, latentsync_template, similarity_from_points
from pipeline.restore import synthetic_inner_mask
from pipeline.restore.geometry import crop_region, shift_affine


@pytest.mark.parametrize("version, size, brow_gap", [("1.5", (210, 280), 41 * 2.8), ("1.6", (420, 560), 41 * 5.6)])
def test_latentsync_template_sizes(version, size, brow_gap):
    template, crop_wh = latentsync_template(version)
    assert crop_wh == size
    assert template.shape == (3, 2)
    assert template[1, 0] - template[0, 0] == pytest.approx(brow_gap)
    # Eyebrows level, nose centred between them and below.
    assert template[0, 1] == template[1, 1]
    assert template[2, 0] == pytest.approx(template[:2, 0].mean())
    assert template[2, 1] > template[0, 1]


def test_latentsync_template_rejects_unknown_version():
    with pytest.raises(ValueError, match="1.5"):
        latentsync_template("2.0")


def test_similarity_recovers_a_known_transform():
    template, _ = latentsync_template("1.6")
    truth = cv2.getRotationMatrix2D((300.0, 200.0), 17.0, 1.7)
    truth[:, 2] += (12.5, -40.25)
    # Landmarks in the frame that the true frame→crop matrix sends onto the template.
    landmarks = (template - truth[:, 2]) @ np.linalg.inv(truth[:, :2]).T
    got = similarity_from_points(landmarks, template)
    np.testing.assert_allclose(got, truth, atol=1e-9)


def test_similarity_never_reflects():
    template, _ = latentsync_template("1.5")
    mirrored = template * np.array([-1.0, 1.0])
    got = similarity_from_points(mirrored, template)
    assert np.linalg.det(got[:, :2]) > 0


def test_similarity_rejects_degenerate_points():
    with pytest.raises(ValueError, match="identical"):
        similarity_from_points(np.ones((3, 2)), latentsync_template("1.6")[0])
    with pytest.raises(ValueError, match="N×2"):
        similarity_from_points(np.ones((3, 3)), np.ones((3, 3)))


def test_inner_mask_inverts_and_resizes():
    png = np.full((256, 256), 255, np.uint8)
    png[128:, 40:200] = 0  # black = generated in LatentSync's convention
    mask = inner_mask_from_latentsync_png(png, (560, 420))
    assert mask.shape == (560, 420) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert mask[400, 210] == 1.0 and mask[100, 210] == 0.0 and mask[400, 20] == 0.0
    assert mask[:270].max() == 0.0


def test_inner_mask_rejects_colour_input():
    with pytest.raises(ValueError, match="2-D uint8"):
        inner_mask_from_latentsync_png(np.zeros((8, 8, 3), np.uint8), (16, 12))
    with pytest.raises(ValueError, match="crop_hw"):
        inner_mask_from_latentsync_png(np.zeros((8, 8), np.uint8), (0, 12))


def test_real_mask_png_geometry(mask_png):
    mask = inner_mask_from_latentsync_png(mask_png, (560, 420))
    generated = mask >= 0.5
    assert 0.38 < generated.mean() < 0.43
    rows, cols = np.nonzero(generated)
    # Reaches within 9/256 of the crop's sides and starts at 95/256 of its height.
    assert cols.min() <= 420 * 10 / 256 and cols.max() >= 420 * 246 / 256
    assert abs(rows.min() - 560 * 95 / 256) <= 3


def test_synthetic_mask_matches_real_mask(mask_png):
    real = inner_mask_from_latentsync_png(mask_png, (280, 210)) >= 0.5
    synthetic = synthetic_inner_mask((280, 210)) >= 0.5
    iou = (real & synthetic).sum() / (real | synthetic).sum()
    assert iou > 0.9


def test_crop_region_covers_every_touched_pixel():
    affine = cv2.getRotationMatrix2D((100.0, 80.0), 23.0, 1.3)
    affine[:, 2] += (-40.0, -10.0)
    crop_hw, frame_hw = (70, 50), (240, 320)
    touched = cv2.warpAffine(np.ones(crop_hw, np.float32), cv2.invertAffineTransform(affine),
                             (frame_hw[1], frame_hw[0]), flags=cv2.INTER_LINEAR) > 0
    x0, y0, x1, y1 = crop_region(affine, crop_hw, frame_hw, margin=0)
    rows, cols = np.nonzero(touched)
    assert x0 <= cols.min() and cols.max() < x1 and y0 <= rows.min() and rows.max() < y1
    assert (x1 - x0) * (y1 - y0) < 2 * touched.sum()


def test_crop_region_outside_frame_is_none():
    affine = np.array([[1.0, 0.0, 5000.0], [0.0, 1.0, 0.0]])
    assert crop_region(affine, (50, 40), (100, 100)) is None


def test_shift_affine_moves_the_origin():
    affine = cv2.getRotationMatrix2D((0.0, 0.0), 30.0, 2.0)
    shifted = shift_affine(affine, 7.0, -3.0)
    np.testing.assert_allclose(shifted @ [1.0, 2.0, 1.0], affine @ [8.0, -1.0, 1.0])
