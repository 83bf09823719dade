"""What `alpha render` prints without a terminal: a line per stage, and news of long ones."""

from __future__ import annotations

from pipeline import presentation
from pipeline.execute import Job
from pipeline.presentation import PLAIN_EVERY_S, RenderProgress


def job(episode: str, stage: str) -> Job:
    return Job(episode_id=episode, stage=stage, gpus=0, params={}, inputs={}, upstream={}, digest="d")


def test_a_long_stage_says_how_far_it_is_every_few_seconds(monkeypatch, capsys):
    clock = [1000.0]
    monkeypatch.setattr(presentation.time, "monotonic", lambda: clock[0])
    progress = RenderProgress(episodes=1)
    assert not progress.live  # pytest's stderr is no terminal
    long = job("ep01", "lipsync")
    progress.stage_started(long, "gpu0")
    progress.stage_progress(long, 12, 30)
    progress.tick()
    assert capsys.readouterr().err == ""  # nothing to say yet
    clock[0] += PLAIN_EVERY_S
    progress.tick()
    assert capsys.readouterr().err.strip() == f"gpu0 ep01 · lipsync: 12/30 frames (40%), {PLAIN_EVERY_S:.0f} s"
    progress.tick()
    assert capsys.readouterr().err == ""  # once per period, not per tick
    progress.stage_finished("ep01", "lipsync", "ran", 7.25, "gpu0")
    clock[0] += 2 * PLAIN_EVERY_S
    progress.tick()
    assert capsys.readouterr().err.strip() == "[gpu0] ep01 · lipsync: ran in 7.2 s"
