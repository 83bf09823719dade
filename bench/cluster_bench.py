"""Does a second GPU host cut a batch's makespan? A real Ray cluster, a SIMULATED GPU.

Rerunnable: `python bench/cluster_bench.py` (root, with the ray extra; about 4 minutes). It
starts a real Ray cluster in a network namespace of its own (tests/cluster/netns.py: a head
and worker nodes with one logical GPU each), and renders the same 8-episode project, in the
same run:

- on 1 worker node, then on 2 worker nodes (the second node joins between the two renders);
- SIMULATION: there is no GPU here, so the model's time is simulated. Lip-sync runs the `none`
  backend (no model) and each job then holds its GPU slot `--gpu-seconds` more on the worker,
  asleep (the host file's `simulated_gpu_seconds`; the stage metrics say so). The CPU stages
  (source, restore, mux, proof) run for real on the controller.

Target: makespan(2 nodes) <= 0.6 x makespan(1 node). The makespan is the render's wall time
less its one-time startup (joining the cluster, starting the workers), which `render --json`
reports; the wall times are shown too. Also shown: the bytes each node received (its cache
ledger; caches are emptied between renders), and the controller's overhead per job: the round
trip the controller saw less the seconds on the worker (dispatch, result, outputs brought home).

Prints a table, writes bench/out/cluster.json, exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.netns import NetnsCluster  # noqa: E402
from tests.cluster.project import cluster_project  # noqa: E402

TARGET = 0.6


def render(cluster: NetnsCluster, project: Path) -> dict:
    started = time.monotonic()
    result = subprocess.run(cluster.ns([sys.executable, "-m", "pipeline", "-C", str(project), "render", "--json",
                                        "--cluster", cluster.address]),
                            env=cluster.env(), capture_output=True, text=True, timeout=1200)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"render failed ({result.returncode}):\n{result.stderr[-4000:]}")
    report = json.loads(result.stdout)
    if not all(episode["ok"] for episode in report["episodes"]):
        raise SystemExit(f"an episode failed:\n{result.stdout[-4000:]}")
    info = report["cluster"]
    jobs = info["jobs"]
    return {
        "wall_s": round(wall, 2),
        "startup_s": info["startup_seconds"],
        "makespan_s": round(wall - info["startup_seconds"], 2),
        "jobs_by_node": {node: sum(1 for job in jobs if job["node"] == node) for node in sorted({j["node"] for j in jobs})},
        "overhead_per_job_s": round(statistics.mean(j["round_trip_seconds"] - j["worker_seconds"] for j in jobs), 3),
        "input_seconds_per_job": round(statistics.mean(j["inputs_seconds"] for j in jobs), 3),
        "output_bytes_per_job": round(statistics.mean(j["output_bytes"] for j in jobs)),
    }


def received(cluster: NetnsCluster, names: list[str]) -> dict[str, dict]:
    out = {}
    for name in names:
        entries = cluster.received(name)
        out[name] = {"files": len(entries), "bytes": sum(entry["bytes"] for entry in entries)}
    return out


def empty_caches(cluster: NetnsCluster) -> None:
    for node in cluster.nodes.values():
        if node.cache is not None and node.cache.exists():
            shutil.rmtree(node.cache)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--gpu-seconds", type=float, default=6.0, help="SIMULATED model time per lip-sync job")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alpha-cluster-bench-"))
    pristine = cluster_project(work / "pristine", args.episodes, backend="none")
    cluster = NetnsCluster()
    rows = {}
    try:
        cluster.start(["gpu-a"], simulated_gpu_seconds=args.gpu_seconds)
        for nodes in (1, 2):
            if nodes == 2:
                cluster.add_worker("gpu-b", simulated_gpu_seconds=args.gpu_seconds)
                cluster.wait_for_nodes(3, 180)
            empty_caches(cluster)
            project = work / f"nodes{nodes}"
            shutil.copytree(pristine, project)
            rows[nodes] = render(cluster, project)
            rows[nodes]["received"] = received(cluster, [n for n in cluster.nodes if n != "head"])
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)

    ratio = rows[2]["makespan_s"] / rows[1]["makespan_s"]
    wall_ratio = rows[2]["wall_s"] / rows[1]["wall_s"]
    print(f"SIMULATION: {args.episodes} episodes, lip-sync = {args.gpu_seconds:g} s of simulated GPU time per job "
          "on a worker; CPU stages real, on the controller")
    print(f"{'nodes':>5} {'makespan s':>10} {'wall s':>7} {'startup s':>9} {'jobs per node':>22} "
          f"{'overhead/job s':>14}  received per node")
    for nodes, row in rows.items():
        got = ", ".join(f"{n}: {r['files']} files {r['bytes'] / 1e6:.2f} MB" for n, r in row["received"].items())
        print(f"{nodes:>5} {row['makespan_s']:>10.1f} {row['wall_s']:>7.1f} {row['startup_s']:>9.1f} "
              f"{json.dumps(row['jobs_by_node']):>22} {row['overhead_per_job_s']:>14.3f}  {got}")
    met = ratio <= TARGET
    print(f"makespan(2)/makespan(1) = {ratio:.2f} (target <= {TARGET}): {'met' if met else 'MISSED'}; "
          f"wall-time ratio {wall_ratio:.2f}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "cluster.json").write_text(json.dumps({
        "simulation": {"gpu_seconds_per_job": args.gpu_seconds, "lipsync_backend": "none"},
        "episodes": args.episodes, "runs": {str(k): v for k, v in rows.items()},
        "makespan_ratio": round(ratio, 3), "wall_ratio": round(wall_ratio, 3), "target": TARGET, "met": met,
    }, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
