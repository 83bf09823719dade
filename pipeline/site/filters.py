"""The filters and functions templates use: dates, durations, sizes, links, JSON-LD."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from markupsafe import Markup, escape

from .content import clock
from .markers import ROOT, json_escapes
from .posts import Post


def href(root: str, path: str | None) -> str:
    """A relative link from a page whose root is `root`; never empty (an empty href is a bug)."""
    return Markup(escape(root) + escape(path or "")) if root or path else Markup("./")


def date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


def isodate(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def clock_time(seconds: float | None) -> str:
    """Whole seconds, cut as video players cut them (9.52 s shows as 0:09 there, and here)."""
    return clock(int(seconds)) if seconds is not None else ""


def size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return str(count)


def jsonld(data: Any) -> Markup:
    """JSON for a <script type="application/ld+json">: nothing in it can close the element."""
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(json_escapes(text))


def post_html(post: Post, root: str) -> Markup:
    return Markup(post.html.replace(ROOT, root))


FILTERS = {"date": date, "isodate": isodate, "clock": clock_time, "size": size, "jsonld": jsonld,
           "post_html": post_html}
