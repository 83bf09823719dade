"""`alpha captions`: the voice through LatentSync's real Whisper code, into a WebVTT file the
episode names. The model is tiny and random (no weights can be downloaded here), so its words
are garbage: these tests check the plumbing, not the words."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import webvtt

from pipeline.media import probe
from tests.helpers import run_alpha

DEMO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, whisper_checkout) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "media").mkdir()
    for name in ("portrait.jpg", "ep01-voice.wav"):
        shutil.copy(DEMO / "media" / name, root / "media" / name)
    (root / "alpha.yaml").write_text(
        "name: Captions test\n"
        f"latentsync:\n  root: {whisper_checkout}\n  python: {sys.executable}\n"
        "defaults:\n  lipsync: {backend: preview}\n")
    (root / "episodes").mkdir()
    (root / "episodes/ep01-hello.yaml").write_text(
        "# The first episode. Comments and layout must survive `alpha captions`.\n"
        "title: Hello\n"
        "date: 2026-10-02\n"
        "source: {image: media/portrait.jpg}   # the canonical portrait\n"
        "audio:\n"
        "  voice: media/ep01-voice.wav\n")
    return root


# About 15 s of CPU (two transcriptions); the limit is for a machine shared with other work.
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_transcribes_the_voice_into_captions_the_episode_names(project):
    manifest = project / "episodes/ep01-hello.yaml"
    original = manifest.read_text()

    result = run_alpha("captions", "ep01", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert "tiny.pt" in result.stderr and "captions/ep01-hello.vtt" in result.stderr

    # A valid WebVTT file, read by a real parser in strict mode.
    vtt = project / "captions/ep01-hello.vtt"
    captions = webvtt.read(str(vtt), strict=True).captions
    assert captions
    duration = probe(project / "media/ep01-voice.wav").duration
    times = [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000) for c in captions]
    assert all(0 <= start < end <= duration + 0.001 for start, end in times)
    assert all(a[1] <= b[0] for a, b in zip(times, times[1:]))  # in order, not overlapping
    assert times[-1][1] == pytest.approx(duration, abs=0.05)  # the voice is covered to its end
    assert "la la" in captions[0].text  # the model's words came through tokenizer and writer

    # The episode names the file; everything the user wrote is kept as written. The manifest
    # set no language, so Whisper detected one: it is recorded unless it is the default, en.
    detected = re.search(r"\((\w+)\) → captions/", result.stderr).group(1)
    text = manifest.read_text()
    assert text.startswith(original)
    assert text[len(original):].splitlines() == ["captions: captions/ep01-hello.vtt"] + (
        [] if detected == "en" else [f"language: {detected}"])
    assert [path.name for path in (project / "captions").iterdir()] == ["ep01-hello.vtt"]

    status = json.loads(run_alpha("status", "--json", cwd=project).stdout)["episodes"][0]
    assert status["inputs"]["captions"]["path"] == "captions/ep01-hello.vtt"

    # Never replaced behind the user's back.
    before = vtt.read_bytes()
    again = run_alpha("captions", "ep01", cwd=project)
    assert again.exit_code == 2
    assert "already has captions: captions/ep01-hello.vtt" in again.stderr and "--force" in again.stderr
    assert vtt.read_bytes() == before

    # With --force it is transcribed again, in the language the manifest now sets.
    manifest.write_text(original + "captions: captions/ep01-hello.vtt\nlanguage: ru  # Russian\n")
    forced = run_alpha("captions", "ep01", "--force", cwd=project)
    assert forced.exit_code == 0, forced.stderr
    assert "(ru) → captions/ep01-hello.vtt" in forced.stderr
    assert manifest.read_text() == original + "captions: captions/ep01-hello.vtt\nlanguage: ru  # Russian\n"
    assert webvtt.read(str(vtt), strict=True).captions


def test_without_a_checkout_or_a_whisper_checkpoint_it_says_what_to_set(project, whisper_checkout, tmp_path):
    config = project / "alpha.yaml"
    config.write_text("name: Captions test\ndefaults:\n  lipsync: {backend: preview}\n")
    result = run_alpha("captions", "ep01", cwd=project)
    assert result.exit_code == 2
    assert "latentsync.root is not set in alpha.yaml" in result.stderr

    bare = tmp_path / "BareLatentSync"
    (bare / "scripts").mkdir(parents=True)
    (bare / "scripts/inference.py").write_text("")
    config.write_text(f"latentsync:\n  root: {bare}\n  python: {sys.executable}\n"
                      "defaults:\n  lipsync: {backend: preview}\n")
    result = run_alpha("captions", "ep01", cwd=project)
    assert result.exit_code == 2
    assert f"no Whisper checkpoint in {bare}/checkpoints/whisper" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "captions").exists()
