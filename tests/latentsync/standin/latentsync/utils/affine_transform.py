"""STAND-IN for LatentSync's latentsync/utils/affine_transform.py (tests only; not LatentSync).

`AlignRestore` with the same constructor, attributes (face_template, face_size, fill_value)
and methods (align_warp_face, restore_img, transformation_from_points). Warps use OpenCV on
the CPU instead of kornia; restore_img is the stock feathered-rectangle paste-back described
in the project's latentsync-facts.md, truncating to uint8 like the original.
"""

import cv2
import numpy as np
import torch


class AlignRestore(object):
    def __init__(self, align_points=3, resolution=256, device="cpu", dtype=torch.float16):
        if align_points == 3:
            self.upscale_factor = 1
            ratio = resolution / 256 * 2.8
            self.crop_ratio = (ratio, ratio)
            self.face_template = np.array([[17.0, 20.0], [58.0, 20.0], [37.5, 40.0]]) * ratio
            self.face_size = (int(75 * self.crop_ratio[0]), int(100 * self.crop_ratio[1]))
            self.p_bias = None
            self.device = "cpu"
            self.dtype = dtype
            self.fill_value = torch.tensor([127, 127, 127], dtype=dtype)
            self.mask = torch.ones((1, 1, self.face_size[1], self.face_size[0]), dtype=dtype)

    def align_warp_face(self, img, landmarks3, smooth=True):
        affine_matrix, self.p_bias = self.transformation_from_points(landmarks3, self.face_template, smooth, self.p_bias)
        cropped_face = cv2.warpAffine(np.ascontiguousarray(img, dtype=np.uint8), affine_matrix, self.face_size,
                                      flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                      borderValue=(127, 127, 127))
        affine_matrix = torch.from_numpy(affine_matrix).to(dtype=self.dtype).unsqueeze(0)
        return cropped_face, affine_matrix

    def restore_img(self, input_img, face, affine_matrix):
        height, width = input_img.shape[:2]
        matrix = affine_matrix if isinstance(affine_matrix, np.ndarray) else affine_matrix.float().cpu().numpy()
        matrix = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
        inverse = cv2.invertAffineTransform(matrix)
        face_img = face.float().cpu().numpy().transpose(1, 2, 0)
        face_img = np.clip(face_img / 2 + 0.5, 0, 1) * 255
        crop_h, crop_w = face_img.shape[:2]
        inv_face = cv2.warpAffine(face_img.astype(np.float32), inverse, (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=(127, 127, 127))
        inv_mask = cv2.warpAffine(np.ones((crop_h, crop_w), np.float32), inverse, (width, height))
        inv_mask = cv2.erode(inv_mask, np.ones((2, 2), np.uint8))
        edge = int(float(inv_mask.sum()) ** 0.5) // 20
        centre = cv2.erode(inv_mask, np.ones((2 * edge, 2 * edge), np.uint8)) if edge > 0 else inv_mask
        size = 2 * edge + 1
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
        soft = cv2.GaussianBlur(centre, (size, size), sigma)[..., None]
        out = soft * (inv_mask[..., None] * inv_face) + (1 - soft) * input_img.astype(np.float32)
        return out.astype(np.uint8)

    def transformation_from_points(self, points1, points0, smooth=True, p_bias=None):
        src = np.asarray(points1, dtype=np.float64)
        dst = np.asarray(points0, dtype=np.float64)
        src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
        src_c, dst_c = src - src_mean, dst - dst_mean
        src_s, dst_s = src_c.std(), dst_c.std()
        u, _, vt = np.linalg.svd((src_c / src_s).T @ (dst_c / dst_s))
        rotation = vt.T @ u.T
        if np.linalg.det(rotation) < 0:
            vt[-1] *= -1
            rotation = vt.T @ u.T
        linear = (dst_s / src_s) * rotation
        translation = dst_mean - linear @ src_mean
        return np.hstack([linear, translation[:, None]]), p_bias
