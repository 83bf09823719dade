"""STAND-IN for LatentSync's whisper Audio2Feature (tests only; not LatentSync).

Features are the voice's RMS at 50 per second (the rate of whisper's encoder frames);
`feature2chunks` yields one chunk per video frame with the same count rule as the real one
(about two more chunks than video frames).
"""

import os

import numpy as np
import torch

from ..utils.util import read_wav_mono


class Audio2Feature:
    def __init__(self, model_path="checkpoints/whisper/tiny.pt", device=None, num_frames=16,
                 audio_feat_length=(2, 2), audio_embeds_cache_dir=None):
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"whisper model not found: {model_path}")
        self.model_path = model_path
        self.num_frames = num_frames
        self.audio_feat_length = audio_feat_length

    def audio2feat(self, audio_path):
        samples, rate = read_wav_mono(audio_path)
        hop = rate // 50
        count = int(round(len(samples) / rate * 50))
        padded = np.pad(samples, (0, max(0, count * hop - len(samples))))
        return np.sqrt(np.mean(padded[: count * hop].reshape(count, hop) ** 2, axis=1))

    def get_sliced_feature(self, feature_array, vid_idx, fps=25):
        centre = int(vid_idx * 50 / fps)
        window = feature_array[max(0, centre - 2): centre + 2]
        level = float(window.mean()) if len(window) else 0.0
        return torch.full((4,), level), [centre]

    def feature2chunks(self, feature_array, fps):
        whisper_chunks = []
        multiplier = 50.0 / fps
        i = 0
        print(f"video in {fps} FPS, audio idx in 50FPS")
        while True:
            start_idx = int(i * multiplier)
            selected_feature, _ = self.get_sliced_feature(feature_array=feature_array, vid_idx=i, fps=fps)
            whisper_chunks.append(selected_feature)
            i += 1
            if start_idx > len(feature_array):
                break
        return whisper_chunks
