"""Collect: what one build publishes, gathered from the lock, the plan, posts/ and alpha.yaml.

Episodes that are rendered and due (or every rendered one with drafts), posts that are due,
the tags of both, and the named fixes with the episodes and posts that carry them. What is
left out is kept with the reason, for the build's report and for references to it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from ..errors import ManifestError, Problem
from ..project.keys import did_you_mean
from ..project.schema import NamedFix
from ..workspace import Workspace
from .content import FixStacks, SiteEpisode, rendered_video, site_episode, todays_stack
from .media import Media
from .quality import headlines, is_stock, render_metrics
from ..slugs import slugify, tag_key
from .posts import Post, read_posts


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
        return [(key, json.dumps(value)) for key, value in self.fix.settings.items()]


@dataclass
class SiteContent:
    """Everything one build publishes, and what it leaves out and why."""

    site: SiteInfo
    drafts: bool
    today: dt.date
    now: dt.datetime
    stack: list[NamedFix]                      # today's fix stack
    named_fixes: dict[str, NamedFix]
    episodes: list[SiteEpisode] = field(default_factory=list)   # newest first
    posts: list[Post] = field(default_factory=list)             # newest first
    tags: dict[str, Tag] = field(default_factory=dict)          # by identity (slugs.tag_key)
    fixes: list[FixEntry] = field(default_factory=list)
    hidden: dict[str, list[str]] = field(
        default_factory=lambda: {"draft": [], "scheduled": [], "unrendered": []})  # -> ids or post files
    withheld: dict[str, str] = field(default_factory=dict)      # episode id -> why it is not in this build
    warnings: list[str] = field(default_factory=list)
    by_id: dict[str, SiteEpisode] = field(default_factory=dict)
    posts_by_slug: dict[str, Post] = field(default_factory=dict)

    def tag(self, name: str) -> Tag | None:
        """The tag that `name`, in any of its spellings, stands for."""
        return self.tags.get(tag_key(name))

    def tag_path(self, name: str) -> str:
        tag = self.tag(name)
        return tag.path if tag is not None else f"tags/{slugify(name)}/"


def collect(workspace: Workspace, media: Media, *, drafts: bool = False,
            today: dt.date | None = None) -> SiteContent:
    """The content of one build (`today` pins the date, for tests and benchmarks)."""
    project = workspace.project
    if today is None:
        now = dt.datetime.now(dt.timezone.utc)
        today = dt.date.today()
    else:
        now = dt.datetime(today.year, today.month, today.day, 23, 59, 59, tzinfo=dt.timezone.utc)
    settings = project.settings
    content = SiteContent(
        site=SiteInfo(settings.name, settings.site.title, settings.site.description, settings.site.url),
        drafts=drafts, today=today, now=now, stack=todays_stack(project),
        named_fixes={fix.id: fix for fix in settings.fixes})
    _collect_episodes(content, workspace, media)
    _collect_posts(content, workspace)
    _collect_tags(content)
    _collect_fixes(content, workspace)
    return content


def _collect_episodes(content: SiteContent, workspace: Workspace, media: Media) -> None:
    project, lock = workspace.project, workspace.lock
    plans = {plan.id: plan for plan in workspace.plan()}
    fix_stacks = FixStacks(project)
    metrics: dict[str, dict] = {}
    for resolved in project.episodes.values():
        settings = resolved.settings
        entry = lock.entry(resolved.id)
        if rendered_video(entry) is None:
            content.hidden["unrendered"].append(resolved.id)
            content.withheld[resolved.id] = "it has not been rendered yet"
            continue
        if (settings.draft or settings.date > content.today) and not content.drafts:
            kind = "draft" if settings.draft else "scheduled"
            content.hidden[kind].append(resolved.id)
            content.withheld[resolved.id] = ("it is a draft" if settings.draft
                                             else f"it is dated {settings.date.isoformat()}")
            continue
        content.episodes.append(site_episode(project, resolved, entry, plans.get(resolved.id), media,
                                             content.stack, content.today, fix_stacks))
        metrics[resolved.id] = render_metrics(entry)
    content.episodes.sort(key=lambda ep: (ep.date, ep.id), reverse=True)
    stock = next(((ep.title, ep.path, metrics[ep.id]) for ep in content.episodes if is_stock(metrics[ep.id])), None)
    for episode in content.episodes:
        episode.headlines = headlines(metrics[episode.id], stock)
        episode.blend = (metrics[episode.id].get("restore") or {}).get("blend")
    for newer, older in zip(content.episodes, content.episodes[1:]):
        newer.previous, older.next = older, newer
    content.by_id = {ep.id: ep for ep in content.episodes}


def _collect_posts(content: SiteContent, workspace: Workspace) -> None:
    project = workspace.project
    for post in read_posts(project.root):
        post.scheduled = post.date > content.now if post.timed else post.date.date() > content.today
        if (post.draft or post.scheduled) and not content.drafts:
            content.hidden["draft" if post.draft else "scheduled"].append(str(post.file))
            continue
        content.posts.append(post)
    content.posts.sort(key=lambda post: (post.date, post.slug), reverse=True)
    content.posts_by_slug = {post.slug: post for post in content.posts}
    problems: list[Problem] = []
    fixes = content.named_fixes
    for post in content.posts:
        for index, name in enumerate(post.meta.episodes):
            if name in content.by_id:
                post.related_episodes.append(content.by_id[name])
            elif name in project.episodes:
                content.warnings.append(f"{post.file}:{post.line_of('episodes', index)}: related episode "
                                        f"{name!r} is left out: {content.withheld.get(name, 'unpublished')}")
            else:
                problems.append(Problem(post.file, post.line_of("episodes", index), f"episodes[{index}]",
                                        f"unknown episode {name!r}{did_you_mean(name, project.episodes)}"))
        for index, name in enumerate(post.meta.fixes):
            if name in fixes:
                post.related_fixes.append(fixes[name])
            else:
                problems.append(Problem(post.file, post.line_of("fixes", index), f"fixes[{index}]",
                                        f"unknown fix {name!r}{did_you_mean(name, fixes)} "
                                        "(named fixes are listed under fixes: in alpha.yaml)"))
    if problems:
        raise ManifestError(problems)


def _collect_tags(content: SiteContent) -> None:
    """One Tag per tag identity (see pipeline/slugs.py), named by its most used spelling; each
    episode and post then shows that spelling, once, whichever spelling it wrote."""
    items: list[tuple[SiteEpisode | Post, tuple[str, ...], str]] = []
    items += [(episode, episode.tags, f"episode {episode.id}") for episode in content.episodes]
    items += [(post, post.tags, str(post.file)) for post in content.posts]
    spellings: dict[str, dict[str, list[str]]] = {}  # identity -> spelling -> where (in first-seen order)
    for _, names, where in items:
        for name in names:
            spellings.setdefault(tag_key(name), {}).setdefault(name, []).append(where)
    named: dict[str, Tag] = {}
    for key, used in spellings.items():
        name = max(used, key=lambda spelling: len(used[spelling]))  # ties: the first seen
        named[key] = Tag(name, slugify(name))
        if len(used) > 1:
            listed = "; ".join(f"{spelling!r} in {', '.join(dict.fromkeys(places))}"
                               for spelling, places in used.items())
            content.warnings.append(f"tags that differ only in case or punctuation are one tag, "
                                    f"shown as #{name}: {listed}")
    for item, names, _ in items:
        shown = tuple(dict.fromkeys(named[tag_key(name)].name for name in names))
        for name in shown:
            tag = named[tag_key(name)]
            (tag.episodes if isinstance(item, SiteEpisode) else tag.posts).append(item)
        if isinstance(item, SiteEpisode):
            item.tags = shown
        else:
            item.shown_tags = shown
    content.tags = named


def _collect_fixes(content: SiteContent, workspace: Workspace) -> None:
    in_stack = {fix.id for fix in content.stack}
    entries = {fix.id: FixEntry(fix, fix.id in in_stack) for fix in workspace.project.settings.fixes}
    for episode in content.episodes:
        for fix in episode.fixes:
            entries[fix.id].episodes.append(episode)
    for post in content.posts:
        for fix in post.related_fixes:
            entries[fix.id].posts.append(post)
    content.fixes = list(entries.values())
