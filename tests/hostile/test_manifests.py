"""Hostile manifests: alias bombs, impossible dates, fixes that cannot fit an episode.

Each case runs the real command on real files and asks for a located message, exit 2 and no
traceback.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_alpha, write


def _fails_cleanly(result, *expected: str) -> None:
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def test_billion_laughs_is_refused_at_its_line(bare_project):
    lines = ["title: One", "date: 2026-01-01", "source: {image: media/face.jpg}",
             "audio: {voice: media/v1.wav}", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    write(bare_project / "episodes/ep01.yaml", "\n".join(lines) + "\n")
    result = run_alpha("-C", str(bare_project), "status")
    _fails_cleanly(result, "episodes/ep01.yaml:", "expands to more than")


def test_recursive_alias_is_refused(bare_project):
    write(bare_project / "episodes/ep01.yaml", """
        title: One
        date: 2026-01-01
        source: {image: media/face.jpg}
        audio: {voice: media/v1.wav}
        tags: &loop [a, *loop]
    """)
    result = run_alpha("-C", str(bare_project), "status")
    _fails_cleanly(result, "episodes/ep01.yaml:5", "recursive alias")


def test_plain_aliases_still_work(bare_project):
    write(bare_project / "episodes/ep01.yaml", """
        title: &t One
        description: *t
        date: 2026-01-01
        source: {image: media/face.jpg}
        audio: {voice: media/v1.wav}
    """)
    assert run_alpha("-C", str(bare_project), "status").exit_code == 0


@pytest.mark.parametrize("date", ["2026-13-45", "0000-01-01", "2026-02-30"])
def test_impossible_episode_date_names_file_line_and_key(bare_project, date):
    write(bare_project / "episodes/ep01.yaml", f"""
        title: One
        date: {date}
        source: {{image: media/face.jpg}}
        audio: {{voice: media/v1.wav}}
    """)
    result = run_alpha("-C", str(bare_project), "status")
    _fails_cleanly(result, "episodes/ep01.yaml:2: date:", f"{date!r} is not a valid date")


def test_impossible_post_date_names_file_line_and_key(bare_project):
    write(bare_project / "posts/notes.md", """
        ---
        title: Notes
        date: 2026-02-30
        ---
        Hello.
    """)
    result = run_alpha("-C", str(bare_project), "build", "site")
    _fails_cleanly(result, "posts/notes.md:3: date:", "is not a valid date")


def test_impossible_date_in_alpha_yaml_defaults(bare_project):
    config = bare_project / "alpha.yaml"
    config.write_text(config.read_text() + "deploy:\n  targets:\n    www: {kind: local, path: 2026-99-01}\n")
    result = run_alpha("-C", str(bare_project), "status")
    _fails_cleanly(result, "alpha.yaml:", "deploy.targets.www.path")


def test_fix_that_cannot_fit_a_video_episode_does_not_apply_and_status_says_so(bare_project):
    (bare_project / "media/clip.mp4").write_bytes(b"placeholder")
    config = bare_project / "alpha.yaml"
    config.write_text(config.read_text().replace("fixes:\n", """fixes:
  - id: TASK-097
    layer: source
    title: Flux restyle
    settings: {source.flux.enabled: true}
""", 1) + "flux: {model: /nowhere}\n")
    write(bare_project / "episodes/ep01.yaml", """
        title: One
        date: 2026-01-01
        source: {video: media/clip.mp4}
        audio: {voice: media/v1.wav}
    """)
    from pipeline.project.load import load_project

    project = load_project(bare_project)
    episode = project.episodes["ep01"].settings
    assert project.fixes_applying_to(episode) == []
    [(fix, why)] = project.fixes_not_fitting(episode)
    assert fix.id == "TASK-097" and "cannot be enabled with source.video" in why
    result = run_alpha("-C", str(bare_project), "status", "-v")
    assert "ep01: fix TASK-097 does not apply: source.flux restyles a still image" in result.stdout + result.stderr
