"""The link check: every local href/src in a page must name a file of the site, and every
`#fragment` an id in the page it points to. Runs at the end of every build, in memory.

Links are read from href/src/poster/srcset attributes outside <script>, <style> and comments:
page text is escaped (by Jinja's autoescape and by Markdown), so `href="` in a page can only
be an attribute. Absolute URLs under `site.url` count as local, so canonical links,
Open Graph URLs in `href`s, and the feed's and sitemap's links are checked as well.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote, urlsplit

_RAW_TEXT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_XML_LINK = re.compile(r"""(?:<loc>|<id>|<video:content_loc>|<video:thumbnail_loc>|<video:player_loc>|"""
                       r"""\shref=")([^<"]+)""")
# A start tag's attributes: escaped text (`&lt;img src=x&gt;`, a code span) is outside every
# tag, and one attribute's value is consumed whole before the next attribute is read.
_TAG_ATTRIBUTES = re.compile(r"<[A-Za-z][^\s/>]*(\s[^>]*)?>")
_ATTRIBUTE = re.compile(r"""([^\s"'=<>/`]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>`]+)))?""")
_WANTED = frozenset({"href", "src", "poster", "srcset", "id", "name"})
_QUOTED = {name: re.compile(f' {name}="([^"]*)"') for name in ("href", "src", "poster", "srcset", "id", "name")}
_SLOW = object()


@dataclass(frozen=True)
class BrokenLink:
    page: str
    attribute: str
    url: str
    problem: str

    def __str__(self) -> str:
        return f"{self.page}: {self.attribute}=\"{self.url}\": {self.problem}"


def _unescape(value: str) -> str:
    if "&" not in value:
        return value
    import html

    return html.unescape(value)


def _strip_raw(html: str) -> str:
    if "<script" in html or "<style" in html or "<!--" in html:
        return _COMMENT.sub("", _RAW_TEXT.sub("", html))
    return html


def links_and_ids(html: str) -> tuple[dict[tuple[str, str], None], set[str]]:
    """The distinct (attribute, url) links and the ids of a page.

    Pages whose every such attribute is written ` name="value"` (all of alpha's templates, and
    Markdown's output) are read with literal-prefix searches, several times faster than the
    general pattern, which the others get."""
    html = _strip_raw(html)
    in_tags = [attributes for attributes in _TAG_ATTRIBUTES.findall(html) if attributes]
    tags = "\n".join(in_tags)
    found: list[tuple[str, str]] = []
    for name, pattern in _QUOTED.items():
        values = pattern.findall(tags)
        if len(values) != tags.count(f"{name}="):  # some `name=` is written otherwise
            found = [(m.group(1).lower(), next(v for v in m.groups()[1:] if v is not None))
                     for attributes in in_tags for m in _ATTRIBUTE.finditer(attributes)
                     if m.group(1).lower() in _WANTED and any(v is not None for v in m.groups()[1:])]
            break
        found += [(name, value) for value in values]
    links: dict[tuple[str, str], None] = {}
    ids: set[str] = set()
    for name, value in found:
        if "&" in value:
            value = _unescape(value)
        if name in ("id", "name"):
            ids.add(value)
        elif name == "srcset":
            links.update((("srcset", part.split()[0]), None) for part in value.split(",") if part.strip())
        else:
            links[(name, value)] = None
    return links, ids


class LinkChecker:
    """Checks pages against the set of files in the site."""

    def __init__(self, files: set[str], base_url: str, page_text: Callable[[str], str | None]):
        self.files = files
        self.base_url = base_url
        self.base_path = urlsplit(base_url).path or "/"
        self.page_text = page_text
        self._ids: dict[str, set[str]] = {}
        self._memo: dict[tuple[int, str], object] = {}

    def ids_of(self, path: str) -> set[str]:
        if path not in self._ids:
            text = self.page_text(path)
            self._ids[path] = links_and_ids(text)[1] if text is not None else set()
        return self._ids[path]

    def check_html(self, page: str, html: str, scanned: tuple | None = None) -> list[BrokenLink]:
        broken = []
        parts = page.split("/")[:-1]
        links, self._ids[page] = scanned if scanned is not None else links_and_ids(html)
        memo = self._memo
        climb = "../" * len(parts)
        for attribute, url in links:
            # A link that climbs to the site's root means the same from every page as deep.
            key = (len(parts), url) if url.startswith(climb) and url[:1] != "#" else None
            if key is not None and key in memo:
                problem = memo[key]
            else:
                problem = self._fast(page, parts, url)
                if key is not None and problem is not _SLOW and (problem is None or "#" not in url):
                    memo[key] = problem
            if problem is None:
                continue
            if problem is _SLOW:
                result = self.check_url(page, attribute, url)
                if result is not None:
                    broken.append(result)
            else:
                broken.append(BrokenLink(page, attribute, url, problem))
        return broken

    def _fast(self, page: str, parts: list[str], url: str):
        """The common case (a plain relative path, maybe with a fragment) without urllib;
        None when fine, a problem, or _SLOW to take the general path."""
        if not url or url[0] in "/?" or "%" in url or "\\" in url or "://" in url or ":" in url.split("/", 1)[0]:
            return _SLOW
        path, _, fragment = url.partition("#")
        if "?" in path:
            return _SLOW
        if not path:
            target = page
        else:
            depth = 0
            rest = path
            while rest.startswith("../"):
                depth += 1
                rest = rest[3:]
            if rest.startswith("./") or "/./" in rest or "/.." in rest or rest in ("..", "."):
                return _SLOW
            if depth > len(parts):
                return "points above the site's root"
            joined = "/".join(parts[:len(parts) - depth] + ([rest] if rest else []))
            if joined.endswith("/"):
                joined = joined[:-1]
            target = self._resolve(joined, rest == "" or path.endswith("/"))
            if target is None:
                shown = f"{joined}/index.html" if path.endswith("/") or not rest else joined
                return f"{shown.lstrip('/')} is missing"
        if fragment and target.endswith(".html") and unquote(fragment) not in self.ids_of(target):
            return f"no id=\"{unquote(fragment)}\" in {target}"
        return None

    def check_xml(self, page: str, text: str) -> list[BrokenLink]:
        """Feeds and sitemaps: their absolute links under site.url must exist too."""
        return [broken for url in _XML_LINK.findall(text)
                if url.startswith(self.base_url) and (broken := self.check_url(page, "link", _xml_unescape(url)))]

    def check_url(self, page: str, attribute: str, url: str) -> BrokenLink | None:
        url = url.strip()
        if not url:
            return BrokenLink(page, attribute, url, "empty link")
        rooted = True
        if url.startswith(self.base_url):
            relative = url[len(self.base_url):]
        else:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                return None  # external, mailto:, data:, javascript: ...
            if url.startswith("/"):
                if not url.startswith(self.base_path):
                    return BrokenLink(page, attribute, url, f"outside the site's path {self.base_path}")
                relative = url[len(self.base_path):]
            else:
                relative, rooted = url, False
        path, _, fragment = relative.partition("#")
        path = unquote(path.partition("?")[0])
        if not path:
            target = "index.html" if rooted else page
        else:
            base_dir = "" if rooted else posixpath.dirname(page)
            joined = posixpath.normpath(posixpath.join(base_dir, path))
            if joined == ".":
                joined = ""
            if joined == ".." or joined.startswith("../") or joined.startswith("/"):
                return BrokenLink(page, attribute, url, "points above the site's root")
            target = self._resolve(joined, path.endswith("/"))
            if target is None:
                shown = f"{joined}/index.html" if path.endswith("/") or not joined else joined
                return BrokenLink(page, attribute, url, f"{shown.lstrip('/')} is missing")
        if fragment and target.endswith(".html") and unquote(fragment) not in self.ids_of(target):
            return BrokenLink(page, attribute, url, f"no id=\"{unquote(fragment)}\" in {target}")
        return None

    def _resolve(self, path: str, directory: bool) -> str | None:
        if not directory and path in self.files:
            return path
        index = f"{path}/index.html" if path else "index.html"
        return index if index in self.files else None


def _xml_unescape(value: str) -> str:
    return value.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')


def check_pages(files: set[str], base_url: str, pages: dict[str, str],
                scans: dict[str, tuple] | None = None) -> list[BrokenLink]:
    """Check HTML pages (and .xml files) held in memory; `files` is every path of the site;
    `scans` may hold pages' (links, ids) found already."""
    checker = LinkChecker(files, base_url, pages.get)
    scans = scans or {}
    for page, scanned in scans.items():
        checker._ids[page] = scanned[1]
    broken: list[BrokenLink] = []
    for page, text in pages.items():
        if page.endswith(".html"):
            broken += checker.check_html(page, text, scans.get(page))
        elif page.endswith(".xml"):
            broken += checker.check_xml(page, text)
    return broken


def check_folder(folder, base_url: str) -> list[BrokenLink]:
    """Check a built site on disk (for a deploy's verification, or by hand)."""
    from pathlib import Path

    root = Path(folder)
    files: set[str] = set()
    pages: dict[str, str] = {}
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            continue
        relative = path.relative_to(root).as_posix()
        if path.exists():  # a dangling symlink is no file
            files.add(relative)
        if relative.endswith((".html", ".xml")) and path.is_file():
            pages[relative] = path.read_text(encoding="utf-8", errors="replace")
    return check_pages(files, base_url, pages)


def describe(broken: list[BrokenLink], limit: int = 20) -> str:
    pages = sorted({link.page for link in broken})
    lines = [f"link check: {len(broken)} broken link{'s' if len(broken) != 1 else ''} "
             f"in {len(pages)} page{'s' if len(pages) != 1 else ''}:"]
    lines += [f"  {link}" for link in broken[:limit]]
    if len(broken) > limit:
        lines.append(f"  ... and {len(broken) - limit} more")
    return "\n".join(lines)
