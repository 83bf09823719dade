"""A render the quality gate stops keeps its evidence: its report lists its proof images,
`alpha proof EP --failed` shows them, and `status` says its stages are cached, not re-run.

Real render: ep02 on the `preview` backend (which reports seam figures) with a seam limit
no render can meet; the other episodes are not rendered.
"""

from __future__ import annotations

import json

import cv2
import pytest

from tests.helpers import run_alpha

EPISODE = "ep02-the-seam"


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate") / "show"
    assert run_alpha("init", str(root)).exit_code == 0
    episode = root / "episodes" / f"{EPISODE}.yaml"
    episode.write_text(episode.read_text() + "quality:\n  seam_max: 0.0001\n")
    result = run_alpha("-C", str(root), "render", "ep02")
    return root, result


def test_the_failure_names_the_figure_and_where_the_evidence_is(stopped):
    root, result = stopped
    said = " ".join(result.stderr.split())  # the console wraps long lines at 80 columns
    assert result.exit_code == 1
    assert "quality gate: seam" in said and "> 0.0001" in said
    assert f"`alpha proof {EPISODE} --failed`" in said
    # The episode's line: its figures against the gate, and readable paths of its proofs.
    assert "seam step " in said and "grey levels (over gate 0.0001)" in said
    assert f"proofs: .alpha/proofs/{EPISODE}/failed-" in said
    [readable] = (root / ".alpha/proofs" / EPISODE).glob("failed-*")
    assert {"frame@3s.png", "compare@3s.png"} <= {p.name for p in readable.iterdir()}
    assert not (root / "alpha.lock").exists() or EPISODE not in json.loads((root / "alpha.lock").read_text())["episodes"]
    [report] = (root / ".alpha/reports" / EPISODE).glob("failed-*.json")
    proofs = json.loads(report.read_text())["stages"]["proof"]["outputs"]
    assert {"frame@3s", "compare@3s", "frame@6s"} <= set(proofs)
    assert all((root / value["path"]).is_file() for value in proofs.values())
    # Proofs aimed at the artifact: the worst seam frame and the worst frame-to-frame change,
    # each with a zoom of the mouth and jaw beside its seam heat map.
    for kind in ("seam", "change"):
        [worst] = [name for name in proofs if name.startswith(f"worst-{kind}@") and ":" not in name]
        assert worst.replace("worst-", "zoom-") in proofs
        zoom = cv2.imread(str(root / proofs[worst.replace("worst-", "zoom-")]["path"]))
        assert zoom.shape[1] > 2 * zoom.shape[0]  # zoom | heat map | scale


def test_proof_points_at_the_failed_render_and_shows_it(stopped):
    root, _ = stopped
    result = run_alpha("-C", str(root), "proof", "ep02")
    assert result.exit_code == 2
    assert f"its last render failed the quality gate: `alpha proof {EPISODE} --failed`" in " ".join(result.stderr.split())
    result = run_alpha("-C", str(root), "proof", "ep02", "--failed")
    assert result.exit_code == 0, result.stderr
    assert "stopped by the quality gate: seam" in " ".join(result.stderr.split())
    folder = root / "proofs" / EPISODE / "failed"
    assert {"frame@3s.png", "compare@3s.png", "face@3s.png"} <= {p.name for p in folder.iterdir()}
    assert (folder / "compare@3s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_alpha("-C", str(root), "proof", "ep01", "--failed").exit_code == 2


def test_status_says_the_stopped_stages_are_cached_and_a_fixed_gate_reuses_them(stopped, tmp_path):
    import shutil

    root = shutil.copytree(stopped[0], tmp_path / "show", symlinks=True)
    result = run_alpha("-C", str(root), "status", "ep02")
    assert "runs       nothing: the stale stages are all cached" in result.stdout
    assert "cached     source, lipsync, restore, mux, proof" in result.stdout
    episode = root / "episodes" / f"{EPISODE}.yaml"
    episode.write_text(episode.read_text().replace("seam_max: 0.0001", "seam_max: 50"))
    result = run_alpha("-C", str(root), "render", "ep02", "--json")
    assert result.exit_code == 0, result.stderr
    [outcome] = json.loads(result.stdout)["episodes"]
    assert outcome["ran"] == [] and outcome["version"] == 1
