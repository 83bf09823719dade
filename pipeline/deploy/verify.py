"""After the switch, check the live site over HTTP: the build id, changed pages, a Range request
on a video (Safari refuses video from servers that ignore Range) and the feed."""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MAX_PAGES = 20
MAX_VIDEOS = 3
TAIL = 64 * 1024   # the Range request asks for the last bytes: they prove the whole file landed
USER_AGENT = "alpha-deploy-verify"


@dataclass
class Check:
    kind: str      # "build", "page", "range", "feed", "alias"
    url: str
    ok: bool
    detail: str

    def as_json(self) -> dict:
        return {"kind": self.kind, "url": self.url, "ok": self.ok, "detail": self.detail}


@dataclass
class Verification:
    url: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def summary(self) -> str:
        kinds: dict[str, list[Check]] = {}
        for check in self.checks:
            kinds.setdefault(check.kind, []).append(check)
        parts = []
        for kind, checks in kinds.items():
            good = sum(c.ok for c in checks)
            label = {"build": "build id", "page": "pages 200", "range": "Range 206", "feed": "feed parses",
                     "alias": "aliases"}[kind]
            parts.append(f"{label} {good}/{len(checks)}" if len(checks) > 1 else
                         f"{label} {'ok' if good else 'FAILED'}")
        return ", ".join(parts)

    def as_json(self) -> dict:
        return {"url": self.url, "ok": self.ok, "checks": [c.as_json() for c in self.checks]}


@dataclass(frozen=True)
class Video:
    path: str
    size: int
    source: Path | None = None   # the local file, to compare the bytes served


# What fetching a URL may raise: network errors (URLError is an OSError), a malformed URL or
# header (ValueError, http.client.InvalidURL) and a server that does not speak HTTP.
FETCH_ERRORS = (OSError, ValueError, http.client.HTTPException)


@dataclass(frozen=True)
class Alias:
    """An old URL the site keeps: a redirect page to `target`, or (with `video`) a media file."""

    path: str
    target: str
    video: Video | None = None


def page_url(base: str, path: str) -> str:
    """`episodes/x/index.html` is served (and linked) as `episodes/x/`."""
    if path == "index.html":
        return base
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    return base + urllib.parse.quote(path)


def verify(base: str, build_id: str, pages: list[str], videos: list[Video], feeds: list[str],
           token: str, timeout: float = 15.0, attempts: int = 3, aliases: list[Alias] = ()) -> Verification:
    base = base if base.endswith("/") else base + "/"
    result = Verification(base)
    result.checks.append(_check_build(base, build_id, token, timeout, attempts))
    for path in pages[:MAX_PAGES]:
        result.checks.append(_check_page(page_url(base, path), timeout))
    for video in videos[:MAX_VIDEOS]:
        result.checks.append(_check_range(base + urllib.parse.quote(video.path), video, timeout))
    for path in feeds:
        result.checks.append(_check_feed(base + urllib.parse.quote(path), timeout))
    for alias in aliases[:MAX_PAGES]:
        result.checks.append(_check_alias(base, alias, timeout))
    return result


def _get(url: str, timeout: float, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Cache-Control": "no-cache",
                                                   **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()) if exc.headers else {}, b""


def _check_build(base: str, build_id: str, token: str, timeout: float, attempts: int) -> Check:
    # The query string gets past caches that would answer with the previous build.json.
    url = f"{base}build.json?deploy={urllib.parse.quote(token)}"
    detail = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.5)
        body, detail = _fetch(url, timeout)
        if body is None:
            continue
        try:
            live = json.loads(body).get("build_id")
        except (ValueError, AttributeError):
            detail = "not JSON"
            continue
        if live == build_id:
            return Check("build", url, True, f"build id {build_id}")
        detail = f"live build id is {live!r}, expected {build_id!r}"
    return Check("build", url, False, detail)


def _fetch(url: str, timeout: float) -> tuple[bytes | None, str]:
    """The body of a 200 answer and "HTTP 200", or None and why there is none."""
    try:
        status, _, body = _get(url, timeout)
    except FETCH_ERRORS as exc:
        return None, f"cannot fetch: {_reason(exc)}"
    return (body if status == 200 else None), f"HTTP {status}"


def _check_page(url: str, timeout: float) -> Check:
    body, detail = _fetch(url, timeout)
    return Check("page", url, body is not None, detail)


def _check_range(url: str, video: Video, timeout: float) -> Check:
    if video.size == 0:
        return Check("range", url, True, "empty file")
    start = max(0, video.size - TAIL)
    try:
        status, headers, body = _get(url, timeout, {"Range": f"bytes={start}-{video.size - 1}"})
    except FETCH_ERRORS as exc:
        return Check("range", url, False, f"cannot fetch: {_reason(exc)}")
    if status != 206:
        return Check("range", url, False, f"HTTP {status} to a Range request (expected 206)")
    content_range = {k.lower(): v for k, v in headers.items()}.get("content-range", "")
    expected = f"bytes {start}-{video.size - 1}/{video.size}"
    if content_range != expected:
        return Check("range", url, False, f"Content-Range {content_range!r}, expected {expected!r}")
    if video.source is not None:
        with open(video.source, "rb") as stream:
            stream.seek(start)
            if stream.read() != body:
                return Check("range", url, False, "the bytes served differ from the built file")
    return Check("range", url, True, f"206 {content_range}")


def _check_alias(base: str, alias: Alias, timeout: float) -> Check:
    """A media alias answers a Range request with the video's bytes; a page alias is a page
    whose canonical link names its target."""
    url = page_url(base, alias.path)
    if alias.video is not None:
        check = _check_range(url, alias.video, timeout)
        return Check("alias", url, check.ok, check.detail)
    body, detail = _fetch(url, timeout)
    if body is None:
        return Check("alias", url, False, detail)
    # The canonical link is absolute on the site's own URL, which may not be the one verified.
    canonical = re.compile(rb'<link rel="canonical" href="[^"]*/' + re.escape(alias.target.encode()) + rb'">')
    if not canonical.search(body):
        return Check("alias", url, False, f"no canonical link to {alias.target}")
    return Check("alias", url, True, f"redirects to {alias.target}")


def _check_feed(url: str, timeout: float) -> Check:
    body, detail = _fetch(url, timeout)
    if body is None:
        return Check("feed", url, False, detail)
    problem = feed_problem(body)
    return Check("feed", url, problem is None, problem or "parses")


def feed_problem(body: bytes) -> str | None:
    """None when `body` is a feed that parses; else what is wrong with it."""
    try:
        import feedparser
    except ImportError:  # feedparser is a dependency; this keeps a broken install honest
        import xml.etree.ElementTree as ElementTree
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as exc:
            return f"not well-formed XML: {exc}"
        return None if root.tag.rsplit("}", 1)[-1] in ("feed", "rss") else f"root element {root.tag}"
    parsed = feedparser.parse(body)
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"),
                                             feedparser.CharacterEncodingOverride):
        return f"does not parse: {parsed.get('bozo_exception')}"
    if not parsed.get("version"):
        return "not an Atom or RSS feed"
    return None


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", exc))
