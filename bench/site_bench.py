"""How fast is `alpha build site`, next to MkDocs? Rerunnable: `python bench/site_bench.py`.

In a temporary folder, synthesises a project of 1,000 rendered episodes and 1,000 blog posts:
manifests, media, an alpha.lock that the plan finds up to date, and small stand-in files in
the store (a few KB of bytes per video, tiny real PNGs for the proof images: frame@2s,
frame@5s, face@5s, compare@5s) — no video is rendered, so the numbers are the site build's
own. Each post is a few hundred words of Markdown with headings, a list, a table, code,
links, and shortcodes that embed an episode's video and proof images.

Then, in the same run and on the same machine, times:

- alpha, cold: the first build (display JPEGs of proof images come with the renders, as the
  proof stage makes them);
- alpha, full build after an edit: one post changed and the Markdown cache dropped, so every
  post is converted, every page rendered, link-checked and written again (posters, which are
  render outputs, are reused) — the number the target is about;
- alpha, a rebuild with nothing changed (for information);
- MkDocs: `mkdocs build` of 2,000 Markdown pages with the same text (the 1,000 post bodies,
  shortcodes turned into plain Markdown images and links, and 1,000 episode pages made of the
  words the episode pages show), default theme and plugins; once with MkDocs' default nav
  (none configured: every page lists all 2,000 in its sidebar, which is quadratic) and once
  with a short nav.

Target: alpha's full build >= 5x MkDocs' pages/s (MkDocs as configured by default), counting
only the 2,000 content pages for both (alpha also writes catalog, blog, tag and fix pages,
feeds and a sitemap). Prints a table, writes bench/out/site.json, exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.plan.hashing import HashCache, hash_file  # noqa: E402
from pipeline.plan.lock import Lock, write_lock  # noqa: E402
from pipeline.plan.plan import plan_project  # noqa: E402
from pipeline.project.load import load_project  # noqa: E402
from pipeline.store import Store  # noqa: E402

OUT = ROOT / "bench" / "out" / "site.json"
TARGET_RATIO = 5.0
TODAY = dt.date(2026, 11, 25)
TAGS = [f"topic-{index}" for index in range(30)]
WORDS = ("the mouth seam frame crop blend colour membrane gradient poisson restore checkpoint voice "
         "foley episode render proof paste back mask feather edge drift model latent sync host series "
         "camera light shadow rain chimes studio portrait lip jaw teeth detail sharp soft").split()


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[:1].upper() + text[1:] + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(3, 6)))


# --- the project ---------------------------------------------------------------------------


def make_project(root: Path, episodes: int, posts: int, seed: int = 7) -> dict:
    import cv2
    import numpy as np

    rng = random.Random(seed)
    (root / "episodes").mkdir(parents=True)
    (root / "posts").mkdir()
    media = root / "media"
    media.mkdir()
    shutil.copytree(ROOT / "pipeline" / "demo" / "project" / "templates", root / "templates")
    cv2.imwrite(str(media / "portrait.jpg"), np.full((64, 64, 3), 128, np.uint8))
    for index in range(20):
        (media / f"voice{index:02d}.wav").write_bytes(os.urandom(2048))
    (root / "alpha.yaml").write_text("""\
name: Bench
site: {url: "https://bench.example.org/", title: Bench series, description: A synthetic series.}
fixes:
  - {id: TASK-097, layer: source, title: Flux restyle at 0.5, settings: {source.flux.strength: 0.5}}
  - {id: TASK-098, layer: lipsync, title: The 1.6 checkpoint, settings: {lipsync.checkpoint: "1.6"}}
  - {id: TASK-099, layer: restore, title: Feathered mouth mask, settings: {restore.blur: 15, restore.erode: 6}}
  - {id: TASK-101, layer: restore, title: Poisson paste-back, settings: {restore.blend: poisson}}
defaults:
  lipsync: {backend: none, checkpoint: "1.6"}
  restore: {blend: poisson, blur: 15, erode: 6}
  video: {width: 640, height: 640}
  proof: {at: [5]}
  fixes: [TASK-098, TASK-099, TASK-101]
