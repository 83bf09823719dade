"""A poster per episode: the frame at `poster_at`, made by the render; unset, the first proof."""

from __future__ import annotations

import json
import re

from tests.helpers import run_alpha


def alpha(root, *args):
    result = run_alpha("-C", str(root), *args)
    assert result.exit_code == 0, result.stderr
    return result


def poster_of(root, episode: str) -> str:
    page = (root / f"site/episodes/{episode}/index.html").read_text()
    [poster] = re.findall(r'<video[^>]* poster="([^"]+)"', page)
    return poster


def test_poster_at_picks_the_frame_and_reruns_only_the_proof_stage(tmp_path):
    root = tmp_path / "show"
    alpha(tmp_path, "init", str(root))
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: preview", "backend: none"))
    alpha(root, "render")
    alpha(root, "build", "site")
    lock = json.loads((root / "alpha.lock").read_text())["episodes"]
    first = lock["ep03-rain"]["stages"]["proof"]["outputs"]["frame@5s:view"]["hash"]
    assert first[:16] in poster_of(root, "ep03-rain")  # unset: the first proof frame

    episode = root / "episodes/ep03-rain.yaml"
    episode.write_text(episode.read_text() + "poster_at: 1.5\n")
    status = json.loads(alpha(root, "status", "--json", "ep03").stdout)["episodes"][0]
    assert [r["field"] for r in status["reasons"]] == ["poster.at"]
    [outcome] = json.loads(alpha(root, "render", "--json").stdout)["episodes"]
    assert outcome["id"] == "ep03-rain" and outcome["ran"] == ["proof"]

    outputs = json.loads((root / "alpha.lock").read_text())["episodes"]["ep03-rain"]["stages"]["proof"]["outputs"]
    assert {"poster@1.5s", "poster@1.5s:view", "poster@1.5s:thumb"} <= set(outputs)
    # The poster is the finished video's frame at 1.5 s: what `alpha proof --at 1.5` shows.
    alpha(root, "proof", "ep03", "--at", "1.5", "--out", str(tmp_path / "check"))
    assert (root / outputs["poster@1.5s"]["path"]).read_bytes() == (tmp_path / "check/frame@1.5s.png").read_bytes()

    alpha(root, "build", "site")
    assert outputs["poster@1.5s:view"]["hash"][:16] in poster_of(root, "ep03-rain")
    catalog = (root / "site/index.html").read_text()
    assert outputs["poster@1.5s:thumb"]["hash"][:16] in catalog
    # The poster is not listed among the proofs.
    assert "poster@" not in (root / "site/episodes/ep03-rain/index.html").read_text()
