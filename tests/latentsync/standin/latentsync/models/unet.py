"""STAND-IN for LatentSync's UNet3DConditionModel (tests only; not LatentSync, no weights).

`from_pretrained(config_dict, ckpt_path, device)` reads the tiny JSON "checkpoint". The
"model" predicts, for each frame, a crop that equals the reference crop plus a colour drift
everywhere and a dark mouth whose opening follows the audio level; the scheduler moves the
latents (here: pixels) to that prediction over the denoising steps.
"""

import json
import os
import time

import torch

DRIFT = (0.16, -0.06, 0.05)            # colour drift of the "VAE", in [-1, 1] units
MOUTH = (-0.3, -0.85, -0.75)           # dark red


class _Output:
    def __init__(self, sample):
        self.sample = sample


class _Config:
    def __init__(self, sample_size):
        self.sample_size = sample_size


class UNet3DConditionModel:
    def __init__(self, config, meta):
        self.config = _Config(config.get("sample_size", 64))
        self.meta = meta
        self.add_audio_layer = bool(config.get("add_audio_layer", True))
        self.training = False
        self.dtype = torch.float32

    @classmethod
    def from_pretrained(cls, model_config, ckpt_path, device="cpu"):
        with open(ckpt_path, encoding="utf-8") as handle:
            meta = json.load(handle)
        # A real UNet takes tens of seconds to load on a GPU box; benchmarks simulate that.
        time.sleep(float(os.environ.get("STANDIN_LOAD_SECONDS", "0")))
        print(f"Stand-in UNet loaded from {ckpt_path}: {meta}")
        print(f"Stand-in working directory: {os.getcwd()}")
        return cls(model_config, meta), meta

    def to(self, dtype=None, device=None):
        if dtype is not None:
            self.dtype = dtype
        return self

    def eval(self):
        self.training = False

    def train(self):
        self.training = True

    def __call__(self, unet_input, t, encoder_hidden_states=None):
        # unet_input: (b, 3 latents + 3 reference, f, h, w); encoder_hidden_states: (b*f, 4)
        latents, reference = unet_input[:, :3], unet_input[:, 3:6]
        b, _, f, h, w = latents.shape
        target = reference + torch.tensor(DRIFT, dtype=latents.dtype).view(1, 3, 1, 1, 1)
        level = encoder_hidden_states.float().mean(dim=-1).view(b, f)
        ys = torch.linspace(0, 1, h).view(1, 1, h, 1)
        xs = torch.linspace(0, 1, w).view(1, 1, 1, w)
        opening = (0.02 + 0.5 * level).clamp(0.02, 0.09).view(b, f, 1, 1)
        inside = (((xs - 0.5) / 0.13) ** 2 + ((ys - 0.80) / opening) ** 2) <= 1.0  # (b, f, h, w)
        mouth = torch.tensor(MOUTH, dtype=latents.dtype).view(1, 3, 1, 1, 1)
        target = torch.where(inside.unsqueeze(1), mouth.expand_as(target), target)
        return _Output(target - latents)
