"""How fast is `alpha status` on a big project? Rerunnable: `python bench/status_bench.py`.

Builds 1,000 episodes over about 1 GB of media in a temporary folder, records them all as
rendered, then times, in the same run and on the same files:

- `cat` of all the media from the page cache (the floor any hashing must be compared to);
- a cold `alpha status` (no hash cache) and a warm one (hash cache present);
- `alpha --help`, the command's own start-up time.

Targets (issue 2): hashing part of a cold status (cold - warm) <= 2x cat; warm status <= 4x
start-up. Prints a table, writes bench/out/status.json, exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.plan.hashing import HashCache  # noqa: E402
from pipeline.plan.lock import read_lock, write_lock  # noqa: E402
from pipeline.plan.plan import plan_project  # noqa: E402
from pipeline.project.load import load_project  # noqa: E402

ALPHA = [sys.executable, "-m", "pipeline"]


def build_project(root: Path, episodes: int, media_bytes: int) -> list[Path]:
    """A project of `episodes` episodes whose voice tracks add up to `media_bytes`."""
    media = root / "media"
    media.mkdir(parents=True)
    (root / "episodes").mkdir()
    (media / "face.jpg").write_bytes(os.urandom(200_000))
    (media / "rain.wav").write_bytes(os.urandom(500_000))
    (root / "alpha.yaml").write_text(
        "name: Bench\n"
        "fixes:\n  - {id: TASK-101, layer: restore, title: Poisson, settings: {restore.blend: poisson}}\n"
        "defaults:\n  lipsync: {backend: preview}\n  restore: {blend: poisson, blur: 15, erode: 6}\n"
        "  fixes: [TASK-101]\n")
    per_file = media_bytes // episodes
    files = [media / "face.jpg", media / "rain.wav"]
    block = os.urandom(per_file)
    for index in range(episodes):
        voice = media / f"ep{index:04d}.wav"
        # Distinct content per file (a different prefix), so no hash can be shared.
        voice.write_bytes(index.to_bytes(8, "little") + block[8:])
        files.append(voice)
        (root / "episodes" / f"ep{index:04d}.yaml").write_text(
            f"title: Episode {index}\ndate: 2026-01-01\ndescription: Bench episode {index}.\n"
            f"tags: [bench, t{index % 10}]\nsource: {{image: media/face.jpg}}\n"
            f"audio:\n  voice: media/ep{index:04d}.wav\n  foley:\n    - {{path: media/rain.wav, gain_db: -20}}\n"
            f"proof: {{at: [2, 5]}}\n")
    return files


def record_all_rendered(root: Path) -> None:
    """Record every episode's current keys in alpha.lock, with small stand-in output files."""
    project = load_project(root)
    lock = read_lock(project.lock_path)
    hashes = HashCache(root, root / ".alpha/cache/hashes.json")
    store = root / ".alpha/store"
    store.mkdir(parents=True, exist_ok=True)
    for plan in plan_project(project, lock, hashes):
        stages = {}
        for stage_plan in plan.stages:
            out = store / f"{plan.id}-{stage_plan.stage.name}.bin"
            out.write_bytes(f"{plan.id}/{stage_plan.stage.name}".encode())
            relative = str(out.relative_to(root))
            stages[stage_plan.stage.name] = {**stage_plan.key.record(), "upstream": {},
                                             "outputs": {"out": {"path": relative, "hash": hashes.hash(relative)}},
                                             "metrics": {}}
        lock.episodes[plan.id] = {"version": 1, "rendered_at": "2026-01-01T00:00:00Z",
                                  "stages": stages, "history": [{"version": 1, "reasons": [{"kind": "new"}]}]}
    write_lock(lock)
    hashes.save()


def timed(command: list[str], cwd: Path, expect: int = 0) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="alpha-status-bench-"))
    try:
        print(f"building {args.episodes} episodes over {args.megabytes} MB in {root} ...", file=sys.stderr)
        files = build_project(root, args.episodes, args.megabytes << 20)
        record_all_rendered(root)
        total = sum(f.stat().st_size for f in files)
        cache = root / ".alpha/cache/hashes.json"
        check = [*ALPHA, "status", "--check"]

        cat_times, cold_times, warm_times, help_times = [], [], [], []
        for _ in range(args.repeat):
            timed(["cat", *map(str, files)], root)  # make sure the page cache holds it all
            cat_times.append(timed(["cat", *map(str, files)], root))
            cache.unlink()
            cold_times.append(timed(check, root))
            warm_times.append(timed(check, root))
            help_times.append(timed([*ALPHA, "--help"], root))

        cat_s, cold_s, warm_s, help_s = (statistics.median(t) for t in
                                         (cat_times, cold_times, warm_times, help_times))
        hashing_s = cold_s - warm_s
        results = {
            "episodes": args.episodes, "media_bytes": total,
            "cat_s": cat_s, "cold_status_s": cold_s, "warm_status_s": warm_s, "startup_s": help_s,
            "hashing_s": hashing_s, "hashing_vs_cat": hashing_s / cat_s, "warm_vs_startup": warm_s / help_s,
            "hash_gb_per_s": total / hashing_s / 1e9 if hashing_s > 0 else None,
        }
        targets = [("hashing part of cold status <= 2x cat", results["hashing_vs_cat"] <= 2.0),
                   ("warm status <= 4x start-up (alpha --help)", results["warm_vs_startup"] <= 4.0)]
        print(f"\nmedia: {total / 1e9:.2f} GB in {len(files)} files, {args.episodes} episodes "
              f"(median of {args.repeat})")
        print(f"{'cat (page cache)':<34}{cat_s * 1000:9.0f} ms")
        print(f"{'alpha status, cold':<34}{cold_s * 1000:9.0f} ms")
        print(f"{'alpha status, warm':<34}{warm_s * 1000:9.0f} ms")
        print(f"{'hashing part (cold - warm)':<34}{hashing_s * 1000:9.0f} ms  "
              f"= {results['hashing_vs_cat']:.2f}x cat, {results['hash_gb_per_s'] or 0:.1f} GB/s")
        print(f"{'alpha --help (start-up)':<34}{help_s * 1000:9.0f} ms  "
              f"warm status = {results['warm_vs_startup']:.2f}x start-up")
        for name, ok in targets:
            print(f"{'PASS' if ok else 'FAIL'}  {name}")
        out = Path(__file__).resolve().parent / "out"
        out.mkdir(exist_ok=True)
        results["targets"] = {name: ok for name, ok in targets}
        (out / "status.json").write_text(json.dumps(results, indent=2) + "\n")
        return 0 if all(ok for _, ok in targets) else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
