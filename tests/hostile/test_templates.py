"""A template a user saved in another encoding is a message naming it, never a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_alpha


def test_a_template_that_is_not_utf8_names_itself(tmp_path: Path):
    root = tmp_path / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    for post in (root / "posts").glob("*.md"):  # they name renders this test does not make
        post.unlink()
    (root / "templates/base.html").write_bytes(b"\xff\xfe<html>{% block content %}{% endblock %}")
    result = run_alpha("-C", str(root), "build", "site")
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "templates/base.html: not UTF-8 text (byte 0" in message and "Traceback" not in message
    assert not (root / "site").exists()  # nothing half-built took the site's place