""")
    ids = [f"ep{index:04d}" for index in range(episodes)]
    start = dt.date(2020, 1, 1)
    for index, name in enumerate(ids):
        date = start + dt.timedelta(days=index * 2)
        extra = "restore: {blend: alpha, blur: 0, erode: 0}\n" if index % 7 == 0 else ""
        (root / "episodes" / f"{name}.yaml").write_text(
            f"title: Episode {index} — {sentence(rng, 4)[:-1]}\ndate: {date.isoformat()}\n"
            f"description: {sentence(rng, 16)}\ntags: [{rng.choice(TAGS)}, {rng.choice(TAGS)}]\n"
            f"source: {{image: media/portrait.jpg}}\naudio: {{voice: media/voice{index % 20:02d}.wav}}\n"
            f"proof: {{at: [2, 5]}}\n{extra}")
    post_bodies = []
    for index in range(posts):
        episode = rng.choice(ids)
        other = rng.choice(ids)
        date = start + dt.timedelta(days=index * 2 + 1)
        body = "\n\n".join([
            paragraph(rng),
            f"{{{{< video {episode} >}}}}",
            "## " + sentence(rng, 4)[:-1],
            paragraph(rng) + f" See [the episode](episode:{other}) and [the fix](fix:TASK-101).",
            "\n".join(f"- {sentence(rng, 7)}" for _ in range(4)),
            f'{{{{< proof {episode} frame@5s "{sentence(rng, 5)}" >}}}}',
            "| Figure | Before | After |\n|---|---|---|\n" + "\n".join(
                f"| {rng.choice(WORDS)} | {rng.random():.3f} | {rng.random():.3f} |" for _ in range(4)),
            "```python\nrestorer = Restorer(blend=\"poisson\")\nframe = restorer.restore_img(frame, face, affine)\n```",
            "## " + sentence(rng, 3)[:-1],
            paragraph(rng),
            paragraph(rng) + " It uses {{< fix TASK-099 >}} as well.",
        ])
        post_bodies.append((index, date, episode, body))
        (root / "posts" / f"{date.isoformat()}-post-{index:04d}.md").write_text(
            f"---\ntitle: Post {index} — {sentence(rng, 5)[:-1]}\ndate: {date.isoformat()}\n"
            f"tags: [{rng.choice(TAGS)}, {rng.choice(TAGS)}]\nepisodes: [{episode}]\nfixes: [TASK-099, TASK-101]\n"
            f"---\n{body}\n")
    record_renders(root, ids)
    return {"ids": ids, "posts": post_bodies}


def record_renders(root: Path, ids: list[str]) -> None:
    """Write stand-in outputs into the store and a lock that the plan finds up to date."""
    import cv2
    import numpy as np

    project = load_project(root)
    hashes = HashCache(root, project.state_dir / "cache" / "hashes.json")
    store = Store(project.state_dir)
    plans = plan_project(project, Lock(project.lock_path), hashes)
    lock = Lock(project.lock_path)
    rng = np.random.default_rng(3)
    now = "2026-11-20T12:00:00Z"

    def put(data: bytes, ext: str) -> dict:
        with store.temporary(ext) as temp:
            temp.write_bytes(data)
            digest = store.put(temp, ext)
        return {"path": store.relative(digest, ext), "hash": digest}

    def png(seed: int, size: tuple[int, int]) -> bytes:
        pixels = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
        return cv2.imencode(".png", pixels)[1].tobytes()

    def jpeg(seed: int, size: tuple[int, int]) -> bytes:
        pixels = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
        return cv2.imencode(".jpg", pixels)[1].tobytes()

    for number, plan in enumerate(plans):
        outputs = {
            "source": {"media": {"path": "media/portrait.jpg", "hash": hash_file(root / "media/portrait.jpg")}},
            "lipsync": {"video": put(os.urandom(4096), ".mp4")},
            "mux": {"video": put(os.urandom(6144), ".mp4")},
            "proof": {},
        }
        outputs["source"]["media"] = put((root / "media/portrait.jpg").read_bytes(), ".jpg")
        sizes = {"frame@2s": [96, 96], "frame@5s": [96, 96], "face@5s": [48, 64], "compare@5s": [144, 64]}
        for index, (name, size) in enumerate(list(sizes.items())):
            outputs["proof"][name] = put(png(number * 10 + index, tuple(size)), ".png")
            # The display copies the proof stage renders beside each PNG (see stages/proof.py).
            for view in ("view", "thumb") if name.startswith("frame@") else ("view",):
                outputs["proof"][f"{name}:{view}"] = put(jpeg(number * 10 + index, tuple(size)), ".jpg")
                sizes[f"{name}:{view}"] = size
        metrics = {
            "source": {},
            "lipsync": {"duration": 42.0, "frames": 1050, "faces_missed": int(rng.integers(0, 3)),
                        "restore": {"frames": 1050, "fallbacks": 0, "seam_rect_mean": float(rng.random()),
                                    "seam_inner_mean": float(rng.random()), "seam_temporal_mean": float(rng.random())}},
            "mux": {"duration": 42.0, "width": 640, "height": 640, "fps": 25.0},
            "proof": {"clamped_to_end": [], "sizes": sizes},
        }
        stages = {}
        for stage_plan in plan.stages:
            name = stage_plan.stage.name
            stages[name] = {**stage_plan.key.record(), "upstream": {}, "outputs": outputs.get(name, {}),
                            "metrics": metrics.get(name, {}), "seconds": 1.5}
        lock.episodes[plan.id] = {
            "version": 1 + number % 4, "rendered_at": now, "stages": stages,
            "history": [{"version": version, "at": now, "action": "render",
                         "reasons": [{"kind": "new"}] if version == 1 else
                         [{"kind": "param", "field": "restore.blend", "old": "alpha", "new": "poisson"}]}
                        for version in range(1, 2 + number % 4)],
        }
    write_lock(lock)
    hashes.save()


# --- MkDocs --------------------------------------------------------------------------------


_SHORTCODE = re.compile(r"\{\{<\s*(\w+)\s+([^\s>]+)[^>]*>\}\}")
_REF_LINK = re.compile(r"\]\((episode|fix|post|tag):([^)]+)\)")


def plain_markdown(body: str) -> str:
    """The post's text with shortcodes and reference links as plain Markdown."""
    def shortcode(match: re.Match) -> str:
        kind, ref = match.group(1), match.group(2)
        if kind == "video":
            return f"[![{ref}](img/poster.png)](episodes/{ref}.md)"
        if kind == "proof":
            return f"![proof of {ref}](img/poster.png)"
        return f"`{ref}`"

    body = _SHORTCODE.sub(shortcode, body)
    return _REF_LINK.sub(lambda m: f"](episodes/{m.group(2)}.md)" if m.group(1) == "episode" else "](index.md)", body)


