"""Render: every page, the feeds and the sitemap of one build, as text in a `SiteFiles`.

Pages are queued, then rendered together (in worker processes for big sites, see workers.py);
each page's links and ids are found while it is rendered, for the link check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import feeds
from .collect import SiteContent
from .content import SiteEpisode, iso_duration
from .linkcheck import links_and_ids
from .output import SiteFiles
from .markers import ROOT
from .templates import TemplateSet
from .workers import render_all

CATALOG_PAGE_SIZE = 24
BLOG_PAGE_SIZE = 20


@dataclass(frozen=True)
class Pager:
    number: int
    count: int
    items: list
    base: str  # site path of page 1, e.g. "" or "blog/"

    def path(self, number: int) -> str:
        return self.base if number == 1 else f"{self.base}page/{number}/"

    @property
    def previous(self) -> str | None:
        return self.path(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.path(self.number + 1) if self.number < self.count else None

    @property
    def numbers(self) -> list[int | None]:
        """Page numbers to show, None for a gap: 1 … 4 5 6 … 40."""
        wanted = {1, self.count, self.number - 1, self.number, self.number + 1}
        shown = sorted(n for n in wanted if 1 <= n <= self.count)
        out: list[int | None] = []
        for n in shown:
            if out and out[-1] is not None and n - out[-1] > 1:
                out.append(None)
            out.append(n)
        return out


def pages_of(items: list, size: int, base: str) -> list[Pager]:
    count = max(1, -(-len(items) // size))
    return [Pager(n, count, items[(n - 1) * size:n * size], base) for n in range(1, count + 1)]


PageJob = tuple[str, str, dict]  # template, site path, context


class PageRenderer:
    """Renders the pages of one build's content into `files`, keeping each page's links and ids."""

    def __init__(self, content: SiteContent, templates: TemplateSet, files: SiteFiles, assets: dict[str, str]):
        self.content = content
        self.templates = templates
        self.files = files
        self.assets = assets
        self.scans: dict[str, tuple] = {}  # page -> (links, ids), found while rendering
        self._jobs: list[PageJob] = []

    def page(self, template: str, path: str, **context: Any) -> None:
        """Queue `template` as the page at site path `path` ("" and "x/" are folders)."""
        self._jobs.append((template, path, context))

    def render_job(self, job: PageJob) -> tuple[str, str, tuple]:
        """One page: its file, its HTML, and its links and ids for the link check."""
        template, path, context = job
        file = f"{path}index.html" if path == "" or path.endswith("/") else path
        root = "../" * file.count("/")
        html = self.templates.render(template, root=root, canonical=self.content.site.url + path, page_path=path,
                                     **context)
        return file, html, links_and_ids(html)

    def render_queued(self) -> None:
        """Render every queued page, in worker processes when that pays."""
        jobs, self._jobs = self._jobs, []
        for template in {job[0] for job in jobs}:
            self.templates.load(template)  # compiled once, before any fork
        for file, html, scanned in render_all(self.render_job, jobs):
            self.files.add_text(file, html)
            self.scans[file] = scanned

    def render_pages(self) -> None:
        content = self.content
        episodes = content.episodes
        for pager in pages_of(episodes, CATALOG_PAGE_SIZE, ""):
            self.page("index.html", pager.path(pager.number), pager=pager, section="episodes",
                      latest=episodes[0] if episodes and pager.number == 1 else None)
        self.page("archive.html", "episodes/", episodes=episodes, section="episodes")
        for episode in episodes:
            self.page("episode.html", episode.path, episode=episode, section="episodes",
                      jsonld=self.video_object(episode))
            if episode.captions is not None and episode.captions.path not in self.files.blobs:
                self.files.add_bytes(episode.captions.path, episode.captions.vtt)
        for pager in pages_of(content.posts, BLOG_PAGE_SIZE, "blog/"):
            self.page("blog.html", pager.path(pager.number), pager=pager, section="blog")
        for post in content.posts:
            self.page("post.html", post.path, post=post, section="blog")
        tags = sorted(content.tags.values(), key=lambda tag: tag.slug)
        self.page("tags.html", "tags/", tags=tags, section="tags")
        for tag in tags:
            self.page("tag.html", tag.path, tag=tag, section="tags")
        self.page("fixes.html", "fixes/", fixes=content.fixes, stack=content.stack, section="fixes")
        self.render_queued()
        # The 404 page is served at any depth: its links are root-absolute.
        base_path = content.site.url.split("://", 1)[1].partition("/")[2]
        self.files.add_text("404.html", self.templates.render("404.html", root="/" + base_path, canonical=None,
                                                              page_path="404.html", section=""))

    def render_feeds(self) -> None:
        content = self.content
        url = content.site.url
        entries: list[feeds.FeedEntry] = []
        for episode in content.episodes:
            link = url + episode.path
            html = self.templates.render("partials/feed-episode.html", root=url, canonical=link,
                                         page_path=episode.path, section="", episode=episode)
            entries.append(feeds.FeedEntry(
                id=link, title=episode.title, url=link, published=episode.published_at,
                updated=episode.updated_at, summary=episode.summary, content=html,
                categories=episode.tags, enclosure=(url + episode.video, "video/mp4", episode.video_bytes)))
        for post in content.posts:
            link = url + post.path
            entries.append(feeds.FeedEntry(
                id=link, title=post.title, url=link, published=post.date, updated=post.updated,
                summary=post.description, content=post.html.replace(ROOT, url), categories=post.tags))
        from .. import __version__

        generator = f"alpha {__version__}"
        self.files.add_text("feed.xml", feeds.atom_feed(content.site.title, content.site.description, url,
                                                        url + "feed.xml", entries, generator))
        self.files.add_text("rss.xml", feeds.rss_feed(content.site.title, content.site.description, url,
                                                      url + "rss.xml", entries, generator, content.site.lang))
        urls = [feeds.SitemapUrl(url + path, newest) for path, newest in (
            ("", max((ep.updated_at for ep in content.episodes), default=None)),
            ("episodes/", max((ep.updated_at for ep in content.episodes), default=None)),
            ("blog/", max((post.updated for post in content.posts), default=None)),
            ("fixes/", None), ("tags/", None))]
        # Google's video sitemap schema (sitemap-video/1.1) has no element for captions or a
        # transcript; they reach search engines through the page's <track> and JSON-LD instead.
        for episode in content.episodes:
            urls.append(feeds.SitemapUrl(url + episode.path, episode.updated_at, feeds.SitemapVideo(
                title=episode.title, description=episode.summary, thumbnail=self._poster_url(episode),
                content=url + episode.video, duration=episode.duration, published=episode.published_at,
                tags=episode.tags)))
        urls += [feeds.SitemapUrl(url + post.path, post.updated) for post in content.posts]
        urls += [feeds.SitemapUrl(url + tag.path) for tag in sorted(content.tags.values(), key=lambda t: t.slug)]
        self.files.add_text("sitemap.xml", feeds.sitemap(urls))
        self.files.add_text("robots.txt", feeds.robots(url, content.drafts))

    def _poster_url(self, episode: SiteEpisode) -> str:
        return self.content.site.url + (episode.poster.path if episode.poster else self.assets["poster.svg"])

    def video_object(self, episode: SiteEpisode) -> dict[str, Any]:
        """The episode as a schema.org VideoObject, for its page's JSON-LD."""
        url = self.content.site.url
        data: dict[str, Any] = {
            "@context": "https://schema.org", "@type": "VideoObject",
            "name": episode.title, "description": episode.summary,
            "thumbnailUrl": [self._poster_url(episode)],
            "uploadDate": episode.published_at.isoformat(),
            "contentUrl": url + episode.video,
            "url": url + episode.path,
            "encodingFormat": "video/mp4",
            "isPartOf": {"@type": "CreativeWorkSeries", "name": self.content.site.title, "url": url},
        }
        if episode.duration is not None:
            data["duration"] = iso_duration(episode.duration)
        if episode.rendered_at is not None:
            data["dateModified"] = episode.rendered_at.isoformat().replace("+00:00", "Z")
        if episode.width and episode.height:
            data["width"], data["height"] = episode.width, episode.height
        if episode.tags:
            data["keywords"] = ", ".join(episode.tags)
        if episode.captions is not None or episode.transcript:
            data["inLanguage"] = episode.language
        if episode.captions is not None:
            data["caption"] = {"@type": "MediaObject", "contentUrl": url + episode.captions.path,
                               "encodingFormat": "text/vtt", "inLanguage": episode.captions.srclang}
        if episode.transcript:
            data["transcript"] = "\n\n".join(episode.transcript)
        return data
