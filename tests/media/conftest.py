"""Fixtures: small real media files shared by the tests of this package."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from .samples import write_numbered_video


@pytest.fixture(scope="session")
def numbered_video(tmp_path_factory) -> Path:
    """40 numbered frames at 25 fps (1.6 s), 64×48."""
    return write_numbered_video(tmp_path_factory.mktemp("media") / "numbered.mp4", 40)


@pytest.fixture(scope="session")
def image(tmp_path_factory) -> Path:
    """An odd-sized (81×61) PNG, a gradient with a red left half."""
    rgb = np.zeros((61, 81, 3), np.uint8)
    rgb[..., 1] = np.linspace(0, 255, 81, dtype=np.uint8)[None, :]
    rgb[:, :40, 0] = 255
    path = tmp_path_factory.mktemp("media") / "still.png"
    cv2.imwrite(str(path), rgb[..., ::-1])
    return path
