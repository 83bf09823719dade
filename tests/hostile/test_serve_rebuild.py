"""Under `alpha serve`, a build that fails in a way nobody foresaw is shown (stderr and the
live-reload channel) and the next change is rebuilt."""

from __future__ import annotations

import pipeline.site.build as build_module
from pipeline.site.preview import Preview


def test_unexpected_build_error_is_reported_and_the_next_change_rebuilds(demo, monkeypatch, tmp_path):
    monkeypatch.setenv("ALPHA_CRASH_DIR", str(tmp_path / "crashes"))
    complaints: list[str] = []
    preview = Preview(demo, port=0, complain=complaints.append)
    try:
        real = build_module.build_site

        def broken(*args, **kwargs):  # fault injection: a bug inside the build
            raise KeyError("@@internal-marker@@")

        monkeypatch.setattr(build_module, "build_site", broken)
        assert preview.rebuild([str(demo / "posts")]) is False
        assert "the build failed: unexpected KeyError" in complaints[-1]
        assert preview.reloader.error and "KeyError" in preview.reloader.error
        monkeypatch.setattr(build_module, "build_site", real)
        assert preview.rebuild([str(demo / "posts")]) is True
        assert preview.builds == 1
    finally:
        preview.server.server_close()
