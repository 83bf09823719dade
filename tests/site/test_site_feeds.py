"""Feeds, sitemap and metadata, read by real clients: feedparser, xml.etree, json."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import feedparser

from pipeline.demo import synth_speech
from pipeline.site.build import build_site
from tests.helpers import run_alpha
from tests.site.common import TODAY

SITE_URL = "https://alpha.example.org/"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
VIDEO = "{http://www.google.com/schemas/sitemap-video/1.1}"


def parse_feed(root, name: str = "feed.xml"):
    feed = feedparser.parse((root / "site" / name).read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def test_atom_feed_parses_cleanly_with_absolute_links(built_demo):
    feed = parse_feed(built_demo)
    assert feed.version == "atom10"
    assert feed.feed.title == "Alpha — a talking-avatar series"
    ids = [entry.id for entry in feed.entries]
    assert len(ids) == len(set(ids)) == 5  # three episodes, two published posts
    assert f"{SITE_URL}episodes/ep02-the-seam/" in ids
    assert f"{SITE_URL}blog/the-seam/" in ids
    episode = next(entry for entry in feed.entries if entry.id.endswith("ep02-the-seam/"))
    enclosure = episode.enclosures[0]
    assert enclosure.type == "video/mp4" and int(enclosure.length) > 1000
    assert re.fullmatch(rf"{SITE_URL}media/[0-9a-f]{{16}}\.mp4", enclosure.href)
    post = next(entry for entry in feed.entries if entry.id.endswith("blog/the-seam/"))
    html = post.content[0].value
    assert 'href="../' not in html and "\ue000" not in html
    assert f'src="{SITE_URL}media/' in html  # the embedded proof image, absolute
    assert post.published_parsed[:3] == (2026, 10, 17)


def test_rss_feed_has_the_atom_entries_with_video_enclosures(built_demo):
    rss = parse_feed(built_demo, "rss.xml")
    atom = parse_feed(built_demo)
    assert rss.version == "rss20"
    assert rss.feed.title == atom.feed.title and rss.feed.link == SITE_URL
    assert [entry.id for entry in rss.entries] == [entry.id for entry in atom.entries]
    guids = ET.parse(built_demo / "site" / "rss.xml").getroot().iter("guid")
    assert all(guid.get("isPermaLink") == "true" for guid in guids)  # the id is the page
    by_id = {entry.id: entry for entry in atom.entries}
    for entry in rss.entries:
        assert entry.link == entry.id
        assert entry.published_parsed == by_id[entry.id].published_parsed
    episode = next(entry for entry in rss.entries if entry.id.endswith("episodes/ep02-the-seam/"))
    enclosure = episode.enclosures[0]
    assert enclosure.type == "video/mp4"
    assert enclosure.href == by_id[episode.id].enclosures[0].href
    video = built_demo / "site" / enclosure.href.removeprefix(SITE_URL)
    assert int(enclosure.length) == video.stat().st_size
    post = next(entry for entry in rss.entries if entry.id.endswith("blog/the-seam/"))
    assert f'src="{SITE_URL}media/' in post.description and "\ue000" not in post.description
    assert {tag.term for tag in post.tags} == {"fixes", "restore"}
    catalog = (built_demo / "site" / "index.html").read_text()
    assert '<link rel="alternate" type="application/rss+xml"' in catalog and 'href="rss.xml"' in catalog


def test_feed_ids_are_stable_across_rebuilds_and_rerenders(demo):
    build_site(demo, today=TODAY)
    first = {entry.id: entry for entry in parse_feed(demo).entries}
    build_site(demo, today=TODAY)
    assert [entry.id for entry in parse_feed(demo).entries] == list(first)
    synth_speech(demo / "media" / "ep01-voice.wav", seconds=6.0, seed=5)
    assert run_alpha("-C", str(demo), "render", "ep01-hello").exit_code == 0
    build_site(demo, today=TODAY)
    second = {entry.id: entry for entry in parse_feed(demo).entries}
    assert list(second) == list(first)
    assert [entry.id for entry in parse_feed(demo, "rss.xml").entries] == list(first)
    changed = f"{SITE_URL}episodes/ep01-hello/"
    assert second[changed].enclosures[0].href != first[changed].enclosures[0].href
    assert second[changed].updated_parsed >= first[changed].updated_parsed


def test_sitemap_parses_with_the_video_extension(built_demo):
    tree = ET.parse(built_demo / "site" / "sitemap.xml")
    urls = tree.getroot().findall(f"{SITEMAP}url")
    locs = [url.find(f"{SITEMAP}loc").text for url in urls]
    assert all(loc.startswith(SITE_URL) for loc in locs)
    assert SITE_URL in locs and f"{SITE_URL}blog/welcome/" in locs
    videos = {url.find(f"{SITEMAP}loc").text: url.find(f"{VIDEO}video") for url in urls
              if url.find(f"{VIDEO}video") is not None}
    assert len(videos) == 3
    video = videos[f"{SITE_URL}episodes/ep02-the-seam/"]
    assert video.find(f"{VIDEO}title").text == "The seam"
    assert video.find(f"{VIDEO}content_loc").text.startswith(f"{SITE_URL}media/")
    assert video.find(f"{VIDEO}thumbnail_loc").text.endswith(".jpg")
    assert video.find(f"{VIDEO}duration").text == "9"  # 8.5 s of voice, rounded
    assert video.find(f"{VIDEO}publication_date").text.startswith("2026-10-16")
    robots = (built_demo / "site" / "robots.txt").read_text()
    assert f"Sitemap: {SITE_URL}sitemap.xml" in robots


def test_episode_page_open_graph_and_video_object(built_demo):
    html = (built_demo / "site" / "episodes" / "ep02-the-seam" / "index.html").read_text()
    meta = dict(re.findall(r'<meta property="([^"]+)" content="([^"]*)"', html))
    assert meta["og:type"] == "video.episode"
    assert re.fullmatch(rf"{SITE_URL}media/[0-9a-f]{{16}}\.mp4", meta["og:video"])
    assert re.fullmatch(rf"{SITE_URL}media/[0-9a-f]{{16}}\.jpg", meta["og:image"])
    assert meta["og:url"] == f"{SITE_URL}episodes/ep02-the-seam/"
    block = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    data = json.loads(block)
    assert data["@type"] == "VideoObject"
    assert data["name"] == "The seam"
    assert data["description"].startswith("Why the mouth showed a rectangle")
    assert data["contentUrl"] == meta["og:video"]
    assert data["thumbnailUrl"] == [meta["og:image"]]
    assert data["uploadDate"].startswith("2026-10-16")
    assert re.fullmatch(r"PT(\d+M)?\d+S", data["duration"]) and data["duration"] == "PT9S"
    assert f'<link rel="canonical" href="{SITE_URL}episodes/ep02-the-seam/">' in html
