"""The markers a build leaves in rendered text until it can fill them in, and how user text is
kept from ever matching them.

    ROOT   stands for a page's relative root ("../../") in a post's HTML, which is rendered
           once and then placed on pages at several depths
    BUILD  stands for the build id, which is the hash of every file and so known only at the end

Both are made of private-use characters, which a user can still type (or write as `&#xE000;`).
So every place that writes user text into a page, a feed or the sitemap writes those
characters as character references, which display the same: the raw markers left in the
output are then only the build's own. (Shortcode tokens in Markdown are chosen per post so
that no post can contain them: see posts.py.)
"""

from __future__ import annotations

from markupsafe import Markup, escape

ROOT = "\ue000"
BUILD = "\ue001alpha-build\ue001"
_CHARS = ("\ue000", "\ue001")
_AS_REFERENCES = {ord(char): f"&#x{ord(char):X};" for char in _CHARS}
_AS_JSON_ESCAPES = {ord(char): f"\\u{ord(char):04x}" for char in _CHARS}


def holds_marker(text: str) -> bool:
    return "\ue000" in text or "\ue001" in text


def references(html: str) -> str:
    """HTML or XML text with any marker character written as a character reference."""
    return html.translate(_AS_REFERENCES) if holds_marker(html) else html


def json_escapes(json_text: str) -> str:
    """JSON text with any marker character written as a \\u escape."""
    return json_text.translate(_AS_JSON_ESCAPES) if holds_marker(json_text) else json_text


def finalize(value):
    """Jinja's `finalize`: a value a template prints, its marker characters made references.

    Markup passes unchanged: it is the build's own HTML (partials, post HTML, the markers
    themselves), in which user text was already treated."""
    if isinstance(value, str) and not isinstance(value, Markup) and holds_marker(value):
        return Markup(references(str(escape(value))))
    return value
