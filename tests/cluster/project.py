"""Small projects for cluster tests and the cluster benchmark: N short episodes on the preview
backend (the CPU stand-in for LatentSync), each lip-sync job asking for one GPU; or on the
latentsync backend, driving the labelled stand-in checkout of tests/latentsync/standin."""

from __future__ import annotations

from pathlib import Path

from pipeline.commands.init import init
from pipeline.demo import synth_speech


def cluster_project(root: Path, episodes: int, seconds: float = 1.2, size: int = 192,
                    backend: str = "preview") -> Path:
    init(root)
    for old in (root / "episodes").glob("*.yaml"):
        old.unlink()
    config = root / "alpha.yaml"
    text = config.read_text()
    text = text.replace("    width: 640\n    height: 640\n", f"    width: {size}\n    height: {size}\n")
    text = text.replace("  lipsync:\n    backend: preview\n", f"  lipsync:\n    backend: {backend}\n    gpus: 1\n")
    text = text.replace("  proof:\n    at: [5]\n", "  proof:\n    at: [0.5]\n")
    config.write_text(text)
    for index in range(1, episodes + 1):
        voice = root / "media" / f"voice{index:02d}.wav"
        synth_speech(voice, seconds=seconds, seed=index)
        (root / "episodes" / f"ep{index:02d}.yaml").write_text(
            f"title: Episode {index}\ndate: 2026-10-{index:02d}\n"
            "source:\n  image: media/portrait.jpg\n"
            f"audio:\n  voice: media/{voice.name}\n")
    return root


def latentsync_cluster_project(root: Path, episodes: int) -> Path:
    """N short episodes of one clip on the latentsync backend, on a copy of the stand-in
    checkout (its "model" is CPU arithmetic: no GPU, no weights; see its README)."""
    import sys

    from tests.helpers import write, write_voice
    from tests.latentsync.conftest import copy_checkout, write_clip

    checkout = copy_checkout(root.parent / "LatentSync")
    (root / "media").mkdir(parents=True)
    write_clip(root / "media" / "clip.mp4")
    write(root / "alpha.yaml", f"""
        name: Cluster LatentSync
        latentsync:
          root: {checkout}
          python: {sys.executable}
        defaults:
          lipsync: {{backend: latentsync, checkpoint: "1.5", steps: 1, guidance: 1.0}}
          video: {{width: 192, height: 144}}
          proof: {{at: [0.2]}}
          quality: {{faces_missed_max: 0.5, seam_max: null}}  # the stand-in drifts its colours a lot
    """)
    for index in range(1, episodes + 1):
        write_voice(root / "media" / f"voice{index:02d}.wav", seconds=0.8 + 0.2 * index)
        write(root / "episodes" / f"ep{index:02d}.yaml", f"""
            title: Episode {index}
            date: 2026-10-{index:02d}
            source: {{video: media/clip.mp4}}
            audio: {{voice: media/voice{index:02d}.wav}}
        """)
    return root
