"""Does the batch load the model once, and does the GPU/CPU overlap shorten it?

Rerunnable: `python bench/sched_bench.py` (from the test venv: it uses the stand-in LatentSync
checkout of tests/latentsync/standin and its synthetic media). Six episodes of a latentsync
project (different voices, one clip), two measurements, each against its baseline in the
same run:

1. Model loads for a batch. The stand-in's UNet load sleeps `--load-seconds` (a real load on
   a GPU box takes tens of seconds). The lip-sync stage of every episode runs through one
   warm worker for the batch (alpha now) and through a fresh LatentSync process per episode
   (alpha before the warm worker). Target: 1 load per GPU per checkpoint, against N.
2. Makespan of the batch. SIMULATION: the stand-in's inference sleeps `--gpu-seconds` per
   16-frame chunk in place of a GPU's diffusion, leaving the CPU free as a real card would;
   the CPU work (the input clip, the paste-back and its encode, mux, proofs, and the
   stand-in's own alignment and crops encode) is real, at 1920×1080 (`--size`; the size at
   which restore_stage_bench measures the stage a paste-back fix runs on every frame). The whole render through the scheduler with one GPU slot and `--jobs` CPU
   slots, against the same render strictly serial (one job at a time, in one thread).
   Target: <= 0.75x serial. Also printed: the best ratio any schedule could reach with this
   work (the busier side alone), the share of that saving made, and how long the GPU slot
   waited for CPU work.

Prints a table, writes bench/out/sched.json, exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPISODES = 6
VOICE_SECONDS = [1.6 + 0.2 * k for k in range(EPISODES)]   # all different: no shared work


def make_project(folder: Path, size: tuple[int, int]) -> Path:
    """A latentsync project on a copy of the stand-in checkout: six episodes, one clip, at
    `size` (the stand-in's clip is scaled to it, as a source of another size would be)."""
    from tests.helpers import write, write_voice
    from tests.latentsync.conftest import copy_checkout, write_clip

    root = folder / "show"
    checkout = copy_checkout(folder / "LatentSync")
    (root / "media").mkdir(parents=True)
    write_clip(root / "media/clip.mp4")
    write(root / "alpha.yaml", f"""
        name: Scheduler bench
        latentsync:
          root: {checkout}
          python: {sys.executable}
        defaults:
          # One step, no guidance: the stand-in's own "model" arithmetic runs on the CPU, but
          # it stands for GPU work, which the simulated GPU time already accounts for.
          lipsync: {{backend: latentsync, checkpoint: "1.5", steps: 1, guidance: 1.0}}
          video: {{width: {size[0]}, height: {size[1]}, preset: veryfast}}
          proof: {{at: [0.4, 1.2]}}
          quality: {{faces_missed_max: 0.5}}
    """)
    for k, seconds in enumerate(VOICE_SECONDS, start=1):
        write_voice(root / f"media/voice{k}.wav", seconds=seconds)
        write(root / f"episodes/ep{k:02}.yaml", f"""
            title: Episode {k}
            date: 2026-01-{k:02}
            source: {{video: media/clip.mp4}}
            audio: {{voice: media/voice{k}.wav}}
        """)
    return root


# -- 1. model loads ------------------------------------------------------------------------

def lipsync_batch(root: Path, warm: bool) -> dict:
    """Every episode's lip-sync stage, through one worker for the batch or one per episode."""
    from pipeline.stages.lipsync.latentsync import ModelWorkers
    from pipeline.stages import STAGES, StageRun
    from pipeline.workspace import open_workspace

    workspace = open_workspace(root)
    project = workspace.project
    scratch = Path(tempfile.mkdtemp(prefix="lipsync-", dir=root))
    source = next(stage for stage in STAGES if stage.name == "source")
    lipsync = next(stage for stage in STAGES if stage.name == "lipsync")
    shared = ModelWorkers(scratch / "workers") if warm else None
    loads = []
    started = time.monotonic()
    try:
        for plan in workspace.plan():
            keys = {stage_plan.stage.name: stage_plan.key for stage_plan in plan.stages}
            work = scratch / plan.id
            (work / "source").mkdir(parents=True)

            def run_of(stage, folder, upstream, workers=None):
                key = keys[stage.name]
                return StageRun(episode_id=plan.id, params=key.params,
                                inputs={n: project.path(v["path"]) for n, v in key.inputs.items()},
                                upstream=upstream, work=folder, progress=lambda done, total: None,
                                root=project.root, settings=project.settings, device="0", workers=workers)

            media = source.run(run_of(source, work / "source", {})).outputs["media"]
            workers = shared or ModelWorkers(work / "workers")
            (work / "lipsync").mkdir()
            lipsync.run(run_of(lipsync, work / "lipsync", {"source.media": media}, workers))
            if shared is None:
                workers.close_all()
                loads += workers.loads
    finally:
        if shared is not None:
            shared.close_all()
            loads += shared.loads
        shutil.rmtree(scratch, ignore_errors=True)
    return {"seconds": time.monotonic() - started, "loads": len(loads),
            "episodes_per_load": [len(load.episodes) for load in loads]}


# -- 2. makespan -----------------------------------------------------------------------------

def strictly_serial_backend():
    from pipeline.execute import LocalBackend

    class StrictlySerial(LocalBackend):
        """The local backend with all work in one thread, one job after another: the GPU
        waits for every CPU stage and the CPU for every GPU stage (alpha before the scheduler)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._line: queue.Queue = queue.Queue()
            threading.Thread(target=self._drain, daemon=True).start()

        def start(self, job, slot, progress):
            self._line.put((job, slot[3:] if slot.startswith("gpu") else None, progress))

        def _drain(self):
            while True:
                self._run(*self._line.get())

    return StrictlySerial


class Timeline:
    """A reporter that keeps when each job ran on which slot (the controller's view)."""

    def __init__(self):
        self.began: dict[str, tuple[float, str]] = {}
        self.jobs: list[dict] = []   # {"job", "slot", "start", "end", "seconds"}

    def stage_started(self, job, slot):
        self.began[job.id] = (time.monotonic(), slot)

    def stage_progress(self, job, done, total):
        pass

    def stage_finished(self, episode_id, stage, how, seconds, slot):
        job_id = f"{episode_id}/{stage}"
        if how == "ran" and job_id in self.began:
            start, slot = self.began.pop(job_id)
            self.jobs.append({"job": job_id, "slot": slot, "start": start, "end": time.monotonic(),
                              "seconds": seconds})

    def episode_finished(self, outcome):
        pass

    def tick(self):
        pass


def full_render(root: Path, jobs: int, serial: bool) -> dict:
    from pipeline.execute import Executor, LocalBackend
    from pipeline.plan.media_check import MediaChecks
    from pipeline.store import Store
    from pipeline.workspace import open_workspace

    workspace = open_workspace(root)
    project = workspace.project
    backend_class = strictly_serial_backend() if serial else LocalBackend
    backend = backend_class(project.root, project.settings, Store(project.state_dir).tmp,
                            jobs=1 if serial else jobs, gpus=["0"])
    timeline = Timeline()
    todo = [plan for plan in workspace.plan() if plan.stale]
    # As `alpha render` does: the expected GPU work of each episode is its voice's length.
    work = MediaChecks(project, workspace.hashes).voice_seconds([plan.id for plan in todo])
    executor = Executor(project, workspace.lock, workspace.hashes, timeline, backend, gpu_work=work)
    started = time.monotonic()
    outcomes = executor.render(todo)
    seconds = time.monotonic() - started
    failed = [outcome.error for outcome in outcomes if not outcome.ok]
    if failed or len(outcomes) != EPISODES:
        raise SystemExit(f"render failed: {failed}")
    # Work by where it must run, from each job's own run time: the GPU slot's (the lipsync
    # run phase, LatentSync in its process) and the CPU slots' (everything else, the lipsync
    # prepare phase included).
    gpu = sum(job["seconds"] for job in timeline.jobs if job["slot"].startswith("gpu"))
    cpu = sum(job["seconds"] for job in timeline.jobs if not job["slot"].startswith("gpu"))
    figures = {"seconds": seconds, "loads": len(executor.model_loads),
               "gpu_slot_stage_seconds": gpu, "cpu_slot_stage_seconds": cpu}
    if not serial:
        # The GPU's idle time between its first job's start and its last job's end: where it
        # waited for CPU work.
        spans = sorted((job["start"], job["end"]) for job in timeline.jobs if job["slot"].startswith("gpu"))
        busy = sum(end - start for start, end in spans)
        figures["gpu_busy_fraction"] = busy / seconds
        figures["gpu_waited_seconds"] = (spans[-1][1] - spans[0][0]) - busy
        figures["gpu_first_start_seconds"] = spans[0][0] - started
        figures["after_gpu_seconds"] = started + seconds - spans[-1][1]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--load-seconds", type=float, default=3.0, help="simulated model load time")
    parser.add_argument("--gpu-seconds", type=float, default=1.5,
                        help="SIMULATED GPU time per 16-frame chunk of inference")
    parser.add_argument("--jobs", type=int, default=2, help="CPU slots of the overlapped render")
    parser.add_argument("--size", default="1920x1080",
                        help="episode frame size, WxH (default: 1080p, as the restore-stage benchmark)")
    options = parser.parse_args()
    size = tuple(int(part) for part in options.size.lower().split("x"))
    figures: dict = {"episodes": EPISODES, "size": list(size), "load_seconds": options.load_seconds,
                     "simulated_gpu_seconds_per_chunk": options.gpu_seconds, "jobs": options.jobs}
    with tempfile.TemporaryDirectory(prefix="sched-bench-") as tmp:
        pristine = make_project(Path(tmp) / "pristine", size)

        def fresh(name: str) -> Path:
            copy = Path(tmp) / name / "show"
            shutil.copytree(pristine, copy, symlinks=True)
            return copy

        os.environ["STANDIN_LOAD_SECONDS"] = str(options.load_seconds)
        os.environ["STANDIN_GPU_SECONDS_PER_CHUNK"] = "0"
        figures["loads_per_episode_process"] = lipsync_batch(fresh("cold"), warm=False)
        figures["loads_warm_worker"] = lipsync_batch(fresh("warm"), warm=True)

        os.environ["STANDIN_LOAD_SECONDS"] = "0"
        os.environ["STANDIN_GPU_SECONDS_PER_CHUNK"] = str(options.gpu_seconds)
        figures["makespan_serial"] = full_render(fresh("serial"), options.jobs, serial=True)
        figures["makespan_overlap"] = full_render(fresh("overlap"), options.jobs, serial=False)

    cold, warm = figures["loads_per_episode_process"], figures["loads_warm_worker"]
    serial, overlap = figures["makespan_serial"], figures["makespan_overlap"]
    figures["makespan_ratio"] = overlap["seconds"] / serial["seconds"]
    # No overlap can beat the busier side: the GPU slot's stages, or the CPU stages shared
    # out over the CPU slots.
    gpu_side, cpu_side = serial["gpu_slot_stage_seconds"], serial["cpu_slot_stage_seconds"]
    figures["makespan_ratio_bound"] = max(gpu_side, cpu_side / options.jobs) / (gpu_side + cpu_side)
    # The share of the saving any schedule could make that this one made.
    figures["overlap_efficiency"] = ((serial["seconds"] - overlap["seconds"])
                                     / (serial["seconds"] * (1 - figures["makespan_ratio_bound"])))
    figures["lipsync_time_ratio_warm_vs_cold"] = warm["seconds"] / cold["seconds"]
    targets = {"one load for the batch": warm["loads"] == 1 and warm["episodes_per_load"] == [EPISODES],
               "makespan <= 0.75x serial": figures["makespan_ratio"] <= 0.75}
    figures["targets"] = targets
    print(f"{EPISODES} episodes, stand-in LatentSync (load {options.load_seconds:g} s simulated; "
          f"GPU {options.gpu_seconds:g} s per chunk SIMULATED), {options.jobs} CPU slots")
    print(f"  model loads:  warm worker {warm['loads']} (serving {warm['episodes_per_load']})  vs  "
          f"process per episode {cold['loads']}; lip-sync time {warm['seconds']:.1f} s vs "
          f"{cold['seconds']:.1f} s ({figures['lipsync_time_ratio_warm_vs_cold']:.2f}x)")
    print(f"  makespan:     overlapped {overlap['seconds']:.1f} s  vs  strictly serial {serial['seconds']:.1f} s "
          f"({figures['makespan_ratio']:.2f}x; target <= 0.75x)")
    print(f"                serial stage time: GPU slot (lipsync run) {gpu_side:.1f} s, CPU slots {cpu_side:.1f} s: "
          f"no schedule beats {figures['makespan_ratio_bound']:.2f}x; this one made "
          f"{figures['overlap_efficiency']:.0%} of that saving")
    print(f"                GPU busy {overlap['gpu_busy_fraction']:.0%} of the overlapped makespan; it waited "
          f"{overlap['gpu_waited_seconds']:.1f} s between its first and last job, "
          f"{overlap['gpu_first_start_seconds']:.1f} s before the first, {overlap['after_gpu_seconds']:.1f} s "
          f"of CPU work after the last")
    for name, ok in targets.items():
        print(f"  {'ok  ' if ok else 'MISS'} {name}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "sched.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
