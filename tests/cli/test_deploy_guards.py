"""`alpha deploy` on the rendered demo: drafts never go live by accident, and site/ is current.

Real render (`none` backend, real ffmpeg), real site build, a real local deploy target.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import run_alpha


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("guards") / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: preview", "backend: none"))
    result = run_alpha("-C", str(root), "render")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture
def show(rendered, tmp_path) -> Path:
    return Path(shutil.copytree(rendered, tmp_path / "show", symlinks=True))


def alpha(root: Path, *args: str):
    return run_alpha("-C", str(root), *args)


def live(root: Path) -> Path:
    return root / ".alpha/www/current"


def test_a_drafts_build_is_refused_unless_allowed(show):
    assert alpha(show, "build", "site", "--drafts").exit_code == 0
    assert "Disallow: /" in (show / "site/robots.txt").read_text()
    result = alpha(show, "deploy")
    assert result.exit_code == 2
    assert "site/build.json: site/ is a drafts build" in result.stderr
    assert "alpha deploy --allow-drafts" in result.stderr and "Traceback" not in result.stderr
    assert not live(show).exists()
    result = alpha(show, "deploy", "--allow-drafts")
    assert result.exit_code == 0, result.stderr
    assert "Disallow: /" in (live(show) / "robots.txt").read_text()
    assert json.loads((live(show) / "build.json").read_text())["drafts"] is True


def test_deploy_rebuilds_a_site_whose_inputs_changed_naming_them(show):
    assert alpha(show, "build", "site").exit_code == 0
    assert alpha(show, "deploy").exit_code == 0
    post = show / "posts/2026-10-03-welcome.md"
    post.write_text(post.read_text() + "\nA line added after the build.\n")
    built = (show / "site/build.json").read_text()
    result = alpha(show, "deploy", "--dry-run")
    assert result.exit_code == 0
    assert "site/ is out of date (posts/2026-10-03-welcome.md changed)" in result.stderr
    assert (show / "site/build.json").read_text() == built  # a dry run writes nothing
    result = alpha(show, "deploy")
    assert result.exit_code == 0, result.stderr
    assert "site/ is out of date (posts/2026-10-03-welcome.md changed): rebuilding it first" in result.stderr
    assert "nothing to deploy" not in result.stderr
    pages = [p for p in live(show).rglob("*.html") if "A line added after the build." in p.read_text()]
    assert pages, "the edited post did not go live"
    assert json.loads((live(show) / "build.json").read_text()) == json.loads((show / "site/build.json").read_text())
    # Current now: nothing rebuilt, nothing to deploy.
    result = alpha(show, "deploy")
    assert result.exit_code == 0 and "out of date" not in result.stderr and "nothing to deploy" in result.stderr


def test_a_rerender_makes_site_stale_too(show):
    assert alpha(show, "build", "site").exit_code == 0
    episode = show / "episodes/ep03-rain.yaml"
    episode.write_text(episode.read_text().replace("title: Rain on the window", "title: Rain, again"))
    result = alpha(show, "deploy")
    assert result.exit_code == 0, result.stderr
    assert "episodes/ep03-rain.yaml changed" in result.stderr
    assert "Rain, again" in (live(show) / "episodes/ep03-rain/index.html").read_text()
