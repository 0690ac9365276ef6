"""Point distribution model: the 68 landmarks as a mean shape plus a few PCA modes.

G_l predicts PDM coefficients instead of 136 free coordinates, so every generated shape is
a plausible face (the paper adopts a PDM decoder, following Sun et al.). The PCA is fitted
from the training set's aligned landmarks and stored with the model.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def fit_pdm(points: np.ndarray, components: int) -> dict[str, np.ndarray]:
    """PCA of (N, 68, 2) shapes: mean (136,), modes (K, 136) orthonormal, stds (K,).

    Training fits it to the shapes as augmentation shows them, flips included
    (`lgan_cli.train.data.augmented_shapes`).
    """
    shapes = np.asarray(points, dtype=np.float64)
    flat = shapes.reshape(len(shapes), -1)
    mean = flat.mean(axis=0)
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    k = min(components, len(singular))
    modes = np.zeros((components, flat.shape[1]))
    stds = np.zeros(components)
    modes[:k] = vt[:k]
    stds[:k] = singular[:k] / np.sqrt(max(len(flat) - 1, 1))
    # with fewer shapes than modes the extra modes stay zero (no effect); stds of 0 mark them
    return {"mean": mean.astype(np.float32), "modes": modes.astype(np.float32), "stds": stds.astype(np.float32)}


class PDMDecoder(nn.Module):
    """Coefficients in standard deviations (B, K) -> points (B, 68, 2) in crop pixels, as a
    displacement of the mean shape or of a given `base` shape per sample."""

    def __init__(self, components: int, points: int = 68):
        super().__init__()
        self.register_buffer("mean", torch.zeros(points * 2))
        self.register_buffer("modes", torch.zeros(components, points * 2))
        self.register_buffer("stds", torch.ones(components))

    def set_model(self, fitted: dict[str, np.ndarray]) -> None:
        k = self.modes.shape[0]
        if fitted["modes"].shape[0] != k:
            raise ValueError(f"PDM has {fitted['modes'].shape[0]} modes, the model expects {k}")
        self.mean.copy_(torch.from_numpy(fitted["mean"]))
        self.modes.copy_(torch.from_numpy(fitted["modes"]))
        self.stds.copy_(torch.from_numpy(fitted["stds"]))

    def forward(self, coefficients: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """`base` (B, 68, 2): the shapes the modes displace; None: the mean shape."""
        displacement = (coefficients * self.stds) @ self.modes
        if base is None:
            return (self.mean + displacement).view(coefficients.shape[0], -1, 2)
        return base + displacement.view(base.shape)
