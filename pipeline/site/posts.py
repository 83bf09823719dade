"""Blog posts: Markdown files in `posts/` with YAML front matter.

    ---
    title: Where the rectangle came from        # required
    date: 2026-10-17                            # required (or a YYYY-MM-DD- file name prefix)
    tags: [fixes, restore]
    draft: false
    episodes: [ep02-the-seam]                   # related episodes: listed under the post
    fixes: [TASK-099, TASK-101]                 # fixes the post discusses: badges
    description: One line for the index, feeds and link previews.
    slug: the-seam                              # default: the file name without its date
    aliases: [/2026/10/seam.html]               # old URLs: redirect pages to this post
    updated: 2026-10-20
    ---

Shortcodes embed render outputs, resolved at build time. Each stands on a line of its own
(except `fix`, which may sit inside a sentence); arguments are separated by spaces, and a
caption goes in double quotes:

    {{< video ep02-the-seam >}}                       the episode's video player
    {{< proof ep02-the-seam frame@3s "The box" >}}    one proof image (kind@seconds)
    {{< proof ep02-the-seam @3s >}}                   every proof image at 3 s, side by side
    {{< episode ep01-hello >}}                        a card linking to the episode
    {{< fix TASK-101 >}}                              the fix's badge, linking to its entry

Links may name things instead of paths: `[the seam](episode:ep02-the-seam)`,
`[TASK-101](fix:TASK-101)`, `[welcome](post:welcome)`, `[restore](tag:restore)`.

A reference to anything unknown (or unpublished in this build) fails the build, naming the
post's file and line. Shortcodes inside fenced code blocks and `code spans` are left as text.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ManifestError, Problem, UserError
from ..project.keys import dotted
from ..project.schema import SLUG, AliasPath
from ..project.yamlfile import YamlSyntaxError, parse_yaml
from ..slugs import slugify
from .markers import ROOT, references

_DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")
_SHORTCODE = re.compile(r"\{\{<\s*([A-Za-z][\w-]*)((?:\s+(?:\"[^\"]*\"|[^\s\"]+?))*)\s*>\}\}")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_LINK_SCHEME = re.compile(r'(href|src)="(episode|fix|post|tag):([^"#]*)(#[^"]*)?"')
_TOKEN_PREFIX = "ALPHASC"
BLOCK_SHORTCODES = {"video", "proof", "episode"}
# Ids the post page's layout uses: a heading never takes one of them.
RESERVED_IDS = frozenset({"main", "post-title", "fixes-title", "episodes-title", "alpha-build-error"})
INLINE_SHORTCODES = {"fix"}


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    date: dt.datetime | dt.date | None = None
    updated: dt.datetime | dt.date | None = None
    tags: tuple[str, ...] = ()
    draft: bool = False
    episodes: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    description: str = ""
    slug: str | None = None
    aliases: tuple[AliasPath, ...] = ()   # old URLs of the post that keep working (redirect pages)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not SLUG.match(value):
            raise ValueError(f"{value!r} is not a safe slug: use lowercase letters, digits and inner hyphens")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tag in value:
            if not slugify(tag):
                raise ValueError(f"tag {tag!r} has no letters or digits")
        return value


@dataclass
class Post:
    file: Path              # relative to the project root
    slug: str
    meta: FrontMatter
    date: dt.datetime       # aware (UTC when the front matter gives a date only)
    updated: dt.datetime
    body: str
    body_line: int          # file line of the body's first line
    lines: dict[tuple, int]  # front matter key path -> file line
    timed: bool = False     # the date has a time of day
    html: str = ""          # rendered, with ROOT where the page's relative root goes
    summary: str = ""       # plain text
    published: bool = True
    scheduled: bool = False  # dated in the future
    related_episodes: list[Any] = field(default_factory=list)
    related_fixes: list[Any] = field(default_factory=list)
    shown_tags: tuple[str, ...] | None = None  # the site's spelling of each tag, once each

    @property
    def path(self) -> str:
        return f"blog/{self.slug}/"

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def tags(self) -> tuple[str, ...]:
        return self.meta.tags if self.shown_tags is None else self.shown_tags

    @property
    def draft(self) -> bool:
        return self.meta.draft

    @property
    def description(self) -> str:
        return self.meta.description or self.summary

    def line_of(self, *key: Any) -> int:
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return 1


def as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)


# --- reading ---------------------------------------------------------------------------------


def read_posts(root: Path) -> list[Post]:
    """Every post under `root/posts` (Markdown files, nested folders included), validated;
    every problem of every post is reported at once."""
    folder = root / "posts"
    posts: list[Post] = []
    problems: list[Problem] = []
    if not folder.is_dir():
        return posts
    for path in sorted(folder.rglob("*.md")):
        relative = path.relative_to(root)
        try:
            post = read_post(path, relative)
        except _PostProblem as exc:
            problems.append(exc.problem)
            continue
        posts.append(post)
    slugs: dict[str, Post] = {}
    for post in posts:
        if post.slug in slugs:
            problems.append(Problem(post.file, post.line_of("slug"), "slug",
                                    f"{post.slug!r} is also the slug of {slugs[post.slug].file}"))
        slugs.setdefault(post.slug, post)
    if problems:
        raise ManifestError(problems)
    return posts


class _PostProblem(Exception):
    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def read_post(path: Path, relative: Path) -> Post:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _PostProblem(Problem(relative, 1, "", f"not UTF-8 text ({exc.reason})")) from None
    text = text.lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise _PostProblem(Problem(relative, 1, "", "a post starts with front matter: a line `---`, "
                                                    "YAML (title, date, ...), and another `---`"))
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "..."))
    except StopIteration:
        raise _PostProblem(Problem(relative, 1, "", "the front matter has no closing `---` line")) from None
    yaml_text = "\n" * 1 + "\n".join(lines[1:end])  # keep file line numbers
    try:
        located = parse_yaml(yaml_text, relative)
    except YamlSyntaxError as exc:
        raise _PostProblem(Problem(relative, exc.line, exc.key, exc.message)) from None
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        raise _PostProblem(Problem(relative, 2, "", "the front matter must be a mapping (key: value)"))
    if located.duplicates:
        key, line = located.duplicates[0]
        raise _PostProblem(Problem(relative, line, dotted(key), "given twice"))
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        line = located.line_of(tuple(error["loc"]))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = ("unknown key; a post's front matter may hold "
                       + ", ".join(FrontMatter.model_fields))
        raise _PostProblem(Problem(relative, line, dotted(tuple(error["loc"])), message)) from None
    stem = path.stem
    prefix = _DATE_PREFIX.match(stem)
    date_value = meta.date
    if date_value is None and prefix:
        try:
            date_value = dt.date(int(prefix[1]), int(prefix[2]), int(prefix[3]))
        except ValueError:
            date_value = None
    if date_value is None:
        raise _PostProblem(Problem(relative, 2, "date", "a post needs a date (in the front matter, "
                                                        "or a YYYY-MM-DD- prefix on the file name)"))
    slug = meta.slug or slugify(prefix[4] if prefix else stem)
    if not slug:
        raise _PostProblem(Problem(relative, 2, "slug", f"no slug can be made from {path.name!r}; set slug:"))
    date = as_datetime(date_value)
    updated = as_datetime(meta.updated) if meta.updated is not None else date
    return Post(file=relative, slug=slug, meta=meta, date=date, updated=max(updated, date),
                body="\n".join(lines[end + 1:]), body_line=end + 2, lines=located.lines,
                timed=isinstance(date_value, dt.datetime))


# --- rendering -------------------------------------------------------------------------------


class _Tokens:
    """Stand-ins for a post's shortcodes while its Markdown is converted: letters and digits,
    which Markdown leaves alone, under a prefix that the post's text cannot produce (it is
    lengthened until neither the text nor the text with its character references decoded
    holds it), so that no text a user types is ever taken for a shortcode."""

    def __init__(self, body: str):
        import html

        decoded = html.unescape(body)
        prefix = _TOKEN_PREFIX
        while prefix in body or prefix in decoded:
            prefix += "X"
        self.prefix = prefix
        self.pattern = re.compile(re.escape(prefix) + r"(\d+)Z")

    def token(self, number: int) -> str:
        return f"{self.prefix}{number}Z"


class RefError(Exception):
    """A reference in a post that cannot be resolved; the message says why."""


class Resolver(Protocol):
    def shortcode(self, name: str, args: list[str], caption: str | None) -> str: ...
    def link(self, scheme: str, ref: str) -> str: ...


class MarkdownRenderer:
    """Markdown to HTML with shortcodes and reference links; one instance serves every post.

    CommonMark with tables, strikethrough and typographic quotes (markdown-it-py). Headings move one level down (the
    page's title is the h1) and get ids, so `#fragment` links to them work. Raw HTML in posts
    passes through: posts are the authors' own pages. Conversions are remembered by the hash
    of their source in `cache` (a dict the caller may persist), so an unchanged post is never
    converted twice.
    """

    def __init__(self, cache: dict[str, str] | None = None) -> None:
        self.cache = cache if cache is not None else {}
        self.used: set[str] = set()
        from markdown_it import MarkdownIt

        engine = MarkdownIt("commonmark", {"typographer": True, "html": True})
        engine.enable(["table", "strikethrough", "replacements", "smartquotes"])
        engine.core.ruler.push("alpha_headings", _heading_ids)
        self._convert = engine.render
        self.engine = "markdown-it-py/2"  # the version of the conversion, in the cache keys

    def convert(self, source: str) -> str:
        import xxhash

        key = f"{self.engine}:{xxhash.xxh3_128_hexdigest(source.encode('utf-8'))}"
        self.used.add(key)
        html = self.cache.get(key)
        if html is None:
            html = self.cache[key] = self._convert(source)
        return html

    def render(self, post: Post, resolver: Resolver) -> None:
        """Fill `post.html` and `post.summary`; a bad reference raises UserError at file:line."""
        fragments: dict[int, tuple[str, bool]] = {}
        tokens = _Tokens(post.body)
        source = self._expand(post, resolver, fragments, tokens)
        # The post's own text may hold the markers' characters: as references, they are text.
        html = references(self.convert(source))
        html = self._place(html, fragments, tokens)
        html = _LINK_SCHEME.sub(lambda m: self._link(m, post, resolver), html)
        post.html = html
        post.summary = _summary(html, tokens)

    def _expand(self, post: Post, resolver: Resolver, fragments: dict[int, tuple[str, bool]],
                tokens: "_Tokens") -> str:
        out: list[str] = []
        fence: str | None = None
        for index, line in enumerate(post.body.split("\n")):
            number = post.body_line + index
            opened = _FENCE.match(line)
            if fence is not None:
                if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                    fence = None
                out.append(line)
                continue
            if opened:
                fence = opened.group(1)
                out.append(line)
                continue
            if "{{<" not in line:
                out.append(line)
                continue
            out.append(self._expand_line(line, number, post, resolver, fragments, tokens))
        return "\n".join(out)

    def _expand_line(self, line: str, number: int, post: Post, resolver: Resolver,
                     fragments: dict[int, tuple[str, bool]], tokens: "_Tokens") -> str:
        pieces: list[str] = []
        last = 0
        for match in _SHORTCODE.finditer(line):
            if line.count("`", 0, match.start()) % 2 == 1:
                continue  # inside a code span
            name = match.group(1)
            where = f"{post.file}:{number}"
            if name not in BLOCK_SHORTCODES | INLINE_SHORTCODES:
                known = ", ".join(sorted(BLOCK_SHORTCODES | INLINE_SHORTCODES))
                raise UserError(f"{where}: unknown shortcode {name!r} (known: {known})")
            if name in BLOCK_SHORTCODES and line.strip() != match.group(0):
                raise UserError(f"{where}: the {name} shortcode must stand on a line of its own")
            try:
                words = shlex.split(match.group(2))
            except ValueError as exc:
                raise UserError(f"{where}: {match.group(0)}: {exc}") from None
            quoted = re.search(r'"([^"]*)"\s*$', match.group(2))
            caption = None
            if quoted and words and words[-1] == quoted.group(1):
                caption = words.pop()
            try:
                html = resolver.shortcode(name, words, caption)
            except RefError as exc:
                raise UserError(f"{where}: {match.group(0)}: {exc}") from None
            token = len(fragments)
            fragments[token] = (html, name in BLOCK_SHORTCODES)
            pieces.append(line[last:match.start()])
            text = tokens.token(token)
            pieces.append(f"\n\n{text}\n\n" if name in BLOCK_SHORTCODES else text)
            last = match.end()
        pieces.append(line[last:])
        return "".join(pieces)

    @staticmethod
    def _place(html: str, fragments: dict[int, tuple[str, bool]], tokens: "_Tokens") -> str:
        if not fragments:
            return html
        for token, (fragment, block) in fragments.items():
            if block:
                html = html.replace(f"<p>{tokens.token(token)}</p>", fragment)
        return tokens.pattern.sub(lambda m: fragments[int(m.group(1))][0], html)

    @staticmethod
    def _link(match: re.Match, post: Post, resolver: Resolver) -> str:
        attribute, scheme, ref, fragment = match.group(1), match.group(2), match.group(3), match.group(4) or ""
        try:
            target = resolver.link(scheme, ref)
        except RefError as exc:
            needle = f"{scheme}:{ref}"
            line = next((post.body_line + i for i, text in enumerate(post.body.split("\n")) if needle in text),
                        post.body_line)
            raise UserError(f"{post.file}:{line}: {needle}: {exc}") from None
        return f'{attribute}="{ROOT}{target}{fragment}"'


def _heading_ids(state) -> None:
    """markdown-it core rule: the post's top heading level becomes h2 (the page title is the h1),
    whether the author began with # or ##, so no level is skipped; and an id per heading."""
    seen: set[str] = set(state.env.get("alpha_ids", RESERVED_IDS))
    tokens = state.tokens
    levels = [int(token.tag[1]) for token in tokens if token.type == "heading_open"]
    shift = 2 - min(levels, default=1)
    for index, token in enumerate(tokens):
        if token.type not in ("heading_open", "heading_close"):
            continue
        token.tag = f"h{min(int(token.tag[1]) + shift, 6)}"
        if token.type == "heading_open" and not token.attrGet("id"):
            text = tokens[index + 1].content if index + 1 < len(tokens) else ""
            base = slugify(re.sub(r"<[^>]+>|[`*_~\[\]]|\(.*?\)", "", text)) or "section"
            slug, number = base, 1
            while slug in seen:
                number += 1
                slug = f"{base}-{number}"
            seen.add(slug)
            token.attrSet("id", slug)
    state.env["alpha_ids"] = seen


_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_FIRST_PARAGRAPH = re.compile(r"^<p>(.*?)</p>", re.M | re.S)


def _summary(html: str, tokens: "_Tokens", limit: int = 240) -> str:
    import html as html_lib

    paragraph = _FIRST_PARAGRAPH.search(html)
    first = paragraph.group(1) if paragraph else html
    text = _SPACE.sub(" ", html_lib.unescape(_TAGS.sub(" ", first))).strip()
    text = tokens.pattern.sub("", text)
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return text

