"""Slugs for URLs, and the identity of a tag, from text in any script.

Slugs are transliterated to ASCII (python-slugify with text-unidecode): "Café crème" gives
`cafe-creme`, "Привет, мир" gives `privet-mir`. ASCII was chosen over Unicode slugs so that
every URL reads the same in a browser, a shell, an nginx log, a feed reader and a file system,
with no percent-encoding, and so that tag and post slugs follow the same rule as episode ids.

Two tags are one tag when their slugs are equal once hyphens are dropped: "Restore",
"restore!" and "re-store" are one tag, so they never show as three badges.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=8192)  # templates ask for the same few tags on every page
def slugify(text: str) -> str:
    """Lowercase ASCII letters, digits and inner hyphens; "" when the text has no letter or digit."""
    from slugify import slugify as transliterate

    return transliterate(text)


def tag_key(name: str) -> str:
    """What makes two tags the same tag: case, punctuation and spacing do not count."""
    return slugify(name).replace("-", "")
