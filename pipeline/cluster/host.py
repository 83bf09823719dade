"""A render host's own settings: read by the worker on that host, never sent by the controller.

Where LatentSync, its Python and the weights live differs from host to host, so it cannot come
from the project's alpha.yaml. Each host says it in a small YAML file (`schema.HostSettings`),
found through ALPHA_HOST_FILE, else at ~/.config/alpha/host.yaml; without either the defaults
apply. The variable must be set where `ray start` runs: Ray's workers inherit its environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..project.load import load_host_file
from ..project.schema import HostSettings, LatentSyncSettings, ProjectSettings

HOST_FILE_VARIABLE = "ALPHA_HOST_FILE"
DEFAULT_HOST_FILE = "~/.config/alpha/host.yaml"


@dataclass(frozen=True)
class Host:
    settings: HostSettings
    file: Path | None  # None: no host file, the defaults

    @property
    def cache(self) -> Path:
        return self._resolve(self.settings.cache)

    def latentsync(self, project: LatentSyncSettings) -> LatentSyncSettings:
        """The project's LatentSync settings with this host's checkout and Python.

        The checkpoint registry (which config goes with which release) stays the project's: it
        is part of what a render means, and paths in it are relative to the checkout.
        """
        own = self.settings.latentsync
        return project.model_copy(update={
            "root": str(self._resolve(own.root)) if own.root else None,
            "python": str(self._resolve(own.python)) if own.python else None,
        })

    def project_settings(self, project: ProjectSettings) -> ProjectSettings:
        return project.model_copy(update={"latentsync": self.latentsync(project.latentsync)})

    def _resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        if not path.is_absolute() and self.file is not None:
            path = self.file.parent / path
        return path


def load_host() -> Host:
    """This host's settings; raises ManifestError (file:line: key) on a bad host file."""
    named = os.environ.get(HOST_FILE_VARIABLE)
    if named:
        path = Path(named).expanduser().resolve()
        return Host(load_host_file(path), path)
    path = Path(DEFAULT_HOST_FILE).expanduser()
    if path.is_file():
        return Host(load_host_file(path), path.resolve())
    return Host(HostSettings(), None)
