"""Episode ids on the command line: exact, or a unique prefix (as git takes commit ids)."""

from __future__ import annotations

import difflib
from typing import Iterable

from ..errors import UserError

LISTED = 20  # valid ids shown in a miss message; a big project has hundreds


def resolve_ids(names: Iterable[str], known: Iterable[str]) -> list[str]:
    """The full episode id of every name, in order, without repeats.

    A name is an id, or the start of exactly one id. An ambiguous or unknown name raises a
    `UserError` (exit 2) that lists the candidates.
    """
    ids = sorted(known)
    resolved: list[str] = []
    for name in names:
        if name in ids:
            resolved.append(name)
            continue
        matches = [episode for episode in ids if episode.startswith(name)] if name else []
        if len(matches) == 1:
            resolved.append(matches[0])
        elif matches:
            raise UserError(f"episode id {name!r} is ambiguous: it starts "
                            f"{_listing(matches)}; give more of it")
        else:
            raise UserError(unknown_message(name, ids))
    return list(dict.fromkeys(resolved))


def near_ids(name: str, ids: list[str], count: int = 3) -> list[str]:
    """The ids most like `name`, comparing it with each id and with each id's start."""
    def likeness(episode: str) -> float:
        # A mistyped prefix ("ep2" for ep02-...) is compared with starts one longer, too.
        return max(difflib.SequenceMatcher(None, name, candidate).ratio()
                   for candidate in (episode, episode[:len(name)], episode[:len(name) + 1]))

    scored = sorted(((likeness(episode), episode) for episode in ids), key=lambda item: (-item[0], item[1]))
    return [episode for score, episode in scored[:count] if score >= 0.7]


def unknown_message(name: str, ids: list[str]) -> str:
    if not ids:
        return f"unknown episode {name!r}: the project has no episodes (episodes/*.yaml)"
    near = near_ids(name, ids)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    return f"unknown episode {name!r}{hint}\nvalid ids: {_listing(ids)}"


def _listing(ids: list[str]) -> str:
    shown = ", ".join(ids[:LISTED])
    return shown + (f", … ({len(ids) - LISTED} more)" if len(ids) > LISTED else "")
