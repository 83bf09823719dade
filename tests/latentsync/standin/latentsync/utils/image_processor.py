"""STAND-IN for LatentSync's latentsync/utils/image_processor.py (tests only; not LatentSync).

Same names and call structure: `load_fixed_mask`, `ImageProcessor` with `restorer`
(an AlignRestore), `mask_image`, `face_detector`, `affine_transform` (raising
RuntimeError("Face not detected")), `preprocess_fixed_mask_image`,
`prepare_masks_and_masked_images`, `process_images`.
"""

from typing import Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .affine_transform import AlignRestore
from .face_detector import FaceDetector


def load_fixed_mask(resolution: int, mask_image_path="latentsync/utils/mask.png") -> torch.Tensor:
    mask_image = cv2.imread(mask_image_path)
    mask_image = cv2.cvtColor(mask_image, cv2.COLOR_BGR2RGB)
    mask_image = cv2.resize(mask_image, (resolution, resolution), interpolation=cv2.INTER_LANCZOS4) / 255.0
    return torch.from_numpy(mask_image.transpose(2, 0, 1).copy()).float()


class ImageProcessor:
    def __init__(self, resolution: int = 512, device: str = "cpu", mask_image=None):
        self.resolution = resolution
        self.restorer = AlignRestore(resolution=resolution, device=device)
        self.mask_image = load_fixed_mask(resolution) if mask_image is None else mask_image
        self.face_detector = None if device == "cpu" else FaceDetector(device=device)

    def resize(self, image):
        if image.shape[-1] == self.resolution and image.shape[-2] == self.resolution:
            return image.float()
        return F.interpolate(image[None].float(), size=(self.resolution, self.resolution), mode="bicubic",
                             antialias=True)[0]

    def affine_transform(self, image) -> np.ndarray:
        if self.face_detector is None:
            raise NotImplementedError("Using the CPU for face detection is not supported")
        bbox, landmark_2d_106 = self.face_detector(image)
        if bbox is None:
            raise RuntimeError("Face not detected")
        pt_left_eye = np.mean(landmark_2d_106[[43, 48, 49, 51, 50]], axis=0)
        pt_right_eye = np.mean(landmark_2d_106[101:106], axis=0)
        pt_nose = np.mean(landmark_2d_106[[74, 77, 83, 86]], axis=0)
        landmarks3 = np.round([pt_left_eye, pt_right_eye, pt_nose])
        face, affine_matrix = self.restorer.align_warp_face(image.copy(), landmarks3=landmarks3, smooth=True)
        box = [0, 0, face.shape[1], face.shape[0]]
        face = cv2.resize(face, (self.resolution, self.resolution), interpolation=cv2.INTER_LANCZOS4)
        face = torch.from_numpy(face).permute(2, 0, 1)
        return face, box, affine_matrix

    def preprocess_fixed_mask_image(self, image: torch.Tensor, affine_transform=False):
        if affine_transform:
            image, _, _ = self.affine_transform(image)
        else:
            image = self.resize(image)
        pixel_values = (image / 255.0 - 0.5) / 0.5
        masked_pixel_values = pixel_values * self.mask_image
        return pixel_values, masked_pixel_values, self.mask_image[0:1]

    def prepare_masks_and_masked_images(self, images: Union[torch.Tensor, np.ndarray], affine_transform=False):
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(images)
        if images.shape[3] == 3:
            images = images.permute(0, 3, 1, 2)
        results = [self.preprocess_fixed_mask_image(image, affine_transform=affine_transform) for image in images]
        pixel_values_list, masked_pixel_values_list, masks_list = list(zip(*results))
        return torch.stack(pixel_values_list), torch.stack(masked_pixel_values_list), torch.stack(masks_list)

    def process_images(self, images: Union[torch.Tensor, np.ndarray]):
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(images)
        if images.shape[3] == 3:
            images = images.permute(0, 3, 1, 2)
        return (torch.stack([self.resize(image) for image in images]) / 255.0 - 0.5) / 0.5
