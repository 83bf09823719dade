"""A synthetic built site, as `alpha build site` leaves it: build.json, an Atom feed, HTML pages
that carry their build id, small assets, and 1-2 MB videos that are relative symlinks into the
project's read-only `.alpha/store/` (by hash, as `pipeline.store` names them), plus stable
per-episode aliases `episodes/<id>/video.mp4`."""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.plan.hashing import hash_bytes

VIDEO_SIZE = 1_500_000
SEEDS = {"ep01": 1, "ep02": 2, "ep03": 3}


def video_bytes(seed: int, size: int = VIDEO_SIZE) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass
class Version:
    build_id: str
    files: dict[str, bytes] = field(default_factory=dict)     # every path -> its bytes, dereferenced
    videos: dict[str, str] = field(default_factory=dict)      # episode -> media/<name>.mp4

    def page_paths(self) -> list[str]:
        return [p for p in self.files if p.endswith(".html")]


def build_site(root: Path, build_id: str, seeds: dict[str, int] | None = None, broken_feed: bool = False,
               extra: dict[str, str] | None = None) -> Version:
    """(Re)write `root/site` from scratch, as a builder would (fresh mtimes everywhere)."""
    seeds = dict(SEEDS if seeds is None else seeds)
    site = root / "site"
    store = root / ".alpha" / "store"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    version = Version(build_id)

    def put(path: str, data: bytes) -> None:
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        version.files[path] = data

    def link(path: str, store_file: Path, data: bytes) -> None:
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(store_file, target.parent), target)
        version.files[path] = data

    for episode, seed in seeds.items():
        data = video_bytes(seed)
        digest = hash_bytes(data)
        obj = store / digest[:2] / f"{digest}.mp4"
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            obj.write_bytes(data)
            obj.chmod(0o444)
        name = f"media/{digest[:16]}.mp4"
        version.videos[episode] = name
        link(name, obj, data)
        link(f"episodes/{episode}/video.mp4", obj, data)
        put(f"episodes/{episode}/index.html", page(build_id, f"Episode {episode}",
                                                   f'<video src="/{name}" preload="metadata"></video>'
                                                   f'<img src="poster.jpg">'))
        put(f"episodes/{episode}/poster.jpg", random.Random(seed + 100).randbytes(20_000))
    links = "".join(f'<a href="/episodes/{e}/">{e}</a>' for e in seeds)
    put("index.html", page(build_id, "Home", links))
    put("about/index.html", page(build_id, "About", "<p>about</p>"))
    put("assets/style.css", b"body { font-family: sans-serif }\n" * 40)
    put("assets/app.js", b"console.log('alpha');\n" * 40)
    for path, text in (extra or {}).items():
        put(path, text.encode())
    put("feed.xml", b"<feed><unclosed>" if broken_feed else feed(build_id, seeds))
    put("build.json", json.dumps({"build_id": build_id, "built_at": "2026-03-01T10:00:00Z"}).encode())
    return version


def page(build_id: str, title: str, body: str) -> bytes:
    return (f'<!doctype html><html><head><meta name="build-id" content="{build_id}">'
            f'<link rel="stylesheet" href="/assets/style.css"><title>{title}</title></head>'
            f"<body>{body}</body></html>\n").encode()


def feed(build_id: str, seeds: dict[str, int]) -> bytes:
    entries = "".join(
        f"<entry><id>urn:alpha:{e}</id><title>{e}</title><updated>2026-03-01T10:00:00Z</updated>"
        f'<link href="http://example.org/episodes/{e}/"/></entry>' for e in seeds)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:alpha</id>'
            f"<title>alpha {build_id}</title><updated>2026-03-01T10:00:00Z</updated>"
            f"{entries}</feed>").encode()


def write_config(root: Path, targets: dict[str, dict], default: str | None = None) -> None:
    deploy: dict = {"targets": targets}
    if default:
        deploy["default"] = default
    (root / "alpha.yaml").write_text(json.dumps({"name": "deploytest", "deploy": deploy}, indent=2))
