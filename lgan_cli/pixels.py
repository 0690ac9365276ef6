"""The one conversion between pictures and the networks' tensors.

Pictures are uint8 RGB arrays (H, W, 3), as decoded and saved; the networks take float32
tensors (B, 3, H, W) in [-1, 1]: value v <-> v / 127.5 - 1. Going back, values are clamped
to [-1, 1] and rounded to the nearest 8-bit level. Each function keeps the exact operations
(and the device they run on) that every caller used before they shared them, so outputs are
bit for bit what they were.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

PIXEL_SCALE = 127.5
"""Half the 8-bit range: one unit of a [-1, 1] image is 127.5 grey levels."""


def to_tensor(pictures: np.ndarray | Sequence[np.ndarray], device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 pictures (B, H, W, 3), a list of (H, W, 3) or one (H, W, 3) -> float32 (B, 3, H, W) in [-1, 1].

    With `device`, the uint8 pixels move there first and are converted there.
    """
    levels = channels_first(pictures)
    return from_levels(levels if device is None else levels.to(device))


def channels_first(pictures: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 pictures (as for `to_tensor`) -> their 8-bit levels as a uint8 tensor (B, 3, H, W), unconverted."""
    array = np.stack(pictures) if isinstance(pictures, (list, tuple)) else np.asarray(pictures)
    return torch.from_numpy(array[None] if array.ndim == 3 else array).permute(0, 3, 1, 2)


def from_levels(levels: torch.Tensor) -> torch.Tensor:
    """Channel-first 8-bit levels (uint8, or floats 0..255) -> float32 in [-1, 1]."""
    return levels.float() / PIXEL_SCALE - 1


def pixel_values(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images -> the same on the 0..255 scale, unrounded (what face-api's and dlib's nets take)."""
    return (images + 1.0) * PIXEL_SCALE


def to_levels(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images -> 8-bit levels as floats: clamped, on the 0..255 scale, rounded."""
    return pixel_values(images.clamp(-1, 1)).round()


def to_pictures(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> uint8 pictures (B, H, W, 3), contiguous, on the CPU."""
    return np.ascontiguousarray(to_levels(images).byte().permute(0, 2, 3, 1).cpu().numpy())
