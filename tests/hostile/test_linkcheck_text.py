"""Escaped text that looks like HTML is text, not a link."""

from __future__ import annotations

from pipeline.site.linkcheck import check_pages, links_and_ids

PAGE = """<!doctype html><html><body>
<h1 id="top">A title with &lt;img src=x&gt; in it</h1>
<p>Write <code>&lt;a href="nowhere.html"&gt;</code> or <code>&lt;a href=nowhere&gt;</code>.</p>
<img alt="a src=elsewhere.png" src="real.png">
<a href='single.html'>one</a> <a href=bare.html>two</a>
</body></html>"""


def test_escaped_html_in_text_and_attribute_values_is_not_a_link():
    links, ids = links_and_ids(PAGE)
    assert set(links) == {("src", "real.png"), ("href", "single.html"), ("href", "bare.html")}
    assert ids == {"top"}


def test_a_page_with_escaped_html_checks_clean():
    files = {"index.html", "real.png", "single.html", "bare.html"}
    assert check_pages(files, "https://example.org/", {"index.html": PAGE}) == []
