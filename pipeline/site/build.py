"""`alpha build site`: the static site from the lock, the render outputs, posts/ and templates/.

    index.html, page/N/        the catalog: every published episode, newest first
    episodes/                  the complete list; episodes/<id>/ one page per episode, and
    episodes/<id>/video.mp4    the stable URL of its latest video (a link into the store)
    media/<hash>.<ext>         every video and image, by content (never served stale)
    blog/, blog/page/N/, blog/<slug>/       posts
    tags/, tags/<tag>/         episodes and posts by tag
    fixes/                     the named fixes, today's stack, and which episodes carry each
    feed.xml rss.xml           the Atom and RSS 2.0 feeds (same entries, same ids)
    sitemap.xml robots.txt 404.html build.json

One build runs these steps, each in its own module:

    collect   collect.py   what is published (episodes, posts, tags, fixes) and what is left out
    resolve   resolve.py   posts' Markdown, shortcodes and reference links, against that content
    render    render.py    every page, the feeds and the sitemap, in memory (templates.py, filters.py)
    check     linkcheck.py every local link resolves (before anything is written)
    write     output.py    the build id, then the spare folder brought up to date and swapped in

Aliases (aliases.py) add old URLs after rendering, checked against every file of the build.

A failure anywhere leaves the live site untouched.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import xxhash
from markupsafe import Markup

from ..errors import Failure
from ..runlock import exclusive
from ..workspace import Workspace, open_workspace
from .aliases import add_aliases
from .collect import collect
from .filters import href
from .inputs import record_inputs
from .linkcheck import check_pages, describe
from .media import Media
from .markers import BUILD
from .output import Folders, SiteFiles, build_record, check_output
from .render import PageRenderer
from .resolve import resolve_posts
from .templates import TemplateSet, static_sources

FIX_EPISODES_SHOWN = 12


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


def build_site(project_dir: Path | None = None, *, drafts: bool = False, output: Path | None = None,
               today: dt.date | None = None, workspace: Workspace | None = None,
               portable: bool | None = None) -> BuildResult:
    """Build the site into `output` (default: the project's site.output) and swap it in.

    `portable` (default: site.portable) writes media as real files instead of store links."""
    started = time.perf_counter()
    workspace = workspace or open_workspace(project_dir)
    project = workspace.project
    portable = project.settings.site.portable if portable is None else portable
    target = check_output(project.root, Path(output) if output is not None else project.site_dir)
    with exclusive(project.state_dir / "site-build.lock", "site build", wait=True):
        media = Media(project.root, project.state_dir)
        try:
            content = collect(workspace, media, drafts=drafts, today=today)
            files = SiteFiles()
            assets = _static_assets(files, project.root / "templates")
            templates = TemplateSet(project.root / "templates", project.root, {
                "site": content.site, "build": Markup(BUILD), "drafts": drafts, "assets": assets,
                "today": content.today, "href": href, "tag_path": content.tag_path,
                "fix_episodes_shown": FIX_EPISODES_SHOWN})
            resolve_posts(content, templates, project.state_dir / "cache" / "site-markdown.pickle")
            for path, link_target in media.links.items():
                files.add_link(path, link_target, media.digests[path])
            renderer = PageRenderer(content, templates, files, assets)
            renderer.render_pages()
            renderer.render_feeds()
            aliases = add_aliases(content, project, files, media, templates, renderer.scans)
            broken = check_pages(files.paths(), content.site.url, files.texts, renderer.scans)
            if broken:
                raise Failure(describe(broken))
        finally:
            media.save()
        build_id = files.build_id()
        files.finish(build_id)
        pages = sum(1 for path in files.texts if path.endswith(".html"))
        record = build_record(build_id, drafts, pages, len(files) + 1, portable, aliases)
        Folders(target, project.state_dir).update(files.contents(), files.link_targets(target), record, build_id,
                                                  portable=portable)
        record_inputs(workspace, target, build_id, drafts, portable)
    return BuildResult(target, build_id, pages, len(files) + 1, len(content.episodes), len(content.posts),
                       content.hidden, time.perf_counter() - started, content.warnings)


def _static_assets(files: SiteFiles, project_templates: Path) -> dict[str, str]:
    """Add the theme's static files under content-hashed names; returns name -> site path."""
    assets: dict[str, str] = {}
    for name, path in sorted(static_sources(project_templates).items()):
        data = path.read_bytes()
        stem, ext = os.path.splitext(name)
        site_path = f"assets/{stem}.{xxhash.xxh3_64_hexdigest(data)[:10]}{ext}"
        files.add_bytes(site_path, data)
        assets[name] = site_path
    return assets

