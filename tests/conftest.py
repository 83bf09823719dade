"""Shared fixtures: real projects on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write


@pytest.fixture
def bare_project(tmp_path: Path) -> Path:
    """A minimal valid project whose media files are placeholders (enough to plan, not render)."""
    for name in ["media/face.jpg", "media/v1.wav", "media/v2.wav", "media/rain.wav"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode() * 100)
    write(tmp_path / "alpha.yaml", """
        name: Test
        fixes:
          - id: TASK-101
            layer: restore
            title: Poisson paste-back
            settings: {restore.blend: poisson}
        defaults:
          lipsync: {backend: preview}
          restore: {blend: alpha, blur: 3}
    """)
    write(tmp_path / "episodes/ep01.yaml", """
        title: One
        date: 2026-01-01
        source: {image: media/face.jpg}
        audio:
          voice: media/v1.wav
          foley:
            - {path: media/rain.wav, gain_db: -20}
    """)
    write(tmp_path / "episodes/ep02.yaml", """
        title: Two
        date: 2026-01-02
        source: {image: media/face.jpg}
        audio: {voice: media/v2.wav}
        fixes: [TASK-101]
    """)
    return tmp_path
