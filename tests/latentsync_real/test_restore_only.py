"""A paste-back change on the real LatentSync code: the model never runs again.

Two episodes render through the real code; then the series-wide restore settings change
(blend, blur and erode, as a fix stack would). `alpha status` must say that only restore, mux
and proof run, and the re-render must start no LatentSync process: no model load, the
lipsync stage and its stored crops untouched, and a final video that shows the new paste-back.
"""

from __future__ import annotations

import json
import re

import numpy as np

from pipeline.media import read_frames
from tests.latentsync_real.conftest import RealEpisode

EPISODES = [RealEpisode("r1", seconds=0.4, blend="alpha", blur=0, erode=0),
            RealEpisode("r2", seconds=0.36, blend="alpha", blur=0, erode=0)]


def lock(root):
    return json.loads((root / "alpha.lock").read_text())["episodes"]


def test_a_restore_only_change_reruns_no_lipsync(tmp_path, latentsync_env, make_project):
    root = make_project(tmp_path / "show", EPISODES)
    first = latentsync_env.alpha(root, "render", "--json")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert [sorted(load["episodes"]) for load in json.loads(first.stdout)["model_loads"]] == [["r1", "r2"]]
    before = lock(root)
    finals_before = {e.id: list(read_frames(root / before[e.id]["stages"]["mux"]["outputs"]["video"]["path"]))
                     for e in EPISODES}

    for episode in EPISODES:
        path = root / "episodes" / f"{episode.id}.yaml"
        text = path.read_text()
        path.write_text(re.sub(r"restore: \{.*\}", "restore: {blend: poisson, blur: 8, erode: 4}", text))

    status = latentsync_env.alpha(root, "status", "--json")
    for entry in json.loads(status.stdout)["episodes"]:
        assert [s["name"] for s in entry["stages"] if s["run"]] == ["restore", "mux", "proof"], entry
        assert sorted(r["field"] for r in entry["reasons"]) == ["restore.blend", "restore.blur", "restore.erode"]

    again = latentsync_env.alpha(root, "render", "--json")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    report = json.loads(again.stdout)
    assert [outcome["ran"] for outcome in report["episodes"]] == [["restore", "mux", "proof"]] * 2
    assert report["model_loads"] == []  # LatentSync was never started
    after = lock(root)
    for episode in EPISODES:
        assert after[episode.id]["stages"]["lipsync"] == before[episode.id]["stages"]["lipsync"]
        restore = after[episode.id]["stages"]["restore"]["metrics"]
        assert (restore["blend"], restore["blur"], restore["erode"]) == ("poisson", 8, 4)
        finals = list(read_frames(root / after[episode.id]["stages"]["mux"]["outputs"]["video"]["path"]))
        assert len(finals) == len(finals_before[episode.id]) == episode.frames
        # The same generated crops, pasted back another way.
        assert max(np.abs(a.astype(int) - b.astype(int)).max()
                   for a, b in zip(finals, finals_before[episode.id])) > 10
