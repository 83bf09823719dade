"""Templates are a theme shipped with alpha; a project's templates/ overrides it file by file."""

from __future__ import annotations

import re
import shutil

from pipeline.site import templates as template_set
from pipeline.site.build import build_site
from tests.helpers import run_alpha
from tests.site.common import TODAY, override_template


def test_init_writes_no_copy_of_the_theme(tmp_path):
    result = run_alpha("init", str(tmp_path / "show"))
    assert result.exit_code == 0, result.stderr
    written = sorted(path.relative_to(tmp_path / "show" / "templates").as_posix()
                     for path in (tmp_path / "show" / "templates").rglob("*"))
    assert written == ["README.md"]
    assert "same relative path" in (tmp_path / "show" / "templates" / "README.md").read_text()


def test_one_overridden_template_and_stylesheet_leave_the_rest_to_the_theme(demo):
    page_404 = override_template(demo, "404.html")
    page_404.write_text(page_404.read_text().replace("<h1>Not found</h1>",
                                                     "<h1>Not found</h1><p>Our own 404</p>", 1))
    (demo / "templates" / "static").mkdir()
    (demo / "templates" / "static" / "style.css").write_text("body { color: #123456 }\n")
    build_site(demo, today=TODAY)
    site = demo / "site"
    assert "Our own 404" in (site / "404.html").read_text()
    catalog = (site / "index.html").read_text()
    assert "Our own 404" not in catalog
    stylesheet = re.search(r'href="(assets/style\.[0-9a-f]+\.css)"', catalog).group(1)
    assert (site / stylesheet).read_text() == "body { color: #123456 }\n"
    # The theme's other static files are still published.
    assert list((site / "assets").glob("favicon.*.svg"))


def test_a_theme_upgrade_reaches_a_project_that_overrides_nothing(demo, tmp_path, monkeypatch):
    build_site(demo, today=TODAY)
    before = (demo / "site" / "episodes" / "index.html").read_text()
    upgraded = tmp_path / "theme"
    shutil.copytree(template_set.THEME, upgraded)
    archive = upgraded / "archive.html"
    archive.write_text(archive.read_text().replace("<h1>All episodes</h1>",
                                                   "<h1>All episodes</h1><p>New in this release</p>", 1))
    monkeypatch.setattr(template_set, "THEME", upgraded)
    build_site(demo, today=TODAY)
    after = (demo / "site" / "episodes" / "index.html").read_text()
    assert "New in this release" not in before and "New in this release" in after
