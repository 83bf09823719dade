"""Constants shared by the site tests."""

from __future__ import annotations

import datetime as dt

# The demo's dates lie in October and November 2026: build "as of" a fixed day after them.
TODAY = dt.date(2026, 11, 25)
EPISODES = ["ep01-hello", "ep02-the-seam", "ep03-rain"]
