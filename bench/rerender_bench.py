"""What does a paste-back fix cost on the demo, against a full re-render? Rerunnable:
`python bench/rerender_bench.py`.

Renders the demo (preview backend) in a temporary folder, then changes the named fix TASK-099
(restore.blur 15 → 21, used by ep02 and ep03) and times, in the same run and on the same
episodes:

- `alpha render`: what the change makes stale (restore, mux, proof; the lipsync stage is kept);
- `alpha render --force` of those episodes: every stage again, as before the split.

Target: the restore-only re-render takes less time than the full one (the ratio is the
figure). Prints a table, writes bench/out/rerender.json, exits 1 if the target is missed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALPHA = [sys.executable, "-m", "pipeline"]
CHANGED = ["ep02-the-seam", "ep03-rain"]


def render(root: Path, *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run([*ALPHA, "-C", str(root), "render", "--json", *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"alpha render {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return wall, json.loads(result.stdout)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="alpha-rerender-bench-") as scratch:
        root = Path(scratch) / "demo"
        subprocess.run([*ALPHA, "init", str(root)], check=True, capture_output=True)
        render(root)
        config = root / "alpha.yaml"
        config.write_text(config.read_text().replace("restore.blur: 15", "restore.blur: 21"))
        restore_only, report = render(root)
        ran = {episode["id"]: episode["ran"] for episode in report["episodes"]}
        full, _ = render(root, "--force", *CHANGED)
    expected = {name: ["restore", "mux", "proof"] for name in CHANGED}
    ratio = restore_only / full
    targets = [("the change re-runs restore, mux, proof of ep02 and ep03 only", ran == expected),
               ("restore-only re-render faster than a full re-render", ratio < 1.0)]
    print(f"demo, TASK-099 restore.blur 15 → 21 ({', '.join(CHANGED)})")
    print(f"{'':28} {'wall s':>8}")
    print(f"{'full re-render (--force)':28} {full:>8.1f}")
    print(f"{'restore-only re-render':28} {restore_only:>8.1f}")
    print(f"restore-only / full: {ratio:.2f}x")
    for name, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "rerender.json").write_text(json.dumps({"full_s": full, "restore_only_s": restore_only, "ratio": ratio,
                                                   "ran": ran, "targets": {n: ok for n, ok in targets}},
                                                  indent=2) + "\n")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
