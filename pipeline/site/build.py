"""`alpha build site`: the static site from the lock, the render outputs, posts/ and templates/.

    index.html, page/N/        the catalog: every published episode, newest first
    episodes/                  the complete list; episodes/<id>/ one page per episode, and
    episodes/<id>/video.mp4    the stable URL of its latest video (a link into the store)
    media/<hash>.<ext>         every video and image, by content (never served stale)
    blog/, blog/page/N/, blog/<slug>/       posts
    tags/, tags/<tag>/         episodes and posts by tag
    fixes/                     the named fixes, today's stack, and which episodes carry each
    feed.xml sitemap.xml robots.txt 404.html build.json

Templates are Jinja2 (autoescape, StrictUndefined), looked up in the project's `templates/`
first and then in the defaults shipped with alpha, so a project overrides only what it wants.
Everything is rendered in memory and link-checked; then the spare folder beside the output
(the build before last) is brought up to date, writing only what changed, and swapped in. A
failure anywhere leaves the live site untouched.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from ..errors import Failure, ManifestError, Problem, UserError
from ..project.keys import did_you_mean
from ..project.schema import NamedFix
from ..runlock import exclusive
from ..workspace import Workspace, open_workspace
from . import feeds
from .content import FixStacks, SiteEpisode, clock, iso_duration, rendered_video, site_episode, todays_stack
from .linkcheck import check_pages, describe, links_and_ids
from .media import Media
from .output import BUILD_PLACEHOLDER, Folders, SiteFiles, build_record, check_output
from .posts import ROOT, MarkdownRenderer, Post, RefError, read_posts, slugify

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[1] / "demo" / "project" / "templates"
CATALOG_PAGE_SIZE = 24
BLOG_PAGE_SIZE = 20
FIX_EPISODES_SHOWN = 12
RELATED_POSTS_SHOWN = 6


@dataclass
class BuildResult:
    output: Path
    build_id: str
    pages: int
    files: int
    episodes: int
    posts: int
    hidden: dict[str, list[str]]  # "draft", "scheduled", "unrendered" -> ids or post files
    seconds: float
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SiteInfo:
    name: str
    title: str
    description: str
    url: str
    lang: str = "en"


@dataclass
class Tag:
    name: str
    slug: str
    episodes: list[SiteEpisode] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"tags/{self.slug}/"

    @property
    def count(self) -> int:
        return len(self.episodes) + len(self.posts)


@dataclass
class FixEntry:
    fix: NamedFix
    in_stack: bool
    episodes: list[SiteEpisode] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.fix.id

    @property
    def layer(self) -> str:
        return self.fix.layer

    @property
    def title(self) -> str:
        return self.fix.title

    @property
    def settings(self) -> list[tuple[str, str]]:
        import json

        return [(key, json.dumps(value)) for key, value in self.fix.settings.items()]


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


def build_site(project_dir: Path | None = None, *, drafts: bool = False, output: Path | None = None,
               today: dt.date | None = None, workspace: Workspace | None = None) -> BuildResult:
    """Build the site into `output` (default: the project's site.output) and swap it in."""
    started = time.perf_counter()
    workspace = workspace or open_workspace(project_dir)
    project = workspace.project
    target = check_output(project.root, Path(output) if output is not None else project.site_dir)
    with exclusive(project.state_dir / "site-build.lock", "site build", wait=True):
        builder = SiteBuilder(workspace, drafts=drafts, today=today)
        try:
            files = builder.build()
        finally:
            builder.media.save()
        build_id = files.build_id()
        files.finish(build_id)
        pages = sum(1 for path in files.texts if path.endswith(".html"))
        record = build_record(build_id, drafts, pages, len(files) + 1)
        Folders(target, project.state_dir).update(files.contents(), files.link_targets(target), record, build_id)
    return BuildResult(target, build_id, pages, len(files) + 1, len(builder.episodes), len(builder.posts),
                       builder.hidden, time.perf_counter() - started, builder.warnings)


class SiteBuilder:
    def __init__(self, workspace: Workspace, drafts: bool = False, today: dt.date | None = None):
        self.workspace = workspace
        self.project = workspace.project
        self.drafts = drafts
        if today is None:
            self.now = dt.datetime.now(dt.timezone.utc)
            self.today = dt.date.today()
        else:
            self.today = today
            self.now = dt.datetime(today.year, today.month, today.day, 23, 59, 59, tzinfo=dt.timezone.utc)
        settings = self.project.settings
        self.site = SiteInfo(settings.name, settings.site.title, settings.site.description, settings.site.url)
        self.media = Media(self.project.root, self.project.state_dir)
        self.files = SiteFiles()
        self.episodes: list[SiteEpisode] = []
        self.posts: list[Post] = []
        self.tags: dict[str, Tag] = {}
        self.fixes: list[FixEntry] = []
        self.hidden: dict[str, list[str]] = {"draft": [], "scheduled": [], "unrendered": []}
        self.withheld: dict[str, str] = {}  # episode id -> why it is not in this build
        self.warnings: list[str] = []
        self.assets: dict[str, str] = {}
        self.scans: dict[str, tuple] = {}  # page -> (links, ids), found while rendering
        self._jobs: list[tuple[str, str, dict]] = []
        self._templates = TemplateSet(self.project.root / "templates", self)

    # --- content -------------------------------------------------------------------------

    def build(self) -> SiteFiles:
        self.collect_episodes()
        self.collect_posts()
        self.collect_tags_and_fixes()
        self.render_posts()
        self.static_assets()
        self.render_pages()
        self.render_feeds()
        broken = check_pages(self.files.paths(), self.site.url, self.files.texts, self.scans)
        if broken:
            raise Failure(describe(broken))
        return self.files

    def collect_episodes(self) -> None:
        project, lock = self.project, self.workspace.lock
        plans = {plan.id: plan for plan in self.workspace.plan()}
        stack = todays_stack(project)
        fix_stacks = FixStacks(project)
        for resolved in project.episodes.values():
            settings = resolved.settings
            entry = lock.entry(resolved.id)
            if rendered_video(entry) is None:
                self.hidden["unrendered"].append(resolved.id)
                self.withheld[resolved.id] = "it has not been rendered yet"
                continue
            if (settings.draft or settings.date > self.today) and not self.drafts:
                kind = "draft" if settings.draft else "scheduled"
                self.hidden[kind].append(resolved.id)
                self.withheld[resolved.id] = ("it is a draft" if settings.draft
                                              else f"it is dated {settings.date.isoformat()}")
                continue
            self.episodes.append(site_episode(project, resolved, entry, plans.get(resolved.id), self.media,
                                              stack, self.today, fix_stacks))
        self.episodes.sort(key=lambda ep: (ep.date, ep.id), reverse=True)
        for newer, older in zip(self.episodes, self.episodes[1:]):
            newer.previous, older.next = older, newer
        self.by_id = {ep.id: ep for ep in self.episodes}

    def collect_posts(self) -> None:
        for post in read_posts(self.project.root):
            post.scheduled = post.date > self.now if post.timed else post.date.date() > self.today
            if (post.draft or post.scheduled) and not self.drafts:
                self.hidden["draft" if post.draft else "scheduled"].append(str(post.file))
                continue
            self.posts.append(post)
        self.posts.sort(key=lambda post: (post.date, post.slug), reverse=True)
        self.posts_by_slug = {post.slug: post for post in self.posts}
        problems: list[Problem] = []
        fixes = {fix.id: fix for fix in self.project.settings.fixes}
        for post in self.posts:
            for index, name in enumerate(post.meta.episodes):
                if name in self.by_id:
                    post.related_episodes.append(self.by_id[name])
                elif name in self.project.episodes:
                    self.warnings.append(f"{post.file}:{post.line_of('episodes', index)}: related episode "
                                         f"{name!r} is left out: {self.withheld.get(name, 'unpublished')}")
                else:
                    problems.append(Problem(post.file, post.line_of("episodes", index), f"episodes[{index}]",
                                            f"unknown episode {name!r}{did_you_mean(name, self.project.episodes)}"))
            for index, name in enumerate(post.meta.fixes):
                if name in fixes:
                    post.related_fixes.append(fixes[name])
                else:
                    problems.append(Problem(post.file, post.line_of("fixes", index), f"fixes[{index}]",
                                            f"unknown fix {name!r}{did_you_mean(name, fixes)} "
                                            "(named fixes are listed under fixes: in alpha.yaml)"))
        if problems:
            raise ManifestError(problems)

    def collect_tags_and_fixes(self) -> None:
        for episode in self.episodes:
            for name in episode.tags:
                self._tag(name).episodes.append(episode)
        for post in self.posts:
            for name in post.tags:
                self._tag(name).posts.append(post)
        stack = {fix.id for fix in todays_stack(self.project)}
        entries = {fix.id: FixEntry(fix, fix.id in stack) for fix in self.project.settings.fixes}
        for episode in self.episodes:
            for fix in episode.fixes:
                entries[fix.id].episodes.append(episode)
        for post in self.posts:
            for fix in post.related_fixes:
                entries[fix.id].posts.append(post)
        self.fixes = list(entries.values())

    def _tag(self, name: str) -> Tag:
        slug = slugify(name)
        if slug not in self.tags:
            self.tags[slug] = Tag(name, slug)
        return self.tags[slug]

    def render_posts(self) -> None:
        cache = _PickleCache(self.project.state_dir / "cache" / "site-markdown.pickle")
        renderer = MarkdownRenderer(cache.data)
        for post in self.posts:
            renderer.render(post, _Resolver(self, post))
        cache.keep_only(renderer.used)
        cache.save()
        for post in self.posts:
            for episode in post.related_episodes:
                if post not in episode.posts:
                    episode.posts.append(post)

    # --- files ---------------------------------------------------------------------------

    def static_assets(self) -> None:
        sources: dict[str, Path] = {}
        for folder in (DEFAULT_TEMPLATES / "static", self.project.root / "templates" / "static"):
            if folder.is_dir():
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and not path.name.startswith("."):
                        sources[path.relative_to(folder).as_posix()] = path
        for name, path in sorted(sources.items()):
            data = path.read_bytes()
            stem, ext = os.path.splitext(name)
            site_path = f"assets/{stem}.{xxhash.xxh3_64_hexdigest(data)[:10]}{ext}"
            self.files.add_bytes(site_path, data)
            self.assets[name] = site_path
        for path, target in self.media.links.items():
            self.files.add_link(path, target, self.media.digests[path])

    def page(self, template: str, path: str, **context: Any) -> None:
        """Queue `template` as the page at site path `path` ("" and "x/" are folders)."""
        self._jobs.append((template, path, context))

    def render_job(self, job: tuple[str, str, dict]) -> tuple[str, str, tuple]:
        """One page: its file, its HTML, and its links and ids for the link check."""
        template, path, context = job
        file = f"{path}index.html" if path == "" or path.endswith("/") else path
        root = "../" * file.count("/")
        html = self._templates.render(template, root=root, canonical=self.site.url + path, page_path=path,
                                      **context)
        return file, html, links_and_ids(html)

    def render_queued(self) -> None:
        """Render every queued page, in worker processes when that pays (see `_workers`)."""
        jobs, self._jobs = self._jobs, []
        for template in {job[0] for job in jobs}:
            self._templates.load(template)  # compiled once, before any fork
        workers = _workers(len(jobs))
        if workers > 1:
            results = _render_in_workers(self, jobs, workers)
        else:
            results = [self.render_job(job) for job in jobs]
        for file, html, scanned in results:
            self.files.add_text(file, html)
            self.scans[file] = scanned

    def render_pages(self) -> None:
        catalog = pages_of(self.episodes, CATALOG_PAGE_SIZE, "")
        for pager in catalog:
            self.page("index.html", pager.path(pager.number), pager=pager, section="episodes",
                      latest=self.episodes[0] if self.episodes and pager.number == 1 else None)
        self.page("archive.html", "episodes/", episodes=self.episodes, section="episodes")
        for episode in self.episodes:
            self.page("episode.html", episode.path, episode=episode, section="episodes",
                      jsonld=self.video_object(episode))
        for pager in pages_of(self.posts, BLOG_PAGE_SIZE, "blog/"):
            self.page("blog.html", pager.path(pager.number), pager=pager, section="blog")
        for post in self.posts:
            self.page("post.html", post.path, post=post, section="blog")
        tags = sorted(self.tags.values(), key=lambda tag: tag.slug)
        self.page("tags.html", "tags/", tags=tags, section="tags")
        for tag in tags:
            self.page("tag.html", tag.path, tag=tag, section="tags")
        self.page("fixes.html", "fixes/", fixes=self.fixes, stack=todays_stack(self.project), section="fixes")
        self.render_queued()
        # The 404 page is served at any depth: its links are root-absolute.
        base_path = self.site.url.split("://", 1)[1].partition("/")[2]
        self.files.add_text("404.html", self._templates.render("404.html", root="/" + base_path, canonical=None,
                                                               page_path="404.html", section=""))

    def render_feeds(self) -> None:
        url = self.site.url
        entries: list[feeds.FeedEntry] = []
        for episode in self.episodes:
            link = url + episode.path
            content = self._templates.render("partials/feed-episode.html", root=url, canonical=link,
                                             page_path=episode.path, section="", episode=episode)
            entries.append(feeds.FeedEntry(
                id=link, title=episode.title, url=link, published=episode.published_at,
                updated=episode.updated_at, summary=episode.summary, content=content,
                categories=episode.tags, enclosure=(url + episode.video, "video/mp4", episode.video_bytes)))
        for post in self.posts:
            link = url + post.path
            entries.append(feeds.FeedEntry(
                id=link, title=post.title, url=link, published=post.date, updated=post.updated,
                summary=post.description, content=post.html.replace(ROOT, url), categories=post.tags))
        from .. import __version__

        self.files.add_text("feed.xml", feeds.atom_feed(self.site.title, self.site.description, url,
                                                        url + "feed.xml", entries, f"alpha {__version__}"))
        urls = [feeds.SitemapUrl(url + path, newest) for path, newest in (
            ("", max((ep.updated_at for ep in self.episodes), default=None)),
            ("episodes/", max((ep.updated_at for ep in self.episodes), default=None)),
            ("blog/", max((post.updated for post in self.posts), default=None)),
            ("fixes/", None), ("tags/", None))]
        for episode in self.episodes:
            urls.append(feeds.SitemapUrl(url + episode.path, episode.updated_at, feeds.SitemapVideo(
                title=episode.title, description=episode.summary,
                thumbnail=url + (episode.poster.path if episode.poster else self.assets["poster.svg"]),
                content=url + episode.video, duration=episode.duration, published=episode.published_at,
                tags=episode.tags)))
        urls += [feeds.SitemapUrl(url + post.path, post.updated) for post in self.posts]
        urls += [feeds.SitemapUrl(url + tag.path) for tag in sorted(self.tags.values(), key=lambda t: t.slug)]
        self.files.add_text("sitemap.xml", feeds.sitemap(urls))
        self.files.add_text("robots.txt", feeds.robots(url, self.drafts))

    def video_object(self, episode: SiteEpisode) -> dict[str, Any]:
        url = self.site.url
        data: dict[str, Any] = {
            "@context": "https://schema.org", "@type": "VideoObject",
            "name": episode.title, "description": episode.summary,
            "thumbnailUrl": [url + episode.poster.path] if episode.poster else [url + self.assets["poster.svg"]],
            "uploadDate": episode.published_at.isoformat(),
            "contentUrl": url + episode.video,
            "url": url + episode.path,
            "encodingFormat": "video/mp4",
            "isPartOf": {"@type": "CreativeWorkSeries", "name": self.site.title, "url": url},
        }
        if episode.duration is not None:
            data["duration"] = iso_duration(episode.duration)
        if episode.rendered_at is not None:
            data["dateModified"] = episode.rendered_at.isoformat().replace("+00:00", "Z")
        if episode.width and episode.height:
            data["width"], data["height"] = episode.width, episode.height
        if episode.tags:
            data["keywords"] = ", ".join(episode.tags)
        return data


class _Resolver:
    """Resolves one post's shortcodes and reference links against this build's content."""

    def __init__(self, builder: SiteBuilder, post: Post):
        self.builder = builder
        self.post = post

    def episode(self, name: str) -> SiteEpisode:
        builder = self.builder
        if name in builder.by_id:
            episode = builder.by_id[name]
            if self.post not in episode.posts:
                episode.posts.append(self.post)
            return episode
        if name in builder.project.episodes:
            why = builder.withheld.get(name, "it is not published")
            hint = "; `alpha build site --drafts` previews it" if "render" not in why else "; run `alpha render`"
            raise RefError(f"episode {name!r} is not in this build: {why}{hint}")
        raise RefError(f"unknown episode {name!r}{did_you_mean(name, builder.project.episodes)}")

    def shortcode(self, name: str, args: list[str], caption: str | None) -> str:
        expected = {"video": 1, "episode": 1, "fix": 1, "proof": 2}[name]
        if len(args) != expected:
            usage = {"video": "video EPISODE", "episode": "episode EPISODE", "fix": "fix FIX-ID",
                     "proof": "proof EPISODE KIND@SECONDSs (or @SECONDSs for every kind)"}[name]
            raise RefError(f"expected {{{{< {usage} >}}}}")
        render = self.builder._templates.render
        if name == "fix":
            fix = self._fix(args[0])
            return render("partials/fix-badge.html", root=ROOT, canonical=None, page_path="", section="",
                          fix=fix).strip()
        episode = self.episode(args[0])
        if name == "video":
            return render("partials/video.html", root=ROOT, canonical=None, page_path="", section="",
                          episode=episode, caption=caption)
        if name == "episode":
            return render("partials/episode-card.html", root=ROOT, canonical=None, page_path="", section="",
                          episode=episode, heading="p")
        images = self._proof(episode, args[1])
        return render("partials/proof.html", root=ROOT, canonical=None, page_path="", section="",
                      episode=episode, images=images, caption=caption)

    def _proof(self, episode: SiteEpisode, ref: str):
        import re

        match = re.fullmatch(r"([A-Za-z][\w-]*)?@(\d+(?:\.\d+)?)s", ref)
        available = [image for group in episode.proofs + episode.comparisons for image in group.images]
        names = ", ".join(sorted(image.name for image in available)) or "none"
        if not match:
            raise RefError(f"{ref!r} is not a proof reference like frame@5s or @5s (available: {names})")
        kind, seconds = match.group(1), float(match.group(2))
        chosen = [image for image in available
                  if image.seconds == seconds and (kind is None or image.kind == kind)]
        if not chosen:
            raise RefError(f"episode {episode.id!r} has no proof {ref!r} (available: {names})")
        return chosen

    def _fix(self, name: str) -> NamedFix:
        fixes = {fix.id: fix for fix in self.builder.project.settings.fixes}
        if name not in fixes:
            raise RefError(f"unknown fix {name!r}{did_you_mean(name, fixes)}")
        return fixes[name]

    def link(self, scheme: str, ref: str) -> str:
        builder = self.builder
        if scheme == "episode":
            return self.episode(ref).path
        if scheme == "fix":
            return f"fixes/#{self._fix(ref).id}"
        if scheme == "post":
            if ref in builder.posts_by_slug:
                return builder.posts_by_slug[ref].path
            raise RefError(f"no published post with the slug {ref!r}{did_you_mean(ref, builder.posts_by_slug)}")
        slug = slugify(ref)
        if slug in builder.tags:
            return builder.tags[slug].path
        raise RefError(f"no published episode or post has the tag {ref!r}")


# --- rendering in worker processes ------------------------------------------------------------

_PARALLEL_MIN_PAGES = 400
_CHUNK = 64
_SHARED: tuple | None = None  # (builder, jobs), inherited by forked workers


def _workers(pages: int) -> int:
    """Worker processes for `pages` pages: forked, so only where fork is safe and cheap (POSIX,
    no other thread running: `alpha serve` renders in one process) and the site is big enough.
    ALPHA_SITE_WORKERS overrides (1 turns it off)."""
    import multiprocessing
    import threading

    wanted = os.environ.get("ALPHA_SITE_WORKERS")
    if wanted is not None:
        count = max(1, int(wanted)) if wanted.isdigit() else 1
    else:
        # On two cores the pickling and the fork eat the gain (measured): four and up only.
        cpus = os.cpu_count() or 1
        count = min(cpus, 8) if cpus >= 4 and pages >= _PARALLEL_MIN_PAGES else 1
    if count > 1 and ("fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1):
        return 1
    return count


def _render_chunk(bounds: tuple[int, int]) -> list[tuple[str, str, tuple]]:
    builder, jobs = _SHARED
    return [builder.render_job(job) for job in jobs[bounds[0]:bounds[1]]]


def _render_in_workers(builder: "SiteBuilder", jobs: list, workers: int) -> list[tuple[str, str, tuple]]:
    import multiprocessing

    global _SHARED
    _SHARED = (builder, jobs)
    try:
        chunks = [(start, min(start + _CHUNK, len(jobs))) for start in range(0, len(jobs), _CHUNK)]
        results: list[tuple[str, str, tuple]] = []
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for part in pool.imap(_render_chunk, chunks):
                results.extend(part)
        return results
    finally:
        _SHARED = None


class _PickleCache:
    """A dict kept between builds in the project's state folder (losing it costs only time)."""

    FORMAT = 1

    def __init__(self, path: Path):
        import pickle

        self.path = path
        self.dirty = False
        try:
            with open(path, "rb") as stream:
                stored = pickle.load(stream)
            self.data = stored["data"] if stored.get("format") == self.FORMAT else {}
        except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, pickle.UnpicklingError):
            self.data = {}
        self._size = len(self.data)

    def keep_only(self, keys: set[str]) -> None:
        if len(keys) != len(self.data) or not keys.issuperset(self.data):
            self.data = {key: value for key, value in self.data.items() if key in keys}
            self.dirty = True

    def save(self) -> None:
        import pickle

        from ..atomic import atomic_write_bytes

        if not self.dirty and len(self.data) == self._size:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, pickle.dumps({"format": self.FORMAT, "data": self.data},
                                                   protocol=pickle.HIGHEST_PROTOCOL))


