"""The interface every expression editor offers to evaluation and the CLI, and the copy baseline.

An editor turns aligned crops (B, 3, S, S) in [-1, 1], with their 68 points in crop pixels,
into crops showing the requested expressions. Evaluation only needs this interface, so
LandmarkGAN checkpoints and baselines are measured by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass
class EditResult:
    images: torch.Tensor  # (B, 3, S, S) in [-1, 1]
    points68: torch.Tensor | None = None  # (B, 68, 2) generated target landmarks, crop pixels


class Editor(Protocol):
    name: str
    resolution: int | None  # None: works at any size
    expressions: tuple[str, ...] | None  # None: accepts any expression name

    def edit(
        self, crops: torch.Tensor, points68: torch.Tensor, expressions: list[str], intensities: list[float | None]
    ) -> EditResult: ...


class CopyEditor:
    """The 'copy the input' baseline: returns the source face unchanged.

    Any method worth using must beat it on the metrics that compare with the target photo.
    """

    name = "copy"
    resolution = None
    expressions = None

    def edit(self, crops, points68, expressions, intensities) -> EditResult:
        return EditResult(images=crops.clone(), points68=points68.clone())


class LandmarkGANEditor:
    """A trained LandmarkGAN behind the Editor interface.

    Intensity: a model trained with intensity labels (Eq. 10) takes levels 1..N as labels.
    For any model, a value a in (0, 1) scales the landmark displacement,
    target = source + a * (generated - source), before G_e renders, so intensity is
    continuous even for models trained without intensity labels.
    """

    def __init__(self, model, name: str):
        self.model = model
        self.name = name
        self.resolution = model.config.resolution
        self.expressions = model.config.expressions

    def edit(self, crops, points68, expressions, intensities) -> EditResult:
        config = self.model.config
        levels = [_level(value, config.intensity_levels) for value in intensities]
        labels = self.model.encode_labels(expressions, levels)
        points = self.model.g_l(crops, labels)
        fractions = torch.tensor([_fraction(value) for value in intensities], device=points.device, dtype=points.dtype)
        if (fractions != 1).any():
            points = points68 + fractions[:, None, None] * (points - points68)
        _, images = self.model.render(crops, points, labels)
        return EditResult(images=images, points68=points)


def _level(value: float | None, levels: int) -> int | None:
    """An intensity label for models trained with levels; None (no label) otherwise."""
    if not levels or value is None or value < 1:
        return None
    return min(int(round(value)), levels)


def _fraction(value: float | None) -> float:
    """The displacement fraction: values in (0, 1) scale the edit; levels and None are full edits."""
    if value is None or value >= 1:
        return 1.0
    return float(value)
