"""Resolve: each post's Markdown to HTML, its shortcodes and reference links resolved against
this build's content (an episode, a proof image, a fix, a post, a tag).

A reference to anything unknown or left out of this build fails the build, naming the post's
file and line. Conversions are cached between builds by the hash of their source.
"""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

from ..project.keys import did_you_mean
from ..project.schema import NamedFix
from .cache import PickleCache
from .collect import SiteContent
from .content import SiteEpisode
from .markers import ROOT
from .posts import MarkdownRenderer, Post, RefError
from .templates import TemplateSet

_PROOF_REF = re.compile(r"([A-Za-z][\w-]*)?@(\d+(?:\.\d+)?)s")
_SHORTCODE_ARGS = {"video": 1, "episode": 1, "fix": 1, "proof": 2}
_SHORTCODE_USAGE = {"video": "video EPISODE", "episode": "episode EPISODE", "fix": "fix FIX-ID",
                    "proof": "proof EPISODE KIND@SECONDSs (or @SECONDSs for every kind)"}


def resolve_posts(content: SiteContent, templates: TemplateSet, cache_file: Path) -> None:
    """Fill every post's HTML and summary, and list each post under the episodes it names."""
    cache = PickleCache(cache_file)
    renderer = MarkdownRenderer(cache.data)
    for post in content.posts:
        renderer.render(post, Resolver(content, templates, post))
    cache.keep_only(renderer.used)
    cache.save()
    for post in content.posts:
        for episode in post.related_episodes:
            if post not in episode.posts:
                episode.posts.append(post)


class Resolver:
    """Resolves one post's shortcodes and reference links against this build's content."""

    def __init__(self, content: SiteContent, templates: TemplateSet, post: Post):
        self.content = content
        self.templates = templates
        self.post = post

    def episode(self, name: str) -> SiteEpisode:
        content = self.content
        if name in content.by_id:
            episode = content.by_id[name]
            if self.post not in episode.posts:
                episode.posts.append(self.post)
            return episode
        if name in content.withheld:
            why = content.withheld[name]
            hint = "; `alpha build site --drafts` previews it" if "render" not in why else "; run `alpha render`"
            raise RefError(f"episode {name!r} is not in this build: {why}{hint}")
        known = [*content.by_id, *content.withheld]
        raise RefError(f"unknown episode {name!r}{did_you_mean(name, known)}")

    def shortcode(self, name: str, args: list[str], caption: str | None) -> str:
        if len(args) != _SHORTCODE_ARGS[name]:
            raise RefError(f"expected {{{{< {_SHORTCODE_USAGE[name]} >}}}}")
        if name == "fix":
            return self._partial("partials/fix-badge.html", fix=self._fix(args[0])).strip()
        episode = self.episode(args[0])
        if name == "video":
            return self._partial("partials/video.html", episode=episode, caption=caption)
        if name == "episode":
            return self._partial("partials/episode-card.html", episode=episode, heading="p")
        return self._partial("partials/proof.html", episode=episode, images=self._proof(episode, args[1]),
                             caption=caption)

    def _partial(self, template: str, **context) -> str:
        return self.templates.render(template, root=Markup(ROOT), canonical=None, page_path="", section="", **context)

    def _proof(self, episode: SiteEpisode, ref: str):
        match = _PROOF_REF.fullmatch(ref)
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
        fixes = self.content.named_fixes
        if name not in fixes:
            raise RefError(f"unknown fix {name!r}{did_you_mean(name, fixes)}")
        return fixes[name]

    def link(self, scheme: str, ref: str) -> str:
        content = self.content
        if scheme == "episode":
            return self.episode(ref).path
        if scheme == "fix":
            return f"fixes/#{self._fix(ref).id}"
        if scheme == "post":
            if ref in content.posts_by_slug:
                return content.posts_by_slug[ref].path
            raise RefError(f"no published post with the slug {ref!r}{did_you_mean(ref, content.posts_by_slug)}")
        tag = content.tag(ref)
        if tag is not None:
            return tag.path
        raise RefError(f"no published episode or post has the tag {ref!r}")
