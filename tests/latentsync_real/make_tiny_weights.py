"""Tiny random weights in the formats the real LatentSync loaders read (run in its Python).

    cd <checkout> && <latentsync python> make_tiny_weights.py <hf_home>

Made with LatentSync's own classes, seeded, in a few seconds:

* ``configs/unet/stage2_tiny.yaml`` and ``stage2_512_tiny.yaml``: copies of the real configs
  with 32 channels per block and one layer per block (everything else as released);
* ``checkpoints/latentsync-1.5/latentsync_unet.pt`` and ``latentsync-1.6/...``:
  ``{"state_dict", "global_step"}``, as ``UNet3DConditionModel.from_pretrained`` loads them;
* ``checkpoints/whisper/tiny.pt``: ``{"dims", "model_state_dict"}`` with the real tiny
  dimensions (float16, as released), as ``whisper.load_model`` loads it;
* ``<hf_home>/hub/models--stabilityai--sd-vae-ft-mse``: a small ``AutoencoderKL`` (4 blocks
  of 16 channels, so the scale factor is 8 like sd-vae-ft-mse's) in the Hugging Face cache
  layout, which ``AutoencoderKL.from_pretrained`` reads with ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

TINY_CONFIGS = {"configs/unet/stage2.yaml": "configs/unet/stage2_tiny.yaml",
                "configs/unet/stage2_512.yaml": "configs/unet/stage2_512_tiny.yaml"}
UNETS = {"configs/unet/stage2_tiny.yaml": "checkpoints/latentsync-1.5/latentsync_unet.pt",
         "configs/unet/stage2_512_tiny.yaml": "checkpoints/latentsync-1.6/latentsync_unet.pt"}
VAE_REVISION = "0000000000000000000000000000000000000000"
# openai/whisper "tiny": the dimensions LatentSync's audio encoder was trained with.
WHISPER_TINY = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6, n_audio_layer=4,
                    n_vocab=51865, n_text_ctx=448, n_text_state=384, n_text_head=6, n_text_layer=4)


def tiny_unet_configs() -> None:
    for real, tiny in TINY_CONFIGS.items():
        config = OmegaConf.load(real)
        config.model.block_out_channels = [32, 32, 32, 32]
        config.model.layers_per_block = 1
        OmegaConf.save(config, tiny)


def unets() -> None:
    from latentsync.models.unet import UNet3DConditionModel

    for config_path, checkpoint in UNETS.items():
        config = OmegaConf.load(config_path)
        unet = UNet3DConditionModel.from_config(OmegaConf.to_container(config.model))
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": unet.state_dict(), "global_step": 0}, checkpoint)


def whisper() -> None:
    from latentsync.whisper.whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(**WHISPER_TINY)
    model = Whisper(dims).half()
    Path("checkpoints/whisper").mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": model.state_dict()},
               "checkpoints/whisper/tiny.pt")


def vae(hf_home: Path) -> None:
    from diffusers import AutoencoderKL

    model = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
                          down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                          block_out_channels=[16, 16, 16, 16], norm_num_groups=16, sample_size=256)
    repo = hf_home / "hub" / "models--stabilityai--sd-vae-ft-mse"
    model.save_pretrained(repo / "snapshots" / VAE_REVISION)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(VAE_REVISION)


def main() -> None:
    sys.path.insert(0, os.getcwd())  # the checkout, as `python -m scripts.inference` has it
    torch.manual_seed(0)
    tiny_unet_configs()
    unets()
    whisper()
    vae(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
