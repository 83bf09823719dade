"""The demo portrait shipped with the package."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def write_portrait(out_path: str | os.PathLike) -> None:
    """Copy the bundled public-domain NASA portrait (JPEG, 512×512) to `out_path`."""
    data = resources.files(__package__).joinpath("assets", "portrait.jpg").read_bytes()
    Path(out_path).write_bytes(data)
