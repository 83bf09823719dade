"""Publishing the built site: releases and the atomic switch, local and rsync transports,
verification of the live site. `alpha deploy` (pipeline.commands.deploy) is the front end.

    site.py      the built site, dereferenced and hashed; what goes to the store
    release.py   the layout on a target, release manifests and ids
    plan.py      what a deploy will upload, delete and switch (all a dry run does)
    transport.py LocalTarget (a directory here) and RemoteTarget (ssh + rsync), and their locks
    deployer.py  the steps, in the order that keeps the live site whole; rollback
    verify.py    HTTP checks of the live site after the switch
    proc.py      rsync runs and their byte counts; children that die with the deploy
    hooks.py     test hooks that pause or kill a deploy at named points
"""

from __future__ import annotations

from pathlib import Path

from ..project.schema import DeployTarget
from .transport import LocalTarget, RemoteTarget, Target


def open_target(name: str, settings: DeployTarget, project_root: Path) -> Target:
    """The target `name`; a relative local path is relative to the project root."""
    if settings.kind == "local":
        path = Path(settings.path).expanduser()
        return LocalTarget(name, settings, path if path.is_absolute() else project_root / path)
    return RemoteTarget(name, settings)
