"""`captions`, `transcript` and `language` in manifests: checked on load, hashed as inputs."""

from __future__ import annotations

import json

from pipeline.project.edit import set_top_level
from tests.helpers import run_alpha

GOOD_SRT = "1\n00:00:00,500 --> 00:00:02,000\nHello.\n"


def add_keys(project, extra: str) -> None:
    (project / "episodes/ep01.yaml").write_text(
        "title: One\ndate: 2026-01-01\nsource: {image: media/face.jpg}\naudio: {voice: media/v1.wav}\n" + extra)


def test_captions_are_an_input_of_the_episode_not_of_a_stage(bare_project):
    (bare_project / "media/ep01.srt").write_text(GOOD_SRT)
    add_keys(bare_project, "captions: media/ep01.srt\nlanguage: ru\n")
    result = run_alpha("status", "--json", cwd=bare_project)
    assert result.exit_code == 0, result.stderr
    episode = json.loads(result.stdout)["episodes"][0]
    assert episode["inputs"]["captions"]["path"] == "media/ep01.srt"
    assert len(episode["inputs"]["captions"]["hash"]) > 8
    # No render stage reads them: changing the captions never re-renders the video.
    assert all("captions" not in json.dumps(stage) for stage in episode["stages"])

    (bare_project / "media/ep01.srt").write_text(GOOD_SRT.replace("Hello", "Hi"))
    again = json.loads(run_alpha("status", "--json", cwd=bare_project).stdout)["episodes"][0]
    assert again["inputs"]["captions"]["hash"] != episode["inputs"]["captions"]["hash"]


def test_a_bad_caption_file_names_manifest_line_and_caption_line(bare_project):
    (bare_project / "media/ep01.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nBad\n")
    add_keys(bare_project, "captions: media/ep01.vtt\n")
    before = (bare_project / "episodes/ep01.yaml").read_text()
    result = run_alpha("status", cwd=bare_project)
    assert result.exit_code == 2
    assert "episodes/ep01.yaml:5: captions: media/ep01.vtt:3: malformed cue" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert (bare_project / "episodes/ep01.yaml").read_text() == before

    # Fixed, the check is redone (its result is cached only while the file is unchanged).
    (bare_project / "media/ep01.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nGood\n")
    assert run_alpha("status", cwd=bare_project).exit_code == 0


def test_wrong_kind_missing_file_empty_transcript_and_bad_language(bare_project):
    (bare_project / "media/notes.txt").write_text("hello")
    add_keys(bare_project, "captions: media/notes.txt\ntranscript: '  '\nlanguage: english language\n")
    result = run_alpha("status", cwd=bare_project)
    assert result.exit_code == 2
    assert "episodes/ep01.yaml:5: captions: 'media/notes.txt' is not a caption file" in result.stderr
    assert "episodes/ep01.yaml:6: transcript: the transcript is empty" in result.stderr
    assert "episodes/ep01.yaml:7: language: 'english language' is not a language tag" in result.stderr

    add_keys(bare_project, "captions: media/gone.vtt\n")
    result = run_alpha("status", cwd=bare_project)
    assert result.exit_code == 2
    assert "episodes/ep01.yaml:5: captions: file not found: media/gone.vtt" in result.stderr


def test_a_default_caption_problem_is_located_in_alpha_yaml(bare_project):
    (bare_project / "media/all.vtt").write_text("WEBVTT\n\nNOTE nothing timed\n")
    config = bare_project / "alpha.yaml"
    config.write_text(config.read_text() + "  captions: media/all.vtt\n")
    result = run_alpha("status", cwd=bare_project)
    assert result.exit_code == 2
    assert "alpha.yaml:10: captions: media/all.vtt:4: no cues" in result.stderr


def test_setting_a_key_keeps_the_rest_of_the_file_as_written(tmp_path):
    path = tmp_path / "ep.yaml"
    path.write_text("# My episode\ntitle: 'One'   # quoted on purpose\n\naudio:\n  voice: a.wav  # take 3\n")
    assert set_top_level(path, "captions", "captions/ep01.vtt")
    assert path.read_text() == ("# My episode\ntitle: 'One'   # quoted on purpose\n\naudio:\n"
                                "  voice: a.wav  # take 3\ncaptions: captions/ep01.vtt\n")
    assert not set_top_level(path, "captions", "captions/ep01.vtt")
    path.write_text("captions: old.vtt  # by hand\ntitle: One\n")
    assert set_top_level(path, "captions", "new file.vtt")
    assert path.read_text() == "captions: new file.vtt  # by hand\ntitle: One\n"
