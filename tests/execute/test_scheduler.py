"""The scheduler on a real project: real stages, real ffmpeg, real files, real lock.

The backends below are the real local backend with one thing changed, each named for it:
when results reach the controller (to force an order of completion), or a log of what was in
flight (to check slots). The stages they run are the real ones.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from pipeline.commands.init import init
from pipeline.demo import synth_speech
from pipeline.execute import Executor, LocalBackend
from pipeline.media import probe
from pipeline.plan.lock import read_lock
from pipeline.store import Store
from pipeline.workspace import open_workspace
from tests.helpers import run_alpha

EPISODES = ["ep01-hello", "ep02-the-seam", "ep03-rain"]
VOICE_SECONDS = {"ep01-hello": 2.0, "ep02-the-seam": 1.2, "ep03-rain": 1.6}


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    """The demo on the `none` backend with short voices: the scheduler, not the model, is tested."""
    root = tmp_path_factory.mktemp("sched") / "demo"
    init(root)
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: preview", "backend: none"))
    for seed, (episode, seconds) in enumerate(VOICE_SECONDS.items(), start=1):
        synth_speech(root / f"media/{episode.split('-')[0]}-voice.wav", seconds=seconds, seed=seed)
    # Proof times within the short voices (a time past the end is a manifest error).
    for manifest in [config, *sorted((root / "episodes").glob("*.yaml"))]:
        manifest.write_text(re.sub(r"(\n\s*at:\s*)\[[^\]]*\]", r"\g<1>[0.5]", manifest.read_text()))
    return root


@pytest.fixture
def demo(pristine, tmp_path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(pristine, root)
    return root


class Quiet:
    """A reporter that only keeps what happened, in order."""

    def __init__(self):
        self.events: list[tuple] = []

    def stage_started(self, job, slot):
        self.events.append(("start", job.id, slot))

    def stage_progress(self, job, done, total):
        pass

    def stage_finished(self, episode_id, stage, how, seconds, slot):
        self.events.append(("finish", f"{episode_id}/{stage}", how))

    def episode_finished(self, outcome):
        self.events.append(("episode", outcome.id, outcome.ok))

    def tick(self):
        pass


class HoldsBackResults(LocalBackend):
    """The local backend, except that results reach the controller only when `release(job)`
    says so (checked again whenever another result comes): completion in a chosen order."""

    def __init__(self, *args, release, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = release
        self.held: list = []

    def next_result(self, timeout):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for result in list(self.held):
                if self.release(result.job):
                    self.held.remove(result)
                    return result
            result = super().next_result(0.05)
            if result is not None:
                self.held.append(result)
        raise AssertionError(f"held results never released: {[r.job.id for r in self.held]}")


class LogsInFlight(LocalBackend):
    """The local backend, logging how many jobs of each kind are in flight at every start."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight: dict[str, str] = {}
        self.peaks = {"gpu": 0, "cpu": 0}
        self.overlaps: list[tuple[str, str]] = []   # (gpu job, cpu job of another episode)
        self.guard = threading.Lock()

    def start(self, job, slot, progress):
        with self.guard:
            self.in_flight[job.id] = job.kind
            for kind in ("gpu", "cpu"):
                self.peaks[kind] = max(self.peaks[kind], list(self.in_flight.values()).count(kind))
            gpu = [j for j, k in self.in_flight.items() if k == "gpu"]
            cpu = [j for j, k in self.in_flight.items() if k == "cpu"]
            self.overlaps += [(g, c) for g in gpu for c in cpu if g.split("/")[0] != c.split("/")[0]]
        super().start(job, slot, progress)

    def next_result(self, timeout):
        result = super().next_result(timeout)
        if result is not None:
            with self.guard:
                self.in_flight.pop(result.job.id, None)
        return result


def execute(root: Path, backend_class=LocalBackend, jobs: int = 2, gpu_work=None, **kwargs):
    workspace = open_workspace(root)
    project = workspace.project
    backend = backend_class(project.root, project.settings, Store(project.state_dir).tmp, jobs=jobs,
                            gpus=["0"], **kwargs)
    reporter = Quiet()
    executor = Executor(project, workspace.lock, workspace.hashes, reporter, backend, gpu_work=gpu_work)
    outcomes = executor.render([plan for plan in workspace.plan() if plan.stale])
    return outcomes, reporter, backend


def lock(root: Path) -> dict:
    return json.loads((root / "alpha.lock").read_text())["episodes"]


