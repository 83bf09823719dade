"""What a site build was made from, so that `alpha deploy` can tell whether site/ is current.

After each build, the project files a build reads (alpha.yaml, alpha.lock, episodes/, posts/,
templates/) are recorded with their content hashes, beside the build id and alpha's version, in
the project's state folder (not in site/: a release holds exactly the site's files, and file
names of drafts are nobody's business). Comparing that record with the files now names what
changed since site/ was built.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import xxhash

from ..atomic import atomic_write_text
from ..workspace import Workspace

FORMAT = 1
FOLDERS = ("episodes", "posts", "templates")
FILES = ("alpha.yaml", "alpha.lock")


def _record_file(workspace: Workspace, output: Path) -> Path:
    key = xxhash.xxh3_64_hexdigest(os.fspath(output.resolve()).encode())[:12]
    return workspace.project.state_dir / "cache" / f"site-inputs-{key}.json"


def current_inputs(workspace: Workspace) -> dict[str, str]:
    """Every file a build reads, project-relative, with its content hash (stat-cached)."""
    root = workspace.project.root
    names = [name for name in FILES if (root / name).is_file()]
    for folder in FOLDERS:
        for base, dirs, files in os.walk(root / folder, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            names += [os.path.relpath(os.path.join(base, name), root) for name in files if not name.startswith(".")]
    inputs = {}
    for name in sorted(names):
        digest = workspace.hashes.hash_if_exists(name)
        if digest is not None:
            inputs[name] = digest
    return inputs


def record_inputs(workspace: Workspace, output: Path, build_id: str, drafts: bool, portable: bool) -> None:
    from .. import __version__

    record = {"format": FORMAT, "build_id": build_id, "drafts": drafts, "portable": portable,
              "generator": f"alpha {__version__}", "inputs": current_inputs(workspace)}
    workspace.hashes.save()
    path = _record_file(workspace, output)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, sort_keys=True) + "\n")


def changes_since_build(workspace: Workspace, output: Path, build_id: str) -> list[str] | None:
    """What changed since the build `build_id` in `output` was made: a list of lines such as
    "posts/welcome.md changed"; empty when it is current; None when no record of that build
    exists (made by another tool or another machine)."""
    from .. import __version__

    try:
        record = json.loads(_record_file(workspace, output).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("build_id") != build_id:
        return None
    before: dict[str, str] = record.get("inputs") or {}
    now = current_inputs(workspace)
    workspace.hashes.save()
    changes = [f"{name} changed" for name in sorted(before.keys() & now.keys()) if before[name] != now[name]]
    changes += [f"{name} added" for name in sorted(now.keys() - before.keys())]
    changes += [f"{name} removed" for name in sorted(before.keys() - now.keys())]
    if record.get("generator") != f"alpha {__version__}":
        changes.append(f"alpha upgraded: {record.get('generator')} → alpha {__version__}")
    return changes


def built_with(workspace: Workspace, output: Path, build_id: str) -> dict:
    """The recorded drafts and portable modes of that build (empty when unknown)."""
    try:
        record = json.loads(_record_file(workspace, output).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) and record.get("build_id") == build_id else {}
