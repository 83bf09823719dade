"""The seam heat map of the zoomed proofs: a 2-level colour step must be plain to see."""

from __future__ import annotations

import numpy as np

from pipeline.restore.quality import SEAM_HEAT_SCALE, heat_scale_bar, seam_heat, worst_frame


def test_a_two_level_step_is_a_clearly_different_colour():
    original = np.full((40, 40, 3), 128, np.uint8)
    final = original.copy()
    final[:, 20:] += 2  # the paste-back left a 2 grey-level step at column 20
    heat = seam_heat(final, original).astype(int)
    untouched, stepped = heat[:, :20].reshape(-1, 3), heat[:, 20:].reshape(-1, 3)
    assert (untouched == untouched[0]).all() and (stepped == stepped[0]).all()
    assert np.abs(stepped[0] - untouched[0]).sum() > 100  # RGB distance: not a subtle shade
    # One grey level less is still told apart from the 2-level step.
    final_1 = original.copy()
    final_1[:, 20:] += 1
    assert np.abs(seam_heat(final_1, original)[0, 30].astype(int) - stepped[0]).sum() > 40


def test_the_scale_bar_runs_from_the_top_of_the_scale_to_zero():
    bar = heat_scale_bar(100, 10)
    top = seam_heat(np.full((1, 1, 3), int(SEAM_HEAT_SCALE), np.uint8), np.zeros((1, 1, 3), np.uint8))[0, 0]
    bottom = seam_heat(np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1, 3), np.uint8))[0, 0]
    assert (bar[0, 0] == top).all() and (bar[-1, 0] == bottom).all()


def test_worst_frame_skips_frames_without_a_figure():
    assert worst_frame(np.array([np.nan, 0.3, 2.5, np.nan, 1.0])) == 2
    assert worst_frame(np.array([np.nan, np.nan])) is None
