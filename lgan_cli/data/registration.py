"""Registering a training pair's target crop onto its source crop.

Each photo of a pair is aligned on its own, and the alignment follows the eye-to-mouth
vector, so a smile shifts and scales the whole target crop against the source crop: on the
London set at 128 px the eye corners and nose bridge of one person's two crops differ by about
a pixel while the mouth itself moves less than two. Left alone, half of what the generator is
asked to learn (and half of what the metrics measure) is that misalignment. So the target's
crop and points are moved onto the source by the similarity that best maps the target's
stable points (eye corners, nose bridge: parts an expression hardly moves) onto the source's,
before any loss or metric sees them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

STABLE_POINTS: tuple[int, ...] = (36, 39, 42, 45, 27, 28, 29, 30)
"""iBUG indices an expression hardly moves: the four eye corners and the nose bridge."""


def fit_similarity(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift) mapping `moving` points onto `fixed`
    in the least-squares sense (Umeyama's closed form, no reflection)."""
    moving, fixed = np.asarray(moving, dtype=np.float64), np.asarray(fixed, dtype=np.float64)
    mean_m, mean_f = moving.mean(axis=0), fixed.mean(axis=0)
    m, f = moving - mean_m, fixed - mean_f
    # complex form: the best z = s * e^{i theta} minimises |f - z m|^2
    zm, zf = m[:, 0] + 1j * m[:, 1], f[:, 0] + 1j * f[:, 1]
    z = np.vdot(zm, zf) / max(np.vdot(zm, zm).real, 1e-12)
    linear = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.hstack([linear, (mean_f - linear @ mean_m)[:, None]])


def registration_matrix(target_points: np.ndarray, source_points: np.ndarray) -> np.ndarray:
    """The similarity (2x3) taking the target crop's pixels onto the source crop's frame."""
    stable = list(STABLE_POINTS)
    return fit_similarity(np.asarray(target_points)[stable], np.asarray(source_points)[stable])


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (np.asarray(points, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def warp_images(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Move (B, C, S, S) images by per-image 2x3 pixel-space matrices (bilinear, edge pixels repeated).

    Pixel centres sit at integers (OpenCV's convention), so this equals cv2.warpAffine with
    BORDER_REPLICATE up to interpolation rounding.
    """
    batch, _, height, width = images.shape
    matrices = matrices.to(images.dtype)
    full = torch.cat([matrices, matrices.new_tensor([0, 0, 1]).expand(batch, 1, 3)], dim=1)
    inverse = torch.linalg.inv(full)[:, :2]  # output pixel -> input pixel
    to_norm = torch.tensor([[2 / (width - 1), 0, -1], [0, 2 / (height - 1), -1], [0, 0, 1]], dtype=images.dtype)
    from_norm = torch.linalg.inv(to_norm)
    theta = to_norm[:2] @ torch.cat([inverse, full.new_tensor([0, 0, 1]).expand(batch, 1, 3)], dim=1) @ from_norm
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


def register_pairs(
    targets: torch.Tensor, target_points: torch.Tensor, source_points: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target crops (B, 3, S, S) and points (B, 68, 2) moved into their sources' frames."""
    matrices = np.stack(
        [registration_matrix(t, s) for t, s in zip(target_points.cpu().numpy(), source_points.cpu().numpy())]
    )
    moved_points = torch.from_numpy(
        np.stack([apply_matrix(m, p) for m, p in zip(matrices, target_points.cpu().numpy())])
    ).to(target_points.device)
    moved = warp_images(targets.float(), torch.from_numpy(matrices).to(targets.device, torch.float32))
    return moved.to(targets.dtype), moved_points
