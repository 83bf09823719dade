"""Episode ids on the command line: a unique prefix names an episode, as git takes commit ids."""

from __future__ import annotations

import json
import shutil

import pytest

from pipeline.errors import UserError
from pipeline.project.ids import near_ids, resolve_ids
from tests.helpers import run_alpha

IDS = ["ep01-hello", "ep02-the-seam", "ep03-rain", "ep12-finale"]


def test_exact_ids_and_unique_prefixes_resolve_in_order_without_repeats():
    assert resolve_ids(["ep02", "ep01-hello", "ep02-the"], IDS) == ["ep02-the-seam", "ep01-hello"]
    assert resolve_ids(["ep1"], IDS) == ["ep12-finale"]


def test_an_id_that_is_also_a_prefix_of_another_is_itself():
    assert resolve_ids(["ep01"], ["ep01", "ep01-hello"]) == ["ep01"]


def test_ambiguous_prefix_lists_the_candidates():
    with pytest.raises(UserError) as caught:
        resolve_ids(["ep0"], IDS)
    assert str(caught.value) == ("episode id 'ep0' is ambiguous: it starts ep01-hello, ep02-the-seam, "
                                 "ep03-rain; give more of it")


def test_a_miss_suggests_near_ids_and_lists_the_valid_ones():
    with pytest.raises(UserError) as caught:
        resolve_ids(["ep02-the-seem"], IDS)
    assert str(caught.value) == ("unknown episode 'ep02-the-seem'; did you mean ep02-the-seam?\n"
                                 "valid ids: ep01-hello, ep02-the-seam, ep03-rain, ep12-finale")
    assert near_ids("ep4", IDS) == []
    assert near_ids("ep2", IDS) == ["ep02-the-seam", "ep12-finale"]
    assert "did you mean" not in unknown(["xyz"])


def unknown(names):
    with pytest.raises(UserError) as caught:
        resolve_ids(names, IDS)
    return str(caught.value)


@pytest.fixture
def project(bare_project):
    episodes = bare_project / "episodes"
    shutil.move(episodes / "ep01.yaml", episodes / "ep01-hello.yaml")
    shutil.move(episodes / "ep02.yaml", episodes / "ep02-the-seam.yaml")
    return bare_project


@pytest.mark.parametrize("args", [["status"], ["render"], ["render", "--dry-run"],
                                  ["accept"], ["proof"]])
def test_every_command_that_takes_ids_says_the_same_on_a_miss(project, args):
    result = run_alpha("-C", str(project), *args, "ep0")
    assert result.exit_code == 2
    assert "episode id 'ep0' is ambiguous: it starts ep01-hello, ep02-the-seam" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_alpha("-C", str(project), *args, "ep09")
    assert result.exit_code == 2
    assert "unknown episode 'ep09'; did you mean" in result.stderr
    assert "valid ids: ep01-hello, ep02-the-seam" in result.stderr


def test_commands_act_on_the_full_id_of_a_prefix(project):
    result = run_alpha("-C", str(project), "status", "--json", "ep02")
    assert [episode["id"] for episode in json.loads(result.stdout)["episodes"]] == ["ep02-the-seam"]
    result = run_alpha("-C", str(project), "accept", "ep01")
    assert result.exit_code == 2 and "ep01-hello was never rendered" in result.stderr
    result = run_alpha("-C", str(project), "proof", "ep02")
    assert result.exit_code == 2 and "ep02-the-seam was never rendered" in result.stderr
