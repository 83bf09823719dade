"""The validated project: settings plus resolved episodes. No I/O here."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .schema import Episode, NamedFix, ProjectSettings

STATE_DIR = ".alpha"
LOCK_NAME = "alpha.lock"


@dataclass(frozen=True)
class ResolvedEpisode:
    id: str
    file: Path
    settings: Episode


@dataclass(frozen=True)
class Project:
    root: Path
    settings: ProjectSettings
    episodes: dict[str, ResolvedEpisode]

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def site_dir(self) -> Path:
        return self.root / self.settings.site.output

    def path(self, relative: str) -> Path:
        return self.root / relative

    def fixes_applying_to(self, episode: Episode) -> list[NamedFix]:
        """The named fixes whose every setting holds in the episode's resolved settings.

        A fix applies whether it was listed or the same values were set by hand; values are
        compared after validation, so `1.6` and `"1.6"` are the same checkpoint. A fix that
        does not fit the episode at all (Flux on a video source) does not apply to it.
        """
        return [fix for fix in self.settings.fixes if _fit(episode, fix) is True]

    def fixes_not_fitting(self, episode: Episode) -> list[tuple[NamedFix, str]]:
        """The named fixes that could not be applied to the episode, each with the reason."""
        return [(fix, fit) for fix in self.settings.fixes if isinstance(fit := _fit(episode, fix), str)]


def _fit(episode: Episode, fix: NamedFix) -> bool | str:
    """True when `fix` holds in `episode`, False when it would change it, or why it cannot apply."""
    try:
        return type(episode).model_validate(_with_settings(episode.model_dump(), fix.settings)) == episode
    except ValidationError as exc:
        return "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())


def _with_settings(dumped: dict, settings: dict) -> dict:
    result = copy.deepcopy(dumped)
    for key, value in settings.items():
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return result
