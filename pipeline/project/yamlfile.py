"""YAML loading that remembers where every key came from.

Parsing uses libyaml (``CSafeLoader``) when PyYAML has it, so a thousand manifests stay cheap;
the node tree it composes carries line marks, which we keep per key path so that validation
errors can name ``file:line``.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..atomic import atomic_write_bytes
from ..console import warn

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

KeyPath = tuple  # of str | int


@dataclass
class Located:
    """A parsed YAML document with the 1-based line of every key path in it."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    duplicates: list[tuple[KeyPath, int]] = field(default_factory=list)

    def line_of(self, key_path: KeyPath) -> int:
        """Line of ``key_path``, or of its nearest ancestor that has one (1 for the document)."""
        while key_path:
            if key_path in self.lines:
                return self.lines[key_path]
            key_path = key_path[:-1]
        return self.lines.get((), 1)


# A manifest of a thousand lines composes a few thousand nodes; aliases can make a 1 kB file
# expand into billions ("billion laughs"), so construction stops at this many.
MAX_NODES = 100_000


class YamlSyntaxError(ValueError):
    def __init__(self, path: Path, line: int, message: str, key: str = ""):
        super().__init__(f"{path}:{line}: {key + ': ' if key else ''}{message}")
        self.path, self.line, self.message, self.key = path, line, message, key


def parse_yaml(text: str, path: Path) -> Located:
    """Parse one YAML document; an empty document is ``{}``."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(path, {}, {(): 1})
        located = Located(path, None, {(): node.start_mark.line + 1})
        located.data = _Builder(loader, located).construct(node, ())
        return located
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(path, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(path, 1, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def load_yaml(path: Path) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(path, 1, f"not UTF-8 text ({exc.reason})") from None
    return parse_yaml(text, path)


class _Builder:
    """Python values from a composed node tree, keeping each key's line.

    An alias is the very node it names, so a node met again on its own ancestry is a recursive
    alias, and the count of nodes built bounds what aliases expand to.
    """

    def __init__(self, loader, located: Located):
        self.loader, self.located = loader, located
        self.built = 0
        self.ancestry: set[int] = set()

    def fail(self, node, message: str, key_path: KeyPath = ()) -> YamlSyntaxError:
        return YamlSyntaxError(self.located.path, node.start_mark.line + 1, message,
                               ".".join(str(part) for part in key_path))

    def construct(self, node, key_path: KeyPath) -> Any:
        self.built += 1
        if self.built > MAX_NODES:
            raise self.fail(node, f"the document expands to more than {MAX_NODES:,} values "
                                  "(aliases repeating aliases?); write it out plainly")
        if id(node) in self.ancestry:
            raise self.fail(node, "an alias refers to a node that contains it (a recursive alias)")
        if isinstance(node, yaml.MappingNode):
            self.ancestry.add(id(node))
            result: dict = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node, key_path)
                if not isinstance(key, (str, int, float, bool)):
                    raise self.fail(key_node, "mapping keys must be plain scalars")
                key = str(key) if not isinstance(key, str) else key
                child = key_path + (key,)
                line = key_node.start_mark.line + 1
                if key in result:
                    self.located.duplicates.append((child, line))
                self.located.lines[child] = line
                result[key] = self.construct(value_node, child)
            self.ancestry.discard(id(node))
            return result
        if isinstance(node, yaml.SequenceNode):
            self.ancestry.add(id(node))
            items = []
            for index, item in enumerate(node.value):
                child = key_path + (index,)
                self.located.lines[child] = item.start_mark.line + 1
                items.append(self.construct(item, child))
            self.ancestry.discard(id(node))
            return items
        return self.scalar(node, key_path)

    def scalar(self, node, key_path: KeyPath) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "mapping keys must be plain scalars")
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:
            # A value that looks like a timestamp but is no date (2026-13-45, 0000-01-01).
            if node.tag.endswith(":timestamp"):
                raise self.fail(node, f"{node.value!r} is not a valid date ({exc})", key_path) from None
            raise self.fail(node, f"{node.value!r} cannot be read as {node.tag.rsplit(':', 1)[-1]} ({exc})",
                            key_path) from None


# Bump when `Located` changes shape, so caches written by older code are dropped.
_FORMAT = 1
_FORMAT_KEY = "__format__"


class ParseCache:
    """Parsed manifests remembered by stat signature, so a warm run parses no YAML at all.

    A thousand episode files cost ~80 ms to parse even with libyaml; unpickling their parsed
    form costs a few. The cache lives in the project's own state folder and is rewritten
    (atomically) only when a manifest changed.
    """

    def __init__(self, cache_file: Path):
        self.cache_file = cache_file
        self._dirty = False
        try:
            with open(cache_file, "rb") as stream:
                self._entries: dict[str, tuple] = pickle.load(stream)
            if self._entries.get(_FORMAT_KEY) != _FORMAT:
                self._entries = {}
        except FileNotFoundError:
            self._entries = {}
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, OSError) as exc:
            warn(f"manifest cache {cache_file} unreadable ({exc}); parsing every manifest")
            self._entries = {}

    def load(self, path: Path) -> Located:
        return self._remembered(str(path), path, load_yaml)

    def derived(self, path: Path, kind: str, compute):
        """`compute(path)`, remembered by the file's stat signature as parsed manifests are.

        For checks of other files a manifest names (caption files); `kind` keeps them apart.
        """
        return self._remembered(f"{kind}:{path}", path, compute)

    def _remembered(self, key: str, path: Path, compute):
        stat = os.stat(path)
        signature = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == signature:
            return entry[1]
        value = compute(path)
        self._entries[key] = (signature, value)
        self._dirty = True
        return value

    def save(self) -> None:
        if not self._dirty:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        self._entries[_FORMAT_KEY] = _FORMAT
        atomic_write_bytes(self.cache_file, pickle.dumps(self._entries, protocol=pickle.HIGHEST_PROTOCOL))
        self._dirty = False
