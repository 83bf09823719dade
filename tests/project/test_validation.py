"""Bad manifests end in one message listing every problem as file:line: key, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ManifestError
from pipeline.project.load import load_project
from tests.helpers import run_alpha, write


def problems(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_project(root)
    return [str(problem) for problem in caught.value.problems]


def test_valid_project_resolves_defaults_fixes_and_overrides(bare_project):
    project = load_project(bare_project)
    one, two = project.episodes["ep01"].settings, project.episodes["ep02"].settings
    assert one.restore.blend == "alpha" and one.restore.blur == 3      # defaults
    assert two.restore.blend == "poisson" and two.restore.blur == 3    # named fix over defaults
    assert one.lipsync.checkpoint == "1.6"
    assert one.audio.foley[0].gain_db == -20
    assert [fix.id for fix in project.fixes_applying_to(two)] == ["TASK-101"]
    assert project.fixes_applying_to(one) == []


def test_unknown_key_names_file_line_and_near_miss(bare_project):
    write(bare_project / "episodes/ep01.yaml", """
        title: One
        date: 2026-01-01
        source: {image: media/face.jpg}
        audio: {voice: media/v1.wav}
        restore:
          blurr: 4
    """)
    assert problems(bare_project) == [
        "episodes/ep01.yaml:6: restore.blurr: unknown key (did you mean 'blur'?)"]


def test_every_problem_is_reported_at_once(bare_project):
    write(bare_project / "alpha.yaml", """
        defaults:
          restore: {blend: posson}
          lipsync: {checkpoint: "2.0"}
        fixes:
          - {id: task-1, layer: restore, title: x, settings: {restore.blen: alpha}}
    """)
    write(bare_project / "episodes/Ep_3.yaml", """
        title: ""
        date: not a date
        source: {image: media/nope.jpg}
        audio: {voice: media/v1.wav}
        proof: {at: [-1]}
    """)
    found = problems(bare_project)
    assert "alpha.yaml:5: fixes[0].id: 'task-1' is not a fix id like TASK-099" in found
    # The project file is invalid, so episodes are not looked at yet; fix it and look again.
    write(bare_project / "alpha.yaml", """
        defaults:
          restore: {blend: posson}
          lipsync: {checkpoint: "2.0"}
        fixes:
          - {id: TASK-1, layer: restore, title: x, settings: {restore.blen: alpha}}
    """)
    found = problems(bare_project)
    assert "alpha.yaml:5: fixes[0].settings.restore.blen: not an episode setting (did you mean 'restore.blend'?)" in found
    # A bad default is reported once, at its own line, however many episodes inherit it.
    assert ("alpha.yaml:2: restore.blend: Input should be 'poisson', 'seamless' or 'alpha', "
            "got 'posson' (did you mean 'poisson'?)") in found
    assert ("alpha.yaml:3: lipsync.checkpoint: unknown checkpoint '2.0'; the registry in alpha.yaml "
            "(latentsync.checkpoints) has 1.5, 1.6") in found
    assert "episodes/Ep_3.yaml:1: title: String should have at least 1 character, got ''" in found
    assert any(p.startswith("episodes/Ep_3.yaml:2: date: ") for p in found)
    assert "episodes/Ep_3.yaml:3: source.image: file not found: media/nope.jpg" in found
    assert "episodes/Ep_3.yaml:5: proof.at[0]: Input should be greater than or equal to 0, got -1" in found
    assert any(p.startswith("episodes/Ep_3.yaml:1: id: 'Ep_3' is not a safe slug") and "file name" in p
               for p in found)


def test_duplicate_ids_and_duplicate_keys(bare_project):
    write(bare_project / "episodes/ep03.yaml", """
        id: ep01
        title: Three
        title: Three again
        date: 2026-01-03
        source: {image: media/face.jpg}
        audio: {voice: media/v1.wav}
    """)
    found = problems(bare_project)
    assert "episodes/ep03.yaml:3: title: duplicate key" in found
    assert "episodes/ep03.yaml:1: id: duplicate episode id 'ep01' (also in episodes/ep01.yaml)" in found


def test_type_errors_and_ranges(bare_project):
    write(bare_project / "episodes/ep01.yaml", """
        title: One
        date: 2026-01-01
        source: {image: media/face.jpg}
        audio: {voice: media/v1.wav}
        restore: {blur: 300, erode: many}
        source: {image: media/face.jpg, video: media/v1.wav}
        video: {width: 641}
    """)
    found = problems(bare_project)
    assert "episodes/ep01.yaml:5: restore.blur: Input should be less than or equal to 255, got 300" in found
    assert any(p.startswith("episodes/ep01.yaml:5: restore.erode: Input should be a valid integer") for p in found)
    assert "episodes/ep01.yaml:6: source: duplicate key" in found
    assert "episodes/ep01.yaml:6: source: give exactly one of source.image or source.video" in found
    assert "episodes/ep01.yaml:7: video.width: Input should be a multiple of 2, got 641" in found


def test_yaml_syntax_error_is_located(bare_project):
    (bare_project / "episodes/ep01.yaml").write_text("title: One\ndate: [2026\n")
    found = problems(bare_project)
    assert len(found) == 1 and found[0].startswith("episodes/ep01.yaml:3: invalid YAML")


def test_checkpoint_given_as_number_is_a_version(bare_project):
    (bare_project / "episodes/ep02.yaml").unlink()
    write(bare_project / "alpha.yaml", "defaults:\n  lipsync: {checkpoint: 1.5}\n")
    assert load_project(bare_project).episodes["ep01"].settings.lipsync.checkpoint == "1.5"


def test_cli_exit_code_2_without_traceback_and_nothing_written(bare_project):
    write(bare_project / "episodes/ep02.yaml", "title: Two\nrestore: {blend: posson}\n")
    def user_files():
        # Caches under .alpha/cache may be written; the user's files must not change.
        return {p.relative_to(bare_project): p.read_bytes() for p in bare_project.rglob("*")
                if p.is_file() and ".alpha" not in p.parts}

    before = user_files()
    for verb in (["status"], ["render"], ["render", "--dry-run"], ["accept", "ep01"]):
        result = run_alpha("-C", str(bare_project), *verb)
        assert result.exit_code == 2, verb
        assert "Traceback" not in result.stderr
        assert "episodes/ep02.yaml:2: restore.blend:" in result.stderr
        assert "episodes/ep02.yaml:1: date: missing required key" in result.stderr
        assert result.stdout == ""
    assert user_files() == before
    assert not (bare_project / "alpha.lock").exists()


def test_project_is_found_from_a_subfolder(bare_project):
    result = run_alpha("status", "--json", cwd=bare_project / "episodes")
    assert result.exit_code == 0, result.stderr
    assert '"ep01"' in result.stdout


def test_no_project_is_a_usage_error(tmp_path):
    result = run_alpha("status", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no alpha.yaml" in result.stderr


def test_a_bad_default_is_reported_once(bare_project):
    write(bare_project / "episodes/ep02.yaml", "title: Two\ndate: 2026-01-02\nsource: {image: media/face.jpg}\naudio: {voice: media/v2.wav}\n")
    write(bare_project / "alpha.yaml", "defaults:\n  restore: {blend: posson}\n")
    found = problems(bare_project)
    assert len(found) == 1 and found[0].startswith("alpha.yaml:2: restore.blend:")
