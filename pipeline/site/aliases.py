"""Aliases: old URLs that keep working, as Hugo's `aliases:` do.

    aliases: [/episodes/11/, /old/ep11.html]        a page alias: a redirect page there, with a
                                                    canonical link to the item's page
    aliases: [/video/alpha_d11_episode11.mp4]       a media alias (an episode's, ending in .mp4):
                                                    the current video at that path, so embeds on
                                                    other sites keep playing after a re-render

An alias ending in `/` or with no suffix is a folder (its index.html). Every alias is checked
against every file of the build and every other alias; a clash fails the build naming the
manifest's file, line and key.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from ..errors import ManifestError, Problem
from ..project.model import Project
from ..project.yamlfile import YamlSyntaxError, parse_yaml
from .collect import SiteContent
from .linkcheck import links_and_ids
from .media import Media
from .output import BUILD_FILE, SiteFiles
from .templates import TemplateSet

PAGE_SUFFIXES = (".html", ".htm")
VIDEO_SUFFIX = ".mp4"


@dataclass(frozen=True)
class Alias:
    path: str        # the site file it makes, e.g. "old/ep11/index.html" or "video/x.mp4"
    target: str      # the site path it stands for: the item's page, or its video's media path
    media: bool
    file: Path       # the manifest or post that names it, relative to the project
    key: str         # e.g. "aliases[0]"
    written: str     # as written in the manifest
    line: int | None = None  # its line, where known without reading the file again

    def where(self, root: Path) -> int:
        return self.line if self.line is not None else _episode_line(root / self.file, int(self.key[8:-1]))


def site_file(alias: str) -> str:
    """The site file an alias makes: folders (a trailing "/", or no suffix) get an index.html."""
    path = alias.strip("/")
    if alias.endswith("/") or "." not in posixpath.basename(path):
        return f"{path}/index.html"
    return path


def collect_aliases(content: SiteContent, project: Project) -> tuple[list[Alias], list[Problem]]:
    aliases: list[Alias] = []
    problems: list[Problem] = []
    for episode in content.episodes:
        file = project.episodes[episode.id].file.relative_to(project.root)
        for index, written in enumerate(episode.aliases):
            path = site_file(written)
            suffix = posixpath.splitext(path)[1].lower()
            if suffix == VIDEO_SUFFIX:
                aliases.append(Alias(path, episode.video, True, file, f"aliases[{index}]", written))
            elif suffix in PAGE_SUFFIXES:
                aliases.append(Alias(path, episode.path, False, file, f"aliases[{index}]", written))
            else:
                problems.append(Problem(file, _episode_line(project.root / file, index), f"aliases[{index}]",
                                        f"alias {written!r} is neither a page (ending in /, .html or no "
                                        f"suffix) nor the episode's video (ending in {VIDEO_SUFFIX})"))
    for post in content.posts:
        for index, written in enumerate(post.meta.aliases):
            path = site_file(written)
            if posixpath.splitext(path)[1].lower() not in PAGE_SUFFIXES:
                problems.append(Problem(post.file, post.line_of("aliases", index), f"aliases[{index}]",
                                        f"alias {written!r} is not a page (ending in /, .html or no suffix); "
                                        "a post has no video of its own"))
                continue
            aliases.append(Alias(path, post.path, False, post.file, f"aliases[{index}]", written,
                                 post.line_of("aliases", index)))
    return aliases, problems


def add_aliases(content: SiteContent, project: Project, files: SiteFiles, media: Media,
                templates: TemplateSet, scans: dict[str, tuple]) -> dict[str, str]:
    """Add every alias of the build's episodes and posts to `files`; returns alias -> target."""
    aliases, problems = collect_aliases(content, project)
    taken = files.paths() | {BUILD_FILE}
    folders = {posixpath.dirname(path) for path in taken}
    folders = {folder for path in folders for folder in _with_ancestors(path)}
    claimed: dict[str, Alias] = {}
    for alias in aliases:
        clash = _clash(alias.path, taken, folders, claimed)
        if clash:
            problems.append(Problem(alias.file, alias.where(project.root), alias.key,
                                    f"alias {alias.written!r} {clash}"))
            continue
        claimed[alias.path] = alias
    if problems:
        raise ManifestError(problems)
    for alias in claimed.values():
        if alias.media:
            files.add_link(alias.path, Path(media.links[alias.target]), media.digests[alias.target])
        else:
            root = "../" * alias.path.count("/")
            html = templates.render("alias.html", root=root, canonical=content.site.url + alias.target,
                                    page_path=alias.path, section="", target=alias.target,
                                    title=_title(content, alias.target))
            files.add_text(alias.path, html)
            scans[alias.path] = links_and_ids(html)
    return {alias.path: alias.target for alias in claimed.values()}


def _clash(path: str, taken: set[str], folders: set[str], claimed: dict[str, Alias]) -> str | None:
    if path in claimed:
        other = claimed[path]
        return f"is also an alias in {other.file} ({other.key})"
    if path in taken:
        return f"is a file the site already has ({path})"
    if path in folders:
        return f"is a folder of the site ({path}/)"
    for folder in _with_ancestors(posixpath.dirname(path)):
        if folder in taken or folder in claimed:
            return f"would need {folder} to be a folder, but it is a file of the site"
    for other in claimed.values():
        if other.path.startswith(path + "/"):
            return f"would need {path} to be a folder, for the alias in {other.file} ({other.key})"
    return None


def _with_ancestors(folder: str) -> list[str]:
    found = []
    while folder:
        found.append(folder)
        folder = posixpath.dirname(folder)
    return found


def _title(content: SiteContent, target: str) -> str:
    for episode in content.episodes:
        if episode.path == target:
            return episode.title
    for post in content.posts:
        if post.path == target:
            return post.title
    return target


def _episode_line(path: Path, index: int) -> int:
    try:
        located = parse_yaml(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError, YamlSyntaxError):
        return 1
    return located.line_of(("aliases", index))