# --- templates -------------------------------------------------------------------------------


class TemplateSet:
    """The Jinja environment: the project's templates over the defaults, strict and escaped."""

    def __init__(self, folder: Path, builder: SiteBuilder):
        import jinja2

        self.folder = folder
        self.builder = builder
        loaders = [jinja2.FileSystemLoader(str(folder))] if folder.is_dir() else []
        loaders.append(jinja2.FileSystemLoader(str(DEFAULT_TEMPLATES)))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders), autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        self.env.filters.update(date=_date, isodate=_isodate, clock=_clock, size=_size,
                                jsonld=_jsonld, post_html=_post_html)
        self.env.globals.update(site=builder.site, build=BUILD_PLACEHOLDER, drafts=builder.drafts,
                                assets=builder.assets, today=builder.today, href=_href,
                                tag_path=lambda name: f"tags/{slugify(name)}/",
                                fix_episodes_shown=FIX_EPISODES_SHOWN)
        self._cache: dict[str, Any] = {}

    def load(self, name: str):
        import jinja2

        template = self._cache.get(name)
        if template is None:
            try:
                template = self._cache[name] = self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise UserError(f"{self._where(exc.filename, exc.lineno)}: template syntax error: "
                                f"{exc.message}") from None
            except jinja2.TemplateNotFound as exc:
                raise UserError(f"template {exc.name!r} not found in {self._rel(self.folder)}/ "
                                "or the default templates") from None
        return template

    def render(self, name: str, **context: Any) -> str:
        import jinja2

        template = self.load(name)
        try:
            return template.render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise UserError(f"{self._where(exc.filename, exc.lineno)}: template syntax error: {exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            raise UserError(f"template {exc.name!r} not found in {self._rel(self.folder)}/ "
                            "or the default templates") from None
        except (jinja2.TemplateError, TypeError, AttributeError, KeyError, ValueError) as exc:
            frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
                      if frame.filename.endswith((".html", ".xml", ".txt"))]
            where = self._where(frames[-1].filename, frames[-1].lineno) if frames else name
            raise UserError(f"{where}: template error: {exc}") from None

    def _where(self, filename: str | None, line: int | None) -> str:
        return f"{self._rel(Path(filename)) if filename else '?'}:{line or 1}"

    def _rel(self, path: Path) -> str:
        root = self.builder.project.root
        try:
            return str(Path(path).resolve().relative_to(root))
        except ValueError:
            return str(path)


def _href(root: str, path: str | None) -> str:
    """A relative link from a page whose root is `root`; never empty (an empty href is a bug)."""
    return f"{root}{path or ''}" or "./"


def _date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


def _isodate(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _clock(seconds: float | None) -> str:
    return clock(int(seconds + 0.5)) if seconds is not None else ""


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return str(count)


def _jsonld(data: Any):
    """JSON for a <script type="application/ld+json">: nothing in it can close the element."""
    import json

    from markupsafe import Markup

    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _post_html(post: Post, root: str):
    from markupsafe import Markup

    return Markup(post.html.replace(ROOT, root))

