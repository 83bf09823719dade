"""No text a user can type collides with the build's internal markers (issue 12, build side).

Before the fix, a post holding the text of a shortcode token crashed the build with a KeyError,
and a title holding the build-id marker was replaced by the build id.
"""

from __future__ import annotations

import json
import re

import feedparser

from tests.helpers import run_alpha, write

BUILD_MARKER = "\ue001alpha-build\ue001"
ROOT_MARKER = "\ue000"


def test_marker_text_in_posts_and_titles_is_published_as_typed(demo):
    write(demo / "posts" / "2026-11-03-markers.md", f"""
        ---
        title: "Markers {BUILD_MARKER}"
        ---
        Tokens: ALPHASC0Z, ALPHASC7Z and &#65;LPHASC1Z, beside a badge {{{{< fix TASK-101 >}}}}.

        Markers: {ROOT_MARKER}root and {BUILD_MARKER} and `ALPHASC3Z` in code.

        {{{{< episode ep01-hello >}}}}
        """)
    episode = demo / "episodes" / "ep03-rain.yaml"
    episode.write_text(episode.read_text().replace("title: Rain on the window",
                                                   f'title: "Rain {ROOT_MARKER}{BUILD_MARKER}"'))
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 0, result.stderr
    site = demo / "site"
    build_id = json.loads((site / "build.json").read_text())["build_id"]
    post = (site / "blog" / "markers" / "index.html").read_text()
    assert "ALPHASC0Z, ALPHASC7Z and ALPHASC1Z" in post and "<code>ALPHASC3Z</code>" in post
    assert 'href="../../fixes/#TASK-101"' in post and "Hello, world" in post  # real shortcodes still work
    assert "&#xE000;root and &#xE001;alpha-build&#xE001;" in post
    assert ROOT_MARKER not in post and "\ue001" not in post
    assert post.count(build_id) == 1 and f'<meta name="alpha-build" content="{build_id}">' in post
    page = (site / "episodes" / "ep03-rain" / "index.html").read_text()
    assert "Rain &#xE000;&#xE001;alpha-build&#xE001;" in page
    assert page.count(build_id) == 1
    jsonld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert jsonld["name"] == f"Rain {ROOT_MARKER}{BUILD_MARKER}"
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert not feed.bozo
    titles = {entry.title for entry in feed.entries}
    assert f"Rain {ROOT_MARKER}{BUILD_MARKER}" in titles and f"Markers {BUILD_MARKER}" in titles
