"""The alignment track file: what the backends write and the restore stage reads (numpy only,
so it also runs on LatentSync's Python 3.10 / numpy 1.26)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.restore import Track, read_track, synthetic_inner_mask, write_track


def test_a_track_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(1)
    affines = rng.normal(size=(4, 2, 3))
    affines[2] = 0
    track = Track(affines=affines, found=np.array([True, True, False, True]),
                  detected=np.array([True, False, False, True]), shot=np.array([0, 0, 0, 1], np.int32),
                  fps=25.0, crop_size=(42, 56), inner_mask=synthetic_inner_mask((56, 42)))
    path = str(tmp_path / "track.npz")
    write_track(path, track)
    back = read_track(path)
    assert np.array_equal(back.affines, affines) and back.affines.dtype == np.float64  # matrices exactly
    assert back.found.tolist() == [True, True, False, True] and back.detected.tolist() == [True, False, False, True]
    assert back.shot.tolist() == [0, 0, 0, 1] and back.fps == 25.0 and back.crop_size == (42, 56)
    assert np.array_equal(back.inner_mask, track.inner_mask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["track.npz"]  # no temporary left


def test_an_older_track_without_shots_is_one_shot(tmp_path):
    path = tmp_path / "old.npz"
    with open(path, "wb") as stream:
        np.savez_compressed(stream, affines=np.zeros((3, 2, 3), np.float32), found=np.zeros(3, bool),
                            detected=np.zeros(3, bool), fps=np.float32(25), crop_size=np.array((0, 0)))
    track = read_track(str(path))
    assert track.shot.tolist() == [0, 0, 0] and track.inner_mask is None and track.frames == 3


def test_a_mask_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="inner_mask is"):
        Track(affines=np.zeros((1, 2, 3)), found=np.ones(1, bool), detected=np.ones(1, bool),
              shot=np.zeros(1, np.int32), fps=25.0, crop_size=(42, 56), inner_mask=np.ones((42, 56), np.float32))
