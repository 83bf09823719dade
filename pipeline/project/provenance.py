"""Where each resolved setting of an episode comes from: alpha's built-in default, the
project's `defaults:`, a named fix, or the episode file, each at file:line.

Precedence is the loader's: defaults, then each listed fix in order, then the episode file.
A value that a later layer replaced is kept as "overridden", so that a changed default that a
fix shadows is explained rather than silently without effect.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schema
from .keys import dotted, model_at

BUILT_IN = "built-in"


@dataclass(frozen=True)
class Origin:
    """One layer's say on a setting: `source` is "built-in", "defaults", "fix TASK-098" or "episode"."""

    source: str
    file: str
    line: int
    value: Any

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "file": self.file, "line": self.line, "value": self.value}


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    origin: Origin
    overridden: tuple[Origin, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, **self.origin.as_json(),
                "overrides": [origin.as_json() for origin in self.overridden]}


def explain(episode: schema.Episode, layers: list) -> list[Setting]:
    """Every episode setting of `episode` (resolved) with its origin, given the loader's layers
    (objects with `locate(key_path)`, `value(key_path)`, `document.path`, `document.line_of`, `fix`)."""
    dumped = episode.model_dump(mode="json")
    settings = []
    for key_path, value in _leaves({k: dumped[k] for k in schema.EpisodeSettings.model_fields}, ()):
        said = _trace(key_path, layers)
        origin = said[0] if said else _built_in(key_path, value)
        settings.append(Setting(dotted(key_path), value, origin, tuple(said[1:])))
    return settings


def _leaves(node: Any, prefix: tuple):
    """(key path, value) of every setting; lists of mappings (foley tracks) are walked into."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, prefix + (key,))
    elif isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        for index, item in enumerate(node):
            yield from _leaves(item, prefix + (index,))
    else:
        yield prefix, node


def _trace(key_path: tuple, layers: list) -> list[Origin]:
    """The layers that set `key_path`, the winner first."""
    said = []
    first_index = next((i for i, part in enumerate(key_path) if isinstance(part, int)), None)
    for layer in reversed(layers):
        located = layer.locate(key_path)
        if located is not None:
            source = f"fix {layer.fix}" if layer.fix else ("defaults" if layer.base[:1] == ("defaults",) else "episode")
            said.append(Origin(source, str(layer.document.path), layer.document.line_of(located),
                               layer.value(key_path)))
        elif first_index is not None and layer.locate(key_path[:first_index]) is not None:
            break  # this layer replaced the whole list: nothing below it reaches the setting
    return said


def _built_in(key_path: tuple, value: Any) -> Origin:
    owner = model_at(schema.Episode, key_path[:-1]) or schema.Episode
    line = _field_lines().get((owner.__name__, key_path[-1]), 1)
    return Origin(BUILT_IN, "pipeline/project/schema.py", line, value)


@functools.cache
def _field_lines() -> dict[tuple[str, str], int]:
    """(class name, field name) -> line of its definition in schema.py."""
    tree = ast.parse(Path(schema.__file__).read_text(encoding="utf-8"))
    lines = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    lines[(node.name, item.target.id)] = item.lineno
    return lines
