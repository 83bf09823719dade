"""A small demo project for cluster tests and the cluster benchmark: N short episodes on the
preview backend (the CPU stand-in for LatentSync), each lip-sync job asking for one GPU."""

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
