"""Edits of a manifest that keep the user's file as written: comments, order, quoting, layout.

Only a top-level key with a one-line scalar value is set, by rewriting that one line (or adding
a line at the end). The result is parsed again and must equal the old document with just that
key changed; otherwise nothing is written and the user is asked to edit by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import UserError
from .yamlfile import YamlSyntaxError, parse_yaml

_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./ -]*$")


def yaml_scalar(value: str) -> str:
    """`value` as a one-line YAML string: plain when that reads back the same, else quoted."""
    if _PLAIN.match(value) and value == value.strip() and ": " not in value and " #" not in value:
        try:
            if parse_yaml(f"k: {value}\n", Path("<value>")).data == {"k": value}:
                return value
        except YamlSyntaxError:
            pass
    return json.dumps(value, ensure_ascii=False)


def set_top_level(path: Path, key: str, value: str, shown_as: Path | None = None) -> bool:
    """Set `key: value` at the top level of the YAML mapping in `path`; False if it already was."""
    name = shown_as or path
    text = path.read_text(encoding="utf-8")
    before = parse_yaml(text, name)
    if not isinstance(before.data, dict):
        raise UserError(f"{name}: the document must be a mapping of keys")
    if before.data.get(key) == value:
        return False
    lines = text.splitlines(keepends=True)
    new_line = f"{key}: {yaml_scalar(value)}\n"
    if key in before.data:
        index = before.lines[(key,)] - 1
        if not re.match(rf"^{re.escape(key)}\s*:", lines[index]):
            raise _by_hand(name, index + 1, key, value)
        comment = re.search(r"\s+#.*$", lines[index].rstrip("\n"))
        lines[index] = new_line.rstrip("\n") + (comment.group(0) if comment else "") + "\n"
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(new_line)
    updated = "".join(lines)
    try:
        after = parse_yaml(updated, name).data
    except YamlSyntaxError:
        after = None
    if after != {**before.data, key: value}:
        raise _by_hand(name, before.lines.get((key,), len(lines)), key, value)
    atomic_write_text(path, updated)
    return True


def _by_hand(name: Path, line: int, key: str, value: str) -> UserError:
    return UserError(f"{name}:{line}: {key}: cannot set it without rewriting more than its line "
                     f"(a value over several lines?); set it by hand to {value}")
