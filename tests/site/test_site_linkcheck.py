"""The link checker on hand-made pages: paths, folders, fragments, absolute site URLs."""

from __future__ import annotations

from pipeline.site.linkcheck import check_pages, links_and_ids

BASE = "https://example.org/series/"


def broken(pages: dict[str, str], extra: set[str] = frozenset()) -> list[str]:
    return [str(link) for link in check_pages(set(pages) | set(extra), BASE, pages)]


def test_links_are_read_from_attributes_not_text_scripts_or_comments():
    html = ("""<p id="top">x &lt;a href=&quot;text.html&quot;&gt;</p>
        <script>var a = '<a href="in-script.html">';</script><!-- <a href="c.html"> -->
        <img src='a.png' srcset="b.png 1x, c.png 2x" alt="">
        <a name=old href=bare.html>y</a>""")
    links, ids = links_and_ids(html)
    assert sorted(links) == [("href", "bare.html"), ("src", "a.png"), ("srcset", "b.png"), ("srcset", "c.png")]
    assert ids == {"top", "old"}


def test_relative_links_folders_and_fragments():
    pages = {
        "index.html": '<a href="blog/">b</a><a href="blog/post/#intro">p</a><a href="#main">m</a>'
                      '<main id="main"></main><a href="media/v.mp4">v</a><a href="mailto:a@b.c">e</a>'
                      '<a href="https://other.org/x">x</a><a href="?q=1">q</a>',
        "blog/index.html": '<a href="../">home</a><a href="post/">p</a><a href="./">self</a>',
        "blog/post/index.html": '<h2 id="intro">Intro</h2><a href="../../index.html#main">home</a>',
    }
    assert broken(pages, {"media/v.mp4"}) == []


def test_missing_files_fragments_and_escapes_are_reported_with_the_page():
    pages = {
        "index.html": '<a href="blog/">b</a><a href="#nope">n</a><img src="../../etc/passwd" alt="">',
        "blog/post/index.html": '<a href="../../episodes/ep09/">e</a><link rel="canonical" href="'
                                + BASE + 'blog/gone/"><a href="/series/blog/post/#x">x</a><p id="x"></p>'
                                '<a href="/elsewhere/">o</a>',
    }
    assert broken(pages) == [
        'index.html: href="blog/": blog/index.html is missing',
        'index.html: href="#nope": no id="nope" in index.html',
        'index.html: src="../../etc/passwd": points above the site\'s root',
        'blog/post/index.html: href="../../episodes/ep09/": episodes/ep09/index.html is missing',
        f'blog/post/index.html: href="{BASE}blog/gone/": blog/gone/index.html is missing',
        "blog/post/index.html: href=\"/elsewhere/\": outside the site's path /series/",
    ]


def test_feed_and_sitemap_links_under_the_site_url_are_checked():
    pages = {
        "index.html": "<p>home</p>",
        "sitemap.xml": f"<urlset><url><loc>{BASE}</loc></url><url><loc>{BASE}gone/</loc></url></urlset>",
        "feed.xml": f'<feed><id>{BASE}</id><link rel="alternate" href="{BASE}"/>'
                    f'<link rel="enclosure" href="{BASE}media/x.mp4"/><link href="https://else.org/"/></feed>',
    }
    assert broken(pages) == [
        f'sitemap.xml: link="{BASE}gone/": gone/index.html is missing',
        f'feed.xml: link="{BASE}media/x.mp4": media/x.mp4 is missing',
    ]