def test_out_of_order_completion_is_recorded_per_episode(demo):
    # ep03 is made to finish first and ep01 last, whatever the scheduler's order.
    order = ["ep03-rain", "ep02-the-seam", "ep01-hello"]
    recorded: list[list[str]] = []

    def release(job):
        recorded.append(sorted(read_lock(demo / "alpha.lock").episodes))
        earlier = order[:order.index(job.episode_id)]
        return job.stage != "proof" or all(ep in recorded[-1] for ep in earlier)

    # Three slots: two held proofs must leave a slot for the episode that goes first.
    outcomes, reporter, _ = execute(demo, HoldsBackResults, jobs=3, release=release)
    assert [o.id for o in outcomes] == EPISODES and all(o.ok for o in outcomes)
    # Each episode reached the lock the moment its last stage settled, in completion order.
    finished = [event[1] for event in reporter.events if event[0] == "episode"]
    assert finished == order
    assert ["ep03-rain"] in recorded and ["ep02-the-seam", "ep03-rain"] in recorded
    entries = lock(demo)
    for episode, seconds in VOICE_SECONDS.items():
        entry = entries[episode]
        assert entry["version"] == 1
        # Every stage's record is its own episode's: its voice, and outputs made from it.
        voice = f"media/{episode.split('-')[0]}-voice.wav"
        assert entry["stages"]["lipsync"]["inputs"]["audio.voice"]["path"] == voice
        assert entry["stages"]["mux"]["upstream"]["restore.video"] == entry["stages"]["restore"]["outputs"]["video"]["hash"]
        assert abs(probe(demo / entry["stages"]["mux"]["outputs"]["video"]["path"]).duration - seconds) < 0.1
    assert run_alpha("-C", str(demo), "status", "--check").exit_code == 0


def test_cpu_slots_are_respected_and_the_gpu_overlaps_the_cpu(demo):
    config = demo / "alpha.yaml"
    # The `none` backend's lip-sync on the GPU slot: the shape of a latentsync render.
    config.write_text(config.read_text().replace("backend: none", "backend: none\n    gpus: 1"))
    outcomes, reporter, backend = execute(demo, LogsInFlight, jobs=2)
    assert all(o.ok for o in outcomes)
    assert backend.peaks == {"gpu": 1, "cpu": 2}
    lipsync_slots = {event[2] for event in reporter.events if event[0] == "start" and event[1].endswith("/lipsync")}
    assert lipsync_slots == {"gpu0"}
    # While the GPU slot held one episode's lip-sync, CPU slots worked on another episode.
    assert backend.overlaps


def test_one_cpu_slot_runs_one_stage_at_a_time_finishing_episodes_first(demo):
    outcomes, reporter, backend = execute(demo, LogsInFlight, jobs=1)
    assert all(o.ok for o in outcomes)
    assert backend.peaks == {"gpu": 0, "cpu": 1}
    started = [event[1] for event in reporter.events if event[0] == "start"]
    # The episode closest to done goes first: ep01 is finished before ep02 begins.
    assert started[:5] == [f"ep01-hello/{stage}" for stage in ("source", "lipsync", "restore", "mux", "proof")]


def own_portraits(demo: Path) -> None:
    """Give every episode a source image of its own, so that no source stage is shared."""
    import cv2

    portrait = cv2.imread(str(demo / "media/portrait.jpg"))
    for k, episode in enumerate(EPISODES):
        portrait[0, 0] = (k * 40, 0, 0)
        cv2.imwrite(str(demo / f"media/portrait-{k}.png"), portrait)
        manifest = demo / "episodes" / f"{episode}.yaml"
        manifest.write_text(manifest.read_text().replace("media/portrait.jpg", f"media/portrait-{k}.png"))


def test_a_free_cpu_slot_feeds_the_idle_gpu_before_it_finishes_an_episode(demo):
    config = demo / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: none", "backend: none\n    gpus: 1"))
    own_portraits(demo)
    released: set[str] = set()

    def release(job):
        # ep02's source lands only after ep01's lip-sync: then ep01's restore (closest to
        # done) and ep03's source (what the GPU needs next) are ready together for one slot.
        if job.id == "ep02-the-seam/source" and "ep01-hello/lipsync" not in released:
            return False
        released.add(job.id)
        return True

    outcomes, reporter, _ = execute(demo, HoldsBackResults, jobs=1, release=release)
    assert all(o.ok for o in outcomes)
    started = [event[1] for event in reporter.events if event[0] == "start"]
    assert started.index("ep02-the-seam/lipsync") < started.index("ep03-rain/source") \
        < started.index("ep01-hello/restore")


