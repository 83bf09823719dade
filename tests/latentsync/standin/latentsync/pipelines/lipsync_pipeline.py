"""STAND-IN for LatentSync's latentsync/pipelines/lipsync_pipeline.py (tests only; not LatentSync).

`LipsyncPipeline` keeps the real class's method names, signatures and call order in
`__call__`: check ffmpeg, build the ImageProcessor, audio features, `read_audio`,
`read_video(video_path, use_decord=False)`, `loop_video` -> `affine_transform_video` ->
`image_processor.affine_transform` per frame, 16-frame chunks (masks, denoising loop,
`decode_latents`, `paste_surrounding_pixels_back(decoded, ref, 1 - masks, ...)`),
`restore_video`, `rmtree(temp_dir)`, `write_video(temp_dir/video.mp4)`, the 16 kHz audio
write and the shell ffmpeg re-encode + mux into `video_out_path`. `read_video` and
`write_video` are module attributes imported from ..utils.util, as in the real module.
The "model" is the deterministic stand-in of ..models.unet.
"""

import math
import os
import shutil
import signal
import subprocess
import time
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
import tqdm

from ..models.unet import UNet3DConditionModel
from ..utils.image_processor import ImageProcessor, load_fixed_mask
from ..utils.standin_deps import DiffusionPipeline
from ..utils.util import check_ffmpeg_installed, read_audio, read_video, write_video, write_wav


