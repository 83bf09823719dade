"""A dict kept between builds in the project's state folder (losing it costs only time)."""

from __future__ import annotations

import pickle
from pathlib import Path

from ..atomic import atomic_write_bytes


class PickleCache:
    FORMAT = 1

    def __init__(self, path: Path):
        self.path = path
        self.dirty = False
        try:
            with open(path, "rb") as stream:
                stored = pickle.load(stream)
            self.data = stored["data"] if stored.get("format") == self.FORMAT else {}
        except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, pickle.UnpicklingError):
            self.data = {}
        self._size = len(self.data)

    def keep_only(self, keys: set[str]) -> None:
        if len(keys) != len(self.data) or not keys.issuperset(self.data):
            self.data = {key: value for key, value in self.data.items() if key in keys}
            self.dirty = True

    def save(self) -> None:
        if not self.dirty and len(self.data) == self._size:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, pickle.dumps({"format": self.FORMAT, "data": self.data},
                                                   protocol=pickle.HIGHEST_PROTOCOL))