def test_the_gpu_takes_the_longest_episode_first_and_the_cpu_feeds_it_so(demo):
    config = demo / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: none", "backend: none\n    gpus: 1"))
    own_portraits(demo)
    work = {"ep01-hello": 1.0, "ep02-the-seam": 3.0, "ep03-rain": 2.0}  # expected GPU seconds
    outcomes, reporter, _ = execute(demo, jobs=1, gpu_work=work)
    assert [o.id for o in outcomes] == EPISODES and all(o.ok for o in outcomes)  # still in plan order
    started = [event[1] for event in reporter.events if event[0] == "start"]
    assert [job.split("/")[0] for job in started if job.endswith("/lipsync")] == [
        "ep02-the-seam", "ep03-rain", "ep01-hello"]
    assert started[0] == "ep02-the-seam/source"


def test_identical_work_runs_once_even_side_by_side(demo):
    # ep01 and ep02 ask for the same lip-sync (same image, voice and settings).
    shutil.copyfile(demo / "media/ep02-voice.wav", demo / "media/ep01-voice.wav")
    outcomes, reporter, _ = execute(demo, jobs=3)
    assert all(o.ok for o in outcomes)
    started = [event[1] for event in reporter.events if event[0] == "start"]
    lipsyncs = [job for job in started if job.endswith("/lipsync")]
    assert len(lipsyncs) == 2  # ep01 and ep02 share one run; ep03 has its own
    shared = {o.id: o for o in outcomes}
    assert "lipsync" in shared["ep01-hello"].reused or "lipsync" in shared["ep02-the-seam"].reused
    entries = lock(demo)
    assert entries["ep01-hello"]["stages"]["lipsync"]["outputs"] == entries["ep02-the-seam"]["stages"]["lipsync"]["outputs"]


def test_render_json_reports_stages_and_model_loads(demo):
    result = run_alpha("-C", str(demo), "render", "--json", "--jobs", "2")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model_loads"] == []  # the `none` backend loads no model
    for episode in report["episodes"]:
        stages = episode["stages"]
        assert [s["name"] for s in stages] == ["source", "lipsync", "restore", "mux", "proof"]
        assert all(s["node"] == "local" for s in stages)
        # The three share one portrait: its source stage ran once and was reused twice.
        expected = ["ran"] * 5 if episode["id"] == "ep01-hello" else ["reused", "ran", "ran", "ran", "ran"]
        assert [s["how"] for s in stages] == expected
        # Seconds are measured, not asserted: a still's source stage can take under the 1 ms shown.
        assert all(isinstance(s["seconds"], float) and s["seconds"] >= 0 for s in stages)
        assert sum(s["seconds"] for s in stages if s["how"] == "ran") > 0
    # Plain progress without a terminal: a line per stage, naming its slot.
    assert "[cpu" in result.stderr and "ep02-the-seam · mux: ran in" in result.stderr
    episode = demo / "episodes/ep03-rain.yaml"
    episode.write_text(episode.read_text() + "proof: {at: [1]}\n")
    [ep03] = json.loads(run_alpha("-C", str(demo), "render", "--json").stdout)["episodes"]
    assert [(s["name"], s["how"]) for s in ep03["stages"]] == [
        ("source", "reused"), ("lipsync", "reused"), ("restore", "reused"), ("mux", "reused"), ("proof", "ran")]


def test_jobs_must_be_positive(demo):
    result = run_alpha("-C", str(demo), "render", "--jobs", "0")
    assert result.exit_code == 2
    assert "--jobs must be at least 1" in result.stderr and "Traceback" not in result.stderr


class NoGpu(LocalBackend):
    """The local backend offering CPU slots only, as a cluster without a GPU node would."""

    def slots(self):
        return [], self.cpu_slots


def test_a_gpu_stage_without_a_gpu_slot_fails_its_episode_with_a_reason(demo):
    config = demo / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: none", "backend: none\n    gpus: 1"))
    outcomes, _, _ = execute(demo, NoGpu)
    assert [(o.id, o.ok) for o in outcomes] == [(episode, False) for episode in EPISODES]
    assert all(o.error == "lipsync needs a GPU (lipsync.gpus: 1) and the local backend offers none"
               for o in outcomes)