class LipsyncPipeline(DiffusionPipeline):
    _optional_components = []

    def __init__(self, vae, audio_encoder, unet: UNet3DConditionModel, scheduler):
        super().__init__()
        self.register_modules(vae=vae, audio_encoder=audio_encoder, unet=unet, scheduler=scheduler)
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.set_progress_bar_config(desc="Steps")

    @property
    def _execution_device(self):
        return self.device

    def decode_latents(self, latents):
        # Stand-in latents are pixels: the SD VAE's scaling factor (0.18215, which
        # scripts/inference.py sets) has nothing to undo here.
        latents = latents + self.vae.config.shift_factor
        b, c, f, h, w = latents.shape
        return latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)

    def set_progress_bar_config(self, **kwargs):
        if not hasattr(self, "_progress_bar_config"):
            self._progress_bar_config = {}
        self._progress_bar_config.update(kwargs)

    @staticmethod
    def paste_surrounding_pixels_back(decoded_latents, pixel_values, masks, device, weight_dtype):
        pixel_values = pixel_values.to(dtype=weight_dtype)
        masks = masks.to(dtype=weight_dtype)
        return decoded_latents * masks + pixel_values * (1 - masks)

    @staticmethod
    def pixel_values_to_images(pixel_values: torch.Tensor):
        pixel_values = pixel_values.permute(0, 2, 3, 1)
        pixel_values = (pixel_values / 2 + 0.5).clamp(0, 1)
        return (pixel_values * 255).to(torch.uint8).cpu().numpy()

    def affine_transform_video(self, video_frames: np.ndarray):
        faces = []
        boxes = []
        affine_matrices = []
        print(f"Affine transforming {len(video_frames)} faces...")
        for frame in tqdm.tqdm(video_frames):
            face, box, affine_matrix = self.image_processor.affine_transform(frame)
            faces.append(face)
            boxes.append(box)
            affine_matrices.append(affine_matrix)
        faces = torch.stack(faces)
        return faces, boxes, affine_matrices

    def restore_video(self, faces: torch.Tensor, video_frames: np.ndarray, boxes: list, affine_matrices: list):
        video_frames = video_frames[: len(faces)]
        out_frames = []
        print(f"Restoring {len(faces)} faces...")
        for index, face in enumerate(tqdm.tqdm(faces)):
            x1, y1, x2, y2 = boxes[index]
            height = int(y2 - y1)
            width = int(x2 - x1)
            face = F.interpolate(face[None].float(), size=(height, width), mode="bicubic", antialias=True)[0]
            out_frame = self.image_processor.restorer.restore_img(video_frames[index], face, affine_matrices[index])
            out_frames.append(out_frame)
        return np.stack(out_frames, axis=0)

    def loop_video(self, whisper_chunks: list, video_frames: np.ndarray):
        if len(whisper_chunks) > len(video_frames):
            faces, boxes, affine_matrices = self.affine_transform_video(video_frames)
            num_loops = math.ceil(len(whisper_chunks) / len(video_frames))
            loop_video_frames, loop_faces, loop_boxes, loop_affine_matrices = [], [], [], []
            for i in range(num_loops):
                if i % 2 == 0:
                    loop_video_frames.append(video_frames)
                    loop_faces.append(faces)
                    loop_boxes += boxes
                    loop_affine_matrices += affine_matrices
                else:
                    loop_video_frames.append(video_frames[::-1])
                    loop_faces.append(faces.flip(0))
                    loop_boxes += boxes[::-1]
                    loop_affine_matrices += affine_matrices[::-1]
            video_frames = np.concatenate(loop_video_frames, axis=0)[: len(whisper_chunks)]
            faces = torch.cat(loop_faces, dim=0)[: len(whisper_chunks)]
            boxes = loop_boxes[: len(whisper_chunks)]
            affine_matrices = loop_affine_matrices[: len(whisper_chunks)]
        else:
            video_frames = video_frames[: len(whisper_chunks)]
            faces, boxes, affine_matrices = self.affine_transform_video(video_frames)
        return video_frames, faces, boxes, affine_matrices

    @torch.no_grad()
    def __call__(
        self,
        video_path: str,
        audio_path: str,
        video_out_path: str,
        num_frames: int = 16,
        video_fps: int = 25,
        audio_sample_rate: int = 16000,
        height: Optional[int] = None,
        width: Optional[int] = None,
        num_inference_steps: int = 20,
        guidance_scale: float = 1.5,
        weight_dtype: Optional[torch.dtype] = torch.float16,
        eta: float = 0.0,
        mask_image_path: str = "latentsync/utils/mask.png",
        temp_dir: str = "temp",
        generator=None,
        callback=None,
        callback_steps: Optional[int] = 1,
        **kwargs,
    ):
        is_train = self.unet.training
        self.unet.eval()

        check_ffmpeg_installed()

        device = self._execution_device
        mask_image = load_fixed_mask(height, mask_image_path)
        self.image_processor = ImageProcessor(height, device="cuda", mask_image=mask_image)
        self.set_progress_bar_config(desc=f"Sample frames: {num_frames}")

        do_classifier_free_guidance = guidance_scale > 1.0
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = self.scheduler.timesteps

        whisper_feature = self.audio_encoder.audio2feat(audio_path)
        whisper_chunks = self.audio_encoder.feature2chunks(feature_array=whisper_feature, fps=video_fps)

        audio_samples = read_audio(audio_path)
        video_frames = read_video(video_path, use_decord=False)

        video_frames, faces, boxes, affine_matrices = self.loop_video(whisper_chunks, video_frames)

        synced_video_frames = []
        # Stand-in latents live in pixel space: (1, 3, frames, height, width).
        all_latents = torch.zeros((1, 3, len(whisper_chunks), height, width), dtype=weight_dtype)

        crash_at = os.environ.get("STANDIN_CRASH_AT_CHUNK")
        crash_audio = os.environ.get("STANDIN_CRASH_ON_AUDIO")
        if crash_audio and os.path.basename(audio_path) == crash_audio:
            crash_at = "0"
        if os.environ.get("STANDIN_RAISE_ON_AUDIO") == os.path.basename(audio_path):
            raise RuntimeError("stand-in: simulated out of memory (CUDA out of memory. Tried to allocate 2 GiB)")
        num_inferences = math.ceil(len(whisper_chunks) / num_frames)
        for i in tqdm.tqdm(range(num_inferences), desc="Doing inference..."):
            if crash_at is not None and i == int(crash_at):
                print(f"stand-in: simulated crash at chunk {i}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            # A SIMULATED GPU: the time a real card spends on this chunk's diffusion, slept.
            time.sleep(float(os.environ.get("STANDIN_GPU_SECONDS_PER_CHUNK", "0")))
            audio_embeds = torch.stack(whisper_chunks[i * num_frames: (i + 1) * num_frames]).to(dtype=weight_dtype)
            if do_classifier_free_guidance:
                audio_embeds = torch.cat([torch.zeros_like(audio_embeds), audio_embeds])
            inference_faces = faces[i * num_frames: (i + 1) * num_frames]
            latents = all_latents[:, :, i * num_frames: (i + 1) * num_frames]
            ref_pixel_values, masked_pixel_values, masks = self.image_processor.prepare_masks_and_masked_images(
                inference_faces, affine_transform=False
            )
            reference = ref_pixel_values.permute(1, 0, 2, 3).unsqueeze(0).to(dtype=weight_dtype)
            with self.progress_bar(total=num_inference_steps) as progress_bar:
                for j, t in enumerate(timesteps):
                    unet_input = torch.cat([latents] * 2) if do_classifier_free_guidance else latents
                    unet_input = self.scheduler.scale_model_input(unet_input, t)
                    ref_input = torch.cat([reference] * 2) if do_classifier_free_guidance else reference
                    unet_input = torch.cat([unet_input, ref_input], dim=1)
                    noise_pred = self.unet(unet_input, t, encoder_hidden_states=audio_embeds).sample
                    if do_classifier_free_guidance:
                        noise_pred_uncond, noise_pred_audio = noise_pred.chunk(2)
                        noise_pred = noise_pred_uncond + guidance_scale * (noise_pred_audio - noise_pred_uncond)
                    latents = self.scheduler.step(noise_pred, t, latents).prev_sample
                    progress_bar.update()

            decoded_latents = self.decode_latents(latents)
            decoded_latents = self.paste_surrounding_pixels_back(
                decoded_latents, ref_pixel_values, 1 - masks, device, weight_dtype
            )
            synced_video_frames.append(decoded_latents)

        synced_video_frames = self.restore_video(torch.cat(synced_video_frames), video_frames, boxes, affine_matrices)

        audio_samples_remain_length = int(synced_video_frames.shape[0] / video_fps * audio_sample_rate)
        audio_samples = audio_samples[:audio_samples_remain_length].cpu().numpy()

        if is_train:
            self.unet.train()

        if os.path.exists(temp_dir):
            shutil.rmtree(temp_dir)
        os.makedirs(temp_dir, exist_ok=True)

        write_video(os.path.join(temp_dir, "video.mp4"), synced_video_frames, fps=video_fps)

        write_wav(os.path.join(temp_dir, "audio.wav"), audio_samples, audio_sample_rate)

        command = f"ffmpeg -y -loglevel error -nostdin -i {os.path.join(temp_dir, 'video.mp4')} -i {os.path.join(temp_dir, 'audio.wav')} -c:v libx264 -crf 18 -c:a aac -q:v 0 -q:a 0 {video_out_path}"
        subprocess.run(command, shell=True)