def make_mkdocs(folder: Path, project: Path, made: dict, nav: str) -> None:
    """The MkDocs project. nav "default": none given, so MkDocs lists every page in every
    page's sidebar (what a user gets from `mkdocs new` and 2,000 pages); "short": one entry
    (the other pages are still built, and MkDocs says they are not in the nav)."""
    import cv2
    import numpy as np

    docs = folder / "docs"
    (docs / "episodes").mkdir(parents=True)
    (docs / "posts").mkdir()
    (docs / "img").mkdir()
    cv2.imwrite(str(docs / "img" / "poster.png"), np.full((96, 96, 3), 90, np.uint8))
    (docs / "index.md").write_text("# Bench series\n\nA synthetic series.\n")
    for index, date, _episode, body in made["posts"]:
        (docs / "posts" / f"post-{index:04d}.md").write_text(
            f"---\ntitle: Post {index}\ndate: {date.isoformat()}\n---\n# Post {index}\n\n"
            + plain_markdown(body).replace("](episodes/", "](../episodes/") + "\n")
    for name in made["ids"]:
        text = (project / "episodes" / f"{name}.yaml").read_text()
        title = re.search(r"^title: (.*)$", text, re.M).group(1)
        description = re.search(r"^description: (.*)$", text, re.M).group(1)
        (docs / "episodes" / f"{name}.md").write_text(
            f"# {title}\n\n![poster](../img/poster.png)\n\n{description}\n\n"
            "## Fix stack\n\n| Layer | Fix | Source id |\n|---|---|---|\n"
            "| lipsync | The 1.6 checkpoint | TASK-098 |\n| restore | Feathered mouth mask | TASK-099 |\n"
            "| restore | Poisson paste-back | TASK-101 |\n\n## Proof frames\n\n![frame](../img/poster.png)\n\n"
            "## Quality\n\n| Figure | Value |\n|---|---|\n| faces missed | 0 |\n| seam rect mean | 0.25 |\n\n"
            "## Version history\n\n- v2: restore.blend: \"alpha\" → \"poisson\"\n- v1: first render\n")
    config = ("site_name: Bench series\nsite_url: https://bench.example.org/\ndocs_dir: docs\nsite_dir: site\n"
              "theme: {name: mkdocs}\n")
    if nav == "short":
        config += "nav:\n  - Home: index.md\n"
    (folder / "mkdocs.yml").write_text(config)


def time_mkdocs(folder: Path, expected: int) -> float:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    command = [str(mkdocs) if mkdocs.exists() else "mkdocs", "build", "--quiet", "--clean", "-f",
               str(folder / "mkdocs.yml")]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mkdocs build failed:\n{done.stderr[-2000:]}")
    pages = sum(1 for _ in (folder / "site").rglob("*.html"))
    if pages < expected:
        raise SystemExit(f"mkdocs wrote only {pages} pages")
    return seconds


# --- the run -------------------------------------------------------------------------------


