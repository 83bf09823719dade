"""`alpha status EP --explain`: every resolved setting with its source, at file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.project import schema

from tests.helpers import run_alpha


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain") / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    return root


def line_of(path, text: str, after: str | None = None) -> int:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1


def explained(root, *args) -> dict[str, dict]:
    result = run_alpha("-C", str(root), "status", "--explain", "--json", *args)
    assert result.exit_code == 0, result.stderr
    [episode] = json.loads(result.stdout)["episodes"]
    return {setting["key"]: setting for setting in episode["settings"]}


def test_each_setting_names_its_layer_and_line(demo):
    config, episode = demo / "alpha.yaml", demo / "episodes/ep02-the-seam.yaml"
    settings = explained(demo, "ep02")
    blend = settings["restore.blend"]
    assert (blend["value"], blend["source"], blend["file"]) == ("poisson", "fix TASK-101", "alpha.yaml")
    assert blend["line"] == line_of(config, "settings: {restore.blend: poisson}")
    assert [(o["source"], o["line"]) for o in blend["overrides"]] == [("defaults", line_of(config, "blend: poisson", "defaults:"))]
    backend = settings["lipsync.backend"]
    assert (backend["value"], backend["source"], backend["line"]) == ("preview", "defaults", line_of(config, "backend: preview"))
    at = settings["proof.at"]
    assert (at["value"], at["source"], at["file"], at["line"]) == ([3.0, 6.0], "episode", "episodes/ep02-the-seam.yaml",
                                                                   line_of(episode, "at: [3, 6]"))
    preset = settings["video.preset"]
    assert (preset["value"], preset["source"], preset["file"]) == ("veryfast", "built-in", "pipeline/project/schema.py")
    schema_lines = Path(schema.__file__).read_text().splitlines()
    assert schema_lines[preset["line"] - 1].strip().startswith("preset:")
    gate = settings["quality.seam_max"]  # on by default, at the limit bench/seam_gate_bench.py checks
    assert (gate["value"], gate["source"]) == (1.0, "built-in")
    foley = settings["audio.foley[0].gain_db"]
    assert (foley["value"], foley["source"]) == (-20.0, "episode")


def test_a_default_that_a_fix_overrides_is_explained(demo, tmp_path):
    import shutil

    root = tmp_path / "show"
    shutil.copytree(demo, root)
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("    blur: 15\n", "    blur: 20\n"))
    blur = explained(root, "ep03")["restore.blur"]
    assert (blur["value"], blur["source"]) == (15, "fix TASK-099")
    assert blur["overrides"] == [{"source": "defaults", "file": "alpha.yaml", "value": 20,
                                  "line": line_of(config, "blur: 20")}]
    human = run_alpha("-C", str(root), "status", "ep03", "--explain")
    assert human.exit_code == 0
    assert f"overrides defaults 20 at alpha.yaml:{line_of(config, 'blur: 20')} (has no effect here)" in human.stdout
    assert "restore.blur" in human.stdout and "fix TASK-099 alpha.yaml:" in human.stdout
    # An episode without the fix takes the changed default.
    ep01 = explained(root, "ep01")
    assert ep01["restore.blur"]["source"] == "episode"
    assert (ep01["quality.seam_max"]["value"], ep01["quality.seam_max"]["source"]) == (None, "episode")
