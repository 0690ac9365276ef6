"""Landmark distance (paper Table VI): how far generated landmarks are from the real ones."""

from __future__ import annotations

import numpy as np

REFERENCE_SIZE = 256
"""Distances are reported in pixels of a 256 x 256 crop, the paper's resolution."""


def landmark_distance(predicted: np.ndarray, target: np.ndarray, size: int) -> float:
    """Mean Euclidean distance over the 68 points, rescaled from an S-pixel crop to 256 px."""
    predicted, target = np.asarray(predicted, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if predicted.shape != target.shape or predicted.shape[-1] != 2:
        raise ValueError(f"point arrays must match and end in 2, got {predicted.shape} and {target.shape}")
    return float(np.linalg.norm(predicted - target, axis=-1).mean() * REFERENCE_SIZE / size)
