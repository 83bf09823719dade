"""Fixtures for the site tests: a demo project initialised and rendered once, copied per test.

Rendering is real (ffmpeg, the demo's media): ep02 uses the `preview` lip-sync backend, so it
has face crops, before/after comparisons and quality figures; the others use `none` (no
figures, full frames only), which keeps the one render at about 15 s.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tests.helpers import run_alpha
from tests.site.common import TODAY

_RENDERED: dict[str, Path] = {}
_LOCK = threading.Lock()


def _render_once(factory) -> Path:
    with _LOCK:
        if "demo" not in _RENDERED:
            root = factory.mktemp("site-demo") / "demo"
            result = run_alpha("init", str(root))
            assert result.exit_code == 0, result.stderr
            config = root / "alpha.yaml"
            config.write_text(config.read_text().replace("backend: preview", "backend: none"))
            episode = root / "episodes" / "ep02-the-seam.yaml"
            episode.write_text(episode.read_text() + "lipsync:\n  backend: preview\n")
            result = run_alpha("-C", str(root), "render")
            assert result.exit_code == 0, result.stderr
            _RENDERED["demo"] = root
        return _RENDERED["demo"]


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


@pytest.fixture(scope="module")
def rendered_demo(tmp_path_factory) -> Path:
    """The demo project, initialised and rendered (once per session), copied for this module."""
    source = _render_once(tmp_path_factory)
    return copy_project(source, tmp_path_factory.mktemp("module") / "demo")


@pytest.fixture
def demo(rendered_demo, tmp_path) -> Path:
    """A private copy of the rendered demo, for tests that change it."""
    return copy_project(rendered_demo, tmp_path / "demo")


@pytest.fixture(scope="module")
def built_demo(rendered_demo) -> Path:
    """The module's rendered demo with its site built (no drafts)."""
    from pipeline.site.build import build_site

    build_site(rendered_demo, today=TODAY)
    return rendered_demo
