"""A LatentSync checkout for `alpha captions`: the real LatentSync source with a tiny random
Whisper checkpoint, and this interpreter as "LatentSync's Python" (it has torch, transformers
and ffmpeg-python, which LatentSync's vendored Whisper imports)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LATENTSYNC_SOURCE = Path(os.environ.get("ALPHA_SHARED", ROOT.parent / "shared")) / "latentsync-a229c39"

# The real format ({"dims", "model_state_dict"}) and the real audio front end (80 mels, 1500
# audio positions = 30 s windows) and the multilingual vocabulary; tiny widths, and a short
# text context so that decoding (at most n_text_ctx/2 tokens a window) stays quick on a CPU.
TINY_DIMS = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                 n_vocab=51865, n_text_ctx=64, n_text_state=64, n_text_head=2, n_text_layer=1)

# Random weights except two, set so that the plumbing always gets words, whatever the seed: the
# decoder's last layer norm outputs one fixed vector, the embedding of " la", so every free text
# step picks " la" (the timestamp rules still place the timestamps). And the decoder's positional
# embedding is filled: Whisper's class leaves it as torch.empty, uninitialised memory.
MAKE_MODEL = """
import sys, torch
from latentsync.whisper.whisper.model import ModelDimensions, Whisper
from latentsync.whisper.whisper.tokenizer import get_tokenizer
dims = {dims!r}
torch.manual_seed(0)
model = Whisper(ModelDimensions(**dims))
with torch.no_grad():
    model.decoder.positional_embedding.normal_(0.0, 0.02)
    word = get_tokenizer(True).encode(" la")[0]
    model.decoder.ln.weight.zero_()
    model.decoder.ln.bias.copy_(model.decoder.token_embedding.weight[word] * 50)
torch.save({{"dims": dims, "model_state_dict": model.state_dict()}}, sys.argv[1])
"""


@pytest.fixture(scope="session")
def whisper_checkout(tmp_path_factory) -> Path:
    """A checkout folder: LatentSync's own `latentsync/` and `scripts/` (linked, never copied)
    and checkpoints/whisper/tiny.pt with random weights, made by LatentSync's Whisper class."""
    if not (LATENTSYNC_SOURCE / "latentsync" / "whisper" / "whisper").is_dir():
        pytest.skip(f"LatentSync's source is not at {LATENTSYNC_SOURCE} (set ALPHA_SHARED)")
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("LatentSync")
    for name in ("latentsync", "scripts", "configs"):
        (root / name).symlink_to(LATENTSYNC_SOURCE / name, target_is_directory=True)
    checkpoint = root / "checkpoints" / "whisper" / "tiny.pt"
    checkpoint.parent.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", MAKE_MODEL.format(dims=TINY_DIMS), str(checkpoint)],
                   cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    return root
