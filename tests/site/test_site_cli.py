"""`alpha build site` and `alpha serve` through the real command line (once wired in cli.py)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_alpha, write
from tests.site.common import override_template


def wired(*names: str) -> bool:
    from pipeline.cli import app

    known = {command.name or command.callback.__name__ for command in app.registered_commands}
    known |= {group.name for group in app.registered_groups}
    return all(name in known for name in names)


pytestmark = pytest.mark.skipif(not wired("build", "serve"),
                                reason="`alpha build site` / `alpha serve` are not wired into pipeline/cli.py yet")


def test_build_site_exit_codes(demo):
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 0, result.stderr
    assert "built" in result.stderr and result.stdout == ""
    record = json.loads((demo / "site" / "build.json").read_text())
    assert record["drafts"] is False

    result = run_alpha("-C", str(demo), "build", "site", "--drafts")
    assert result.exit_code == 0 and json.loads((demo / "site" / "build.json").read_text())["drafts"] is True

    write(demo / "posts" / "2026-11-09-bad.md", """
        ---
        title: Bad
        date: 2026-11-09
        ---
        {{< video ep99 >}}
    """)
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 2
    assert "posts/2026-11-09-bad.md:5" in result.stderr
    (demo / "posts" / "2026-11-09-bad.md").unlink()

    template = override_template(demo, "tags.html")
    template.write_text(template.read_text().replace("<h1>Tags</h1>", '<h1>Tags</h1><a href="{{ root }}gone/">x</a>'))
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 1
    assert "tags/index.html" in result.stderr and "gone/index.html is missing" in result.stderr


def test_serve_help_lists_its_options():
    result = run_alpha("serve", "--help")
    assert result.exit_code == 0
    assert "--port" in result.stdout and "--drafts" in result.stdout
