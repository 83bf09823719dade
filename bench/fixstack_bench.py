"""How much model (GPU) work does a fix-stack change cost? Rerunnable: `python bench/fixstack_bench.py`.

Builds a 14-episode project from the demo (every episode on the demo's fix stack), records it
as rendered (the plan's current keys in alpha.lock: `alpha status` compares keys and never
runs anything, so nothing needs rendering), then, for each series-wide change of a named fix,
counts from `alpha status --json` how many episodes would run the `lipsync` stage (the model)
and how many the `restore` stage (the CPU paste-back). Both model backends, in the same run.

Targets (issue 10): after a change of restore.blur, restore.erode or restore.blend, 0 lipsync
runs; after a change of lipsync.checkpoint, 14. Prints a table, writes
bench/out/fixstack.json, exits 1 if a target is missed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from status_bench import record_all_rendered  # noqa: E402  (bench/ is this script's folder)

ALPHA = [sys.executable, "-m", "pipeline"]
EPISODES = 14
# (what changes, the fix whose settings change, old text, new text) in alpha.yaml.
CHANGES = [
    ("restore.blur 15 → 21", "TASK-099", "restore.blur: 15", "restore.blur: 21"),
    ("restore.erode 6 → 3", "TASK-099", "restore.erode: 6", "restore.erode: 3"),
    ("restore.blend poisson → seamless", "TASK-101", "restore.blend: poisson", "restore.blend: seamless"),
    ("lipsync.checkpoint 1.6 → 1.5", "TASK-098", 'lipsync.checkpoint: "1.6"', 'lipsync.checkpoint: "1.5"'),
]


def build_project(root: Path, backend: str) -> None:
    subprocess.run([*ALPHA, "init", str(root)], check=True, capture_output=True)
    template = (root / "episodes/ep02-the-seam.yaml").read_text()
    for path in (root / "episodes").glob("*.yaml"):
        path.unlink()
    for k in range(1, EPISODES + 1):
        (root / f"episodes/ep{k:02d}.yaml").write_text(template.replace("title: The seam", f"title: Episode {k}"))
    config = root / "alpha.yaml"
    text = config.read_text().replace("backend: preview", f"backend: {backend}")
    if backend == "latentsync":
        # Checkpoints to hash (their content is part of the key); no LatentSync runs here.
        checkout = root / "LatentSync"
        for version in ("1.5", "1.6"):
            weights = checkout / f"checkpoints/latentsync-{version}/latentsync_unet.pt"
            weights.parent.mkdir(parents=True)
            weights.write_bytes(f"weights {version}".encode())
        text = re.sub(r"(?m)^  root: .*$", f"  root: {checkout}", text)
    config.write_text(text)


def stage_runs(root: Path) -> dict[str, int]:
    result = subprocess.run([*ALPHA, "-C", str(root), "status", "--json"], capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"alpha status failed:\n{result.stderr[-2000:]}")
    episodes = json.loads(result.stdout)["episodes"]
    counts = {"stale": sum(1 for e in episodes if e["stale"])}
    for name in ("lipsync", "restore"):
        counts[name] = sum(1 for e in episodes for s in e["stages"] if s["name"] == name and s["run"])
    return counts


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="alpha-fixstack-bench-") as scratch:
        for backend in ("preview", "latentsync"):
            pristine = Path(scratch) / backend
            build_project(pristine, backend)
            record_all_rendered(pristine)
            if stage_runs(pristine)["stale"]:
                raise SystemExit("the recorded project is not up to date")
            for label, fix, old, new in CHANGES:
                root = Path(scratch) / "changed"
                shutil.rmtree(root, ignore_errors=True)
                shutil.copytree(pristine, root)
                config = root / "alpha.yaml"
                text = config.read_text()
                if old not in text:
                    raise SystemExit(f"alpha.yaml of the demo no longer says {old!r} (fix {fix})")
                config.write_text(text.replace(old, new))
                rows.append({"backend": backend, "change": label, "fix": fix, **stage_runs(root)})

    def target(row) -> bool:
        wanted = EPISODES if row["change"].startswith("lipsync.") else 0
        return row["lipsync"] == wanted

    print(f"{EPISODES} episodes; a series-wide change of one named fix, then `alpha status --json`")
    print(f"{'backend':<11} {'change':<34} {'stale':>6} {'lipsync runs':>13} {'restore runs':>13}  target")
    for row in rows:
        wanted = EPISODES if row["change"].startswith("lipsync.") else 0
        print(f"{row['backend']:<11} {row['change']:<34} {row['stale']:>6} {row['lipsync']:>13} "
              f"{row['restore']:>13}  {'PASS' if target(row) else 'FAIL'} (lipsync = {wanted})")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "fixstack.json").write_text(json.dumps({"episodes": EPISODES, "rows": rows,
                                                   "passed": all(map(target, rows))}, indent=2) + "\n")
    return 0 if all(map(target, rows)) else 1


if __name__ == "__main__":
    sys.exit(main())
