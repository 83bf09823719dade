"""`alpha init`: scaffold the demo project, sample media included."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from ..console import info
from ..errors import UserError

# Voice lengths (seconds) and seeds of the demo episodes; the foley loops under them.
VOICES = {"ep01-voice.wav": (7.0, 1), "ep02-voice.wav": (8.5, 2), "ep03-voice.wav": (9.5, 3)}
FOLEY = {"room.wav": ("room", 6.0, 11), "rain.wav": ("rain", 6.0, 12), "chimes.wav": ("chimes", 6.0, 13)}

# A project lives in git: manifests, posts, media and alpha.lock are committed; the store, the
# built site (and its spare folder beside it) and `alpha proof` images are made again from them.
GITIGNORE = """\
# Made by alpha from the committed files: the store, the built site, proof images.
/.alpha/
/site/
/.site.spare/
/proofs/
"""


def scaffold_files() -> dict[str, bytes]:
    """The demo's manifests, posts and .gitignore, by project-relative path."""
    root = resources.files("pipeline.demo") / "project"
    files: dict[str, bytes] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            else:
                files[f"{prefix}{child.name}"] = child.read_bytes()

    walk(root, "")
    files[".gitignore"] = GITIGNORE.encode()
    return files


def write_media(media: Path) -> None:
    from ..demo import synth_foley, synth_speech, write_portrait

    media.mkdir(parents=True, exist_ok=True)
    write_portrait(media / "portrait.jpg")
    for name, (seconds, seed) in VOICES.items():
        synth_speech(media / name, seconds=seconds, seed=seed)
    for name, (kind, seconds, seed) in FOLEY.items():
        synth_foley(media / name, kind=kind, seconds=seconds, seed=seed)


def init(directory: Path) -> int:
    target = directory.resolve()
    if target.exists() and not target.is_dir():
        raise UserError(f"{directory} is a file, not a folder: init needs a new or existing folder")
    files = scaffold_files()
    clashes = [name for name in [*files, "media"] if (target / name).exists()]
    if clashes:
        raise UserError(f"{target} already has {', '.join(sorted(clashes)[:5])}: "
                        "init writes a new project and overwrites nothing")
    # Build everything in a sibling folder, then move it in: an interrupted init leaves no
    # half-written project behind.
    target.mkdir(parents=True, exist_ok=True)
    staging = target / ".alpha-init.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        write_media(staging / "media")
        for entry in sorted(staging.iterdir()):
            destination = target / entry.name
            if destination.exists() and entry.is_dir():
                for child in entry.iterdir():
                    child.rename(destination / child.name)
            else:
                entry.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    info(f"wrote a demo project in {target}: {len(files)} manifest and post files, sample media in media/")
    info("next: `alpha status`, then `alpha render`")
    return 0
