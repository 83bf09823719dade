"""Tags and slugs in any script: transliterated ASCII slugs; spellings of one tag are one tag."""

from __future__ import annotations

import re

from tests.helpers import run_alpha, write


def _set_tags(demo, episode: str, tags: str) -> None:
    path = demo / "episodes" / f"{episode}.yaml"
    path.write_text(re.sub(r"^tags: .*$", f"tags: {tags}", path.read_text(), count=1, flags=re.M))


def test_cyrillic_and_accented_tags_and_post_names_get_readable_slugs(demo):
    _set_tags(demo, "ep01-hello", "[Привет мир, Café crème]")
    write(demo / "posts" / "2026-11-02-первый-выпуск.md", """
        ---
        title: Первый выпуск
        tags: [привет МИР]
        ---
        ## Как это сделано

        [тег](tag:Привет мир)
        """)
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 0, result.stderr
    site = demo / "site"
    tag_page = (site / "tags" / "privet-mir" / "index.html").read_text()
    assert "#Привет мир" in tag_page and "Первый выпуск" in tag_page and "Hello, world" in tag_page
    assert (site / "tags" / "cafe-creme" / "index.html").is_file()
    post = (site / "blog" / "pervyi-vypusk" / "index.html").read_text()
    assert 'id="kak-eto-sdelano"' in post
    assert 'href="../../tags/privet-mir/"' in post


def test_tags_differing_in_case_or_punctuation_are_one_tag_with_one_badge(demo):
    _set_tags(demo, "ep01-hello", "[Restore, restore!]")
    _set_tags(demo, "ep03-rain", "[re-store]")
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 0, result.stderr
    assert "differ only in case or punctuation are one tag, shown as #restore" in result.stderr
    assert "'Restore' in episode ep01-hello" in result.stderr
    site = demo / "site"
    assert sorted(path.name for path in (site / "tags").iterdir() if path.is_dir() and "store" in path.name) \
        == ["restore"]
    episode = (site / "episodes" / "ep01-hello" / "index.html").read_text()
    badge_list = re.search(r'<ul class="tags" aria-label="Tags">(.*?)</ul>', episode, re.S).group(1)
    badges = re.findall(r'<a href="[^"]*tags/[^"]*/">#([^<]*)</a>', badge_list)
    assert badges == ["restore"]
    cloud = (site / "tags" / "index.html").read_text()
    assert cloud.count(">#restore<") == 1 and "#Restore" not in cloud and "#re-store" not in cloud
    # the demo post tagged "restore" and the three episode spellings all land on one page
    tag_page = (site / "tags" / "restore" / "index.html").read_text()
    assert "Hello, world" in tag_page and "Rain on the window" in tag_page and "Where the rectangle" in tag_page


def test_a_tag_without_letters_or_digits_is_refused_at_its_line(demo):
    _set_tags(demo, "ep01-hello", '["🙂"]')
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 2
    assert "episodes/ep01-hello.yaml:4" in result.stderr and "no letters or digits" in result.stderr
    assert "Traceback" not in result.stderr