def time_alpha(project: Path, edit: int | None = None, drop_markdown_cache: bool = False) -> tuple[float, object]:
    """One `alpha build site`. With `edit`, one post is changed first (so the build id, and with
    it every page, changes); with `drop_markdown_cache`, every post is converted again."""
    from pipeline.site.build import build_site

    if edit is not None:
        post = sorted((project / "posts").glob("*.md"))[edit]
        post.write_text(post.read_text() + f"\nEdited for run {edit}.\n")
    if drop_markdown_cache:
        (project / ".alpha" / "cache" / "site-markdown.pickle").unlink(missing_ok=True)
    started = time.perf_counter()
    result = build_site(project, today=TODAY)
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="full alpha builds after an edit (the median counts)")
    parser.add_argument("--mkdocs-runs", type=int, default=2, help="MkDocs builds per nav setting (the best counts)")
    parser.add_argument("--mkdocs-nav", choices=["default", "short", "both"], default="both",
                        help="MkDocs' nav: its default (every page in every page's sidebar), a short one, or both")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alpha-site-bench-"))
    try:
        print(f"synthesising {args.episodes} rendered episodes and {args.posts} posts in {work} "
              "(a lock and small stand-in store files: no video is rendered) ...", file=sys.stderr)
        started = time.perf_counter()
        project = work / "project"
        made = make_project(project, args.episodes, args.posts)
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        content = args.episodes + args.posts

        cold, result = time_alpha(project)
        time_alpha(project)  # the spare folder beside site/ now exists, as it does after any build
        full_times = []
        for run in range(max(1, args.runs)):
            seconds, result = time_alpha(project, edit=run, drop_markdown_cache=True)
            full_times.append(seconds)
        full = statistics.median(full_times)
        unchanged, _ = time_alpha(project)
        assert result.episodes == args.episodes and result.posts == args.posts, result

        navs = ["default", "short"] if args.mkdocs_nav == "both" else [args.mkdocs_nav]
        mkdocs: dict[str, dict] = {}
        for nav in navs:
            folder = work / f"mkdocs-{nav}"
            make_mkdocs(folder, project, made, nav)
            times = [time_mkdocs(folder, content) for _ in range(max(1, args.mkdocs_runs))]
            mkdocs[nav] = {"seconds": [round(t, 3) for t in times], "best_seconds": round(min(times), 3),
                           "pages_per_second": round(content / min(times), 1)}

        alpha_rate = content / full
        gate = "default" if "default" in mkdocs else navs[0]
        ratios = {nav: round(alpha_rate / data["pages_per_second"], 2) for nav, data in mkdocs.items()}
        met = ratios[gate] >= TARGET_RATIO
        report = {
            "note": "synthesised project: a lock and small stand-in store files, no video rendered",
            "episodes": args.episodes, "posts": args.posts, "content_pages": content,
            "alpha": {
                "html_pages": result.pages, "files": result.files,
                "cold_seconds": round(cold, 3),
                "full_build_seconds": [round(t, 3) for t in full_times],
                "full_build_median_seconds": round(full, 3),
                "full_build_content_pages_per_second": round(alpha_rate, 1),
                "full_build_html_pages_per_second": round(result.pages / full, 1),
                "unchanged_rebuild_seconds": round(unchanged, 3),
                "workers": int(os.environ.get("ALPHA_SITE_WORKERS", "0")) or "auto",
            },
            "mkdocs": mkdocs, "ratios": ratios, "gate": gate,
            "target_ratio": TARGET_RATIO, "met": met,
            "python": sys.version.split()[0], "cpus": os.cpu_count(),
        }
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(report, indent=2) + "\n")

        print("site build, synthesised project (a lock and stand-in store files; no video rendered)")
        print(f"{content} content pages ({args.episodes} episodes + {args.posts} posts); "
              f"alpha writes {result.pages} HTML pages in all")
        print(f"  {'':<44}{'seconds':>9}{'pages/s':>10}")
        print(f"  {'alpha, cold (first build)':<44}{cold:>9.2f}{content / cold:>10.0f}")
        print(f"  {'alpha, full build after an edit (median)':<44}{full:>9.2f}{alpha_rate:>10.0f}")
        print(f"  {'alpha, rebuild with nothing changed':<44}{unchanged:>9.2f}{content / unchanged:>10.0f}")
        for nav, data in mkdocs.items():
            label = f"mkdocs build, {'default nav (all pages)' if nav == 'default' else 'short nav'} (best)"
            print(f"  {label:<44}{data['best_seconds']:>9.2f}{data['pages_per_second']:>10.0f}"
                  f"   alpha is {ratios[nav]:.1f}x")
        print(f"  target: >= {TARGET_RATIO:.0f}x MkDocs ({gate} nav): {'met' if met else 'MISSED'}")
        print(f"  wrote {OUT.relative_to(ROOT)}")
        return 0 if met else 1
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
