"""STAND-IN replacements for LatentSync's third-party dependencies (tests only; not LatentSync).

The real checkout imports diffusers, accelerate, DeepCache and omegaconf; these tiny classes
offer the few attributes the stand-in pipeline uses, so the tests need only torch, numpy,
OpenCV and PyYAML.
"""

import contextlib
import json
import os
import random

import numpy as np
import torch
import tqdm
import yaml


class _Node(dict):
    """Attribute access to a YAML mapping, like an OmegaConf DictConfig."""

    def __getattr__(self, name):
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return _Node(value) if isinstance(value, dict) else value


class OmegaConf:
    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as handle:
            return _Node(yaml.safe_load(handle))

    @staticmethod
    def to_container(node):
        return json.loads(json.dumps(node))


class _Output:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class DDIMScheduler:
    """Moves the latents toward the model's prediction in `steps` equal parts."""

    order = 1
    init_noise_sigma = 1.0

    def __init__(self, config):
        self.config = _Node(config)
        self.timesteps = []

    @classmethod
    def from_pretrained(cls, folder):
        with open(os.path.join(folder, "scheduler_config.json"), encoding="utf-8") as handle:
            return cls(json.load(handle))

    def set_timesteps(self, steps, device=None):
        train = int(self.config.get("num_train_timesteps", 1000))
        self.timesteps = [int(t) for t in np.linspace(train - 1, 0, steps).round()]

    def scale_model_input(self, sample, timestep):
        return sample

    def step(self, model_output, timestep, sample, **kwargs):
        left = len(self.timesteps) - self.timesteps.index(timestep)
        return _Output(prev_sample=sample + model_output / left)


class AutoencoderKL:
    def __init__(self):
        self.config = _Node(scaling_factor=1.0, shift_factor=0.0, latent_channels=3,
                            block_out_channels=[1, 1, 1, 1])

    @classmethod
    def from_pretrained(cls, name, torch_dtype=None):
        return cls()


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class DeepCacheSDHelper:
    def __init__(self, pipe):
        self.pipe = pipe

    def set_params(self, **kwargs):
        self.params = kwargs

    def enable(self):
        self.pipe.deepcache = self.params
        print(f"DeepCache enabled: {self.params}")


class DiffusionPipeline:
    """The bits of diffusers' DiffusionPipeline the stand-in pipeline uses."""

    def register_modules(self, **modules):
        for name, module in modules.items():
            setattr(self, name, module)

    def to(self, device):
        print(f"Pipeline moved to {device} (stand-in: stays on the CPU)")
        return self

    @property
    def device(self):
        return torch.device("cpu")

    @contextlib.contextmanager
    def progress_bar(self, total):
        bar = tqdm.tqdm(total=total, **getattr(self, "_progress_bar_config", {}))
        try:
            yield bar
        finally:
            bar.close()
