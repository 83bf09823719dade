"""Blog posts: front matter, shortcodes and reference links, and their errors (file:line)."""

from __future__ import annotations

import pytest

from pipeline.errors import UserError
from pipeline.site.build import build_site
from tests.helpers import write
from tests.site.common import TODAY


def build_error(root) -> str:
    with pytest.raises(UserError) as caught:
        build_site(root, today=TODAY)
    return str(caught.value)


def post_html(root, slug: str) -> str:
    return (root / "site" / "blog" / slug / "index.html").read_text()


def test_demo_posts_embed_videos_proofs_and_badges(built_demo):
    welcome = post_html(built_demo, "welcome")
    assert '<figure class="embed embed-video">' in welcome
    assert '<source src="../../media/' in welcome
    assert "The stock paste-back, five seconds in" in welcome
    assert 'href="../../fixes/#TASK-101"' in welcome
    seam = post_html(built_demo, "the-seam")
    assert seam.count('class="badge layer-restore"') >= 2
    assert "Face crop" in seam and "Before / after" in seam  # @3s: every kind at 3 s
    assert 'href="../../episodes/ep02-the-seam/"' in seam
    # Related episodes are listed under the post and the post on the episode's page.
    episode = (built_demo / "site" / "episodes" / "ep02-the-seam" / "index.html").read_text()
    assert 'href="../../blog/the-seam/"' in episode


def test_shortcodes_in_code_are_left_as_text(demo):
    write(demo / "posts" / "2026-11-03-howto.md", """
        ---
        title: How to embed
        date: 2026-11-03
        ---
        Write `{{< video ep01-hello >}}` on a line of its own:

        ```markdown
        {{< video no-such-episode >}}
        ```

        [Hello](episode:ep01-hello#fix-stack), [the welcome post](post:welcome),
        [everything about restoring](tag:restore) and [a fix](fix:TASK-099).
    """)
    build_site(demo, today=TODAY)
    html = post_html(demo, "howto")
    assert "<code>{{&lt; video ep01-hello &gt;}}</code>" in html
    assert "{{&lt; video no-such-episode &gt;}}" in html
    assert 'href="../../episodes/ep01-hello/#fix-stack"' in html
    assert 'href="../../blog/welcome/"' in html
    assert 'href="../../tags/restore/"' in html
    assert 'href="../../fixes/#TASK-099"' in html


@pytest.mark.parametrize("body, line, expected", [
    ("Text.\n\n{{< proof ep01-hello face@5s >}}\n", 7, "has no proof 'face@5s' (available: frame@2s, frame@5s)"),
    ("Text.\n\n{{< gallery ep01-hello >}}\n", 7, "unknown shortcode 'gallery'"),
    ("See {{< video ep01-hello >}} here.\n", 5, "must stand on a line of its own"),
    ("Text.\n\n{{< video >}}\n", 7, "expected {{< video EPISODE >}}"),
    ("One.\n\nTwo [x](episode:ep09) three.\n", 7, "episode:ep09: unknown episode 'ep09'"),
    ("Text.\n\n{{< fix TASK-100 >}}\n", 7, "unknown fix 'TASK-100'"),
    ("[x](post:nope)\n", 5, "no published post with the slug 'nope'"),
])
def test_bad_references_fail_naming_file_and_line(demo, body, line, expected):
    (demo / "posts" / "2026-11-04-bad.md").write_text(
        "---\ntitle: Bad\ndate: 2026-11-04\n---\n" + body)
    message = build_error(demo)
    assert f"posts/2026-11-04-bad.md:{line}:" in message
    assert expected in message


@pytest.mark.parametrize("front, line, expected", [
    ("title: T\ndate: 2026-11-04\ncolour: red\n", 4, "colour: unknown key"),
    ("title: T\ndate: 2026-11-04\nfixes: [TASK-099, TASK-999]\n", 4, "fixes[1]: unknown fix 'TASK-999'"),
    ("title: T\ndate: 2026-11-04\nepisodes:\n  - ep01-hello\n  - ep07\n", 6, "episodes[1]: unknown episode 'ep07'"),
    ("title: T\ndate: [oops\n", 4, "invalid YAML"),
    ("title: T\ndate: 2026-11-04\ndraft: maybe\n", 4, "draft"),
])
def test_bad_front_matter_names_file_line_and_key(demo, front, line, expected):
    (demo / "posts" / "2026-11-04-bad.md").write_text(f"---\n{front}---\nBody.\n")
    message = build_error(demo)
    assert f"posts/2026-11-04-bad.md:{line}:" in message
    assert expected in message


def test_front_matter_is_required_and_slugs_are_unique(demo):
    (demo / "posts" / "loose.md").write_text("Just text.\n")
    message = build_error(demo)
    assert "posts/loose.md:1: a post starts with front matter" in message
    (demo / "posts" / "loose.md").write_text("---\ntitle: Again\ndate: 2026-11-01\nslug: welcome\n---\nx\n")
    message = build_error(demo)
    assert "posts/loose.md:4: slug: 'welcome' is also the slug of posts/2026-10-03-welcome.md" in message


def test_date_comes_from_the_file_name_when_front_matter_has_none(demo):
    write(demo / "posts" / "2026-11-05-undated.md", """
        ---
        title: Dated by its name
        ---
        Body.
    """)
    build_site(demo, today=TODAY)
    html = post_html(demo, "undated")
    assert '<time datetime="2026-11-05T00:00:00Z">5 November 2026</time>' in html
