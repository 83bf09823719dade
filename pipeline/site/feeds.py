"""The Atom and RSS 2.0 feeds, sitemap.xml (with Google's video extension) and robots.txt.

Both feeds carry the same entries. Entry ids (Atom `<id>`, RSS `<guid>`) are the items' permalinks (absolute URLs of the episode or post page), which no
rebuild or re-render changes; a re-render changes an entry's `updated`, not its id. Media in
feeds and the sitemap use the content-addressed URLs, as the pages do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from .markers import references

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
VIDEO = "http://www.google.com/schemas/sitemap-video/1.1"
XML_NS = "http://www.w3.org/XML/1998/namespace"
FEED_ENTRIES = 50
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_CONTROL = {i: None for i in range(32) if i not in (9, 10, 13)}


def _text(value: str) -> str:
    """XML 1.0 cannot carry most control characters: drop them."""
    return value.translate(_CONTROL)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class FeedEntry:
    id: str
    title: str
    url: str
    published: dt.datetime
    updated: dt.datetime
    summary: str
    content: str                     # HTML with absolute URLs
    categories: tuple[str, ...] = ()
    enclosure: tuple[str, str, int] | None = None   # url, type, length


def atom_feed(title: str, subtitle: str, site_url: str, feed_url: str, entries: list[FeedEntry],
              generator: str) -> str:
    entries = _newest(entries)
    newest = max((entry.updated for entry in entries), default=_EPOCH)
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<feed xmlns="{ATOM}" xml:lang="en">',
           f"  <id>{_x(site_url)}</id>",
           f"  <title>{_x(title)}</title>"]
    if subtitle:
        out.append(f"  <subtitle>{_x(subtitle)}</subtitle>")
    out += [f'  <link rel="self" type="application/atom+xml" href="{_x(feed_url)}"/>',
            f'  <link rel="alternate" type="text/html" href="{_x(site_url)}"/>',
            f"  <updated>{iso(newest)}</updated>",
            f"  <author><name>{_x(title)}</name><uri>{_x(site_url)}</uri></author>",
            f"  <generator>{_x(generator)}</generator>"]
    for item in entries:
        out += ["  <entry>",
                f"    <id>{_x(item.id)}</id>",
                f"    <title>{_x(item.title)}</title>",
                f'    <link rel="alternate" type="text/html" href="{_x(item.url)}"/>',
                f"    <published>{iso(item.published)}</published>",
                f"    <updated>{iso(max(item.updated, item.published))}</updated>"]
        if item.summary:
            out.append(f"    <summary>{_x(item.summary)}</summary>")
        out.append(f'    <content type="html" xml:base="{_x(item.url)}">{_x(item.content)}</content>')
        out += [f'    <category term="{_x(category)}"/>' for category in item.categories]
        if item.enclosure:
            url, kind, length = item.enclosure
            out.append(f'    <link rel="enclosure" type="{_x(kind)}" length="{int(length)}" href="{_x(url)}"/>')
        out.append("  </entry>")
    out.append("</feed>")
    return "\n".join(out) + "\n"


def rss_feed(title: str, description: str, site_url: str, feed_url: str, entries: list[FeedEntry],
             generator: str, lang: str = "en") -> str:
    """RSS 2.0 of the same entries as the Atom feed, for podcast-style readers and bots.

    Each item's guid is its permalink, the same id as its Atom entry; a video is an
    `<enclosure>` (url, length in bytes, type), which podcast apps and Telegram bots fetch."""
    entries = _newest(entries)
    newest = max((entry.updated for entry in entries), default=_EPOCH)
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<rss version="2.0" xmlns:atom="{ATOM}">',
           "  <channel>",
           f"    <title>{_x(title)}</title>",
           f"    <link>{_x(site_url)}</link>",
           f"    <description>{_x(description or title)}</description>",
           f"    <language>{_x(lang)}</language>",
           f"    <lastBuildDate>{rfc822(newest)}</lastBuildDate>",
           f"    <generator>{_x(generator)}</generator>",
           f'    <atom:link rel="self" type="application/rss+xml" href="{_x(feed_url)}"/>']
    for item in entries:
        out += ["    <item>",
                f"      <title>{_x(item.title)}</title>",
                f"      <link>{_x(item.url)}</link>",
                f'      <guid isPermaLink="true">{_x(item.id)}</guid>',
                f"      <pubDate>{rfc822(item.published)}</pubDate>",
                f"      <description>{_x(item.content or item.summary)}</description>"]
        out += [f"      <category>{_x(category)}</category>" for category in item.categories]
        if item.enclosure:
            url, kind, length = item.enclosure
            out.append(f'      <enclosure url="{_x(url)}" length="{int(length)}" type="{_x(kind)}"/>')
        out.append("    </item>")
    out += ["  </channel>", "</rss>"]
    return "\n".join(out) + "\n"


def rfc822(moment: dt.datetime) -> str:
    """RSS dates: RFC 822 (with a four-digit year), in UTC, in English whatever the locale."""
    from email.utils import format_datetime

    return format_datetime(moment.astimezone(dt.timezone.utc).replace(microsecond=0), usegmt=True)


def _newest(entries: list[FeedEntry]) -> list[FeedEntry]:
    return sorted(entries, key=lambda entry: (entry.published, entry.id), reverse=True)[:FEED_ENTRIES]


def _x(value: str) -> str:
    """Escaped for XML text and double-quoted attributes, without the characters XML 1.0 forbids."""
    return references(_text(str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                      .replace('"', "&quot;"))


@dataclass
class SitemapVideo:
    title: str
    description: str
    thumbnail: str
    content: str
    duration: float | None
    published: dt.datetime
    tags: tuple[str, ...] = ()


@dataclass
class SitemapUrl:
    loc: str
    lastmod: dt.datetime | None = None
    video: SitemapVideo | None = None


def sitemap(urls: Iterable[SitemapUrl]) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<urlset xmlns="{SITEMAP}" xmlns:video="{VIDEO}">']
    for item in urls:
        out.append(f"  <url><loc>{_x(item.loc)}</loc>"
                   + (f"<lastmod>{iso(item.lastmod)}</lastmod>" if item.lastmod is not None else ""))
        video = item.video
        if video is not None:
            out += ["    <video:video>",
                    f"      <video:thumbnail_loc>{_x(video.thumbnail)}</video:thumbnail_loc>",
                    f"      <video:title>{_x(video.title[:100])}</video:title>",
                    f"      <video:description>{_x((video.description or video.title)[:2048])}</video:description>",
                    f"      <video:content_loc>{_x(video.content)}</video:content_loc>"]
            if video.duration is not None:
                out.append(f"      <video:duration>{min(28800, max(1, int(video.duration + 0.5)))}</video:duration>")
            out += [f"      <video:publication_date>{iso(video.published)}</video:publication_date>",
                    "      <video:family_friendly>yes</video:family_friendly>"]
            out += [f"      <video:tag>{_x(tag)}</video:tag>" for tag in video.tags[:32]]
            out.append("    </video:video>")
        out.append("  </url>")
    out.append("</urlset>")
    return "\n".join(out) + "\n"


def robots(site_url: str, drafts: bool) -> str:
    if drafts:  # a preview with drafts must never be indexed
        return "User-agent: *\nDisallow: /\n"
    return f"User-agent: *\nAllow: /\n\nSitemap: {site_url}sitemap.xml\n"
