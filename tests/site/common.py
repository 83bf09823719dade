"""Constants and helpers shared by the site tests."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

# The demo's dates lie in October and November 2026: build "as of" a fixed day after them.
TODAY = dt.date(2026, 11, 25)
EPISODES = ["ep01-hello", "ep02-the-seam", "ep03-rain"]


def override_template(project: Path, name: str) -> Path:
    """Copy the theme's template `name` into the project's templates/, to be edited there."""
    from pipeline.site.templates import THEME

    target = project / "templates" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(THEME / name, target)
    return target
