"""The geometry-only editor: the 3D face model's expression, moved into the photo by a warp.

No learning: ICT-FaceKit is fitted to the face's 68 points (`lgan_cli.geometry`), the target
expression's action units (the recipes) replace the face's own, the 68 landmark vertices are
projected back, and the photo's own pixels follow the points through the same thin-plate-spline
flow the warp renderer starts from. It is the floor a learned model must beat: it keeps the
photograph and moves the face plausibly, but it cannot open a mouth onto teeth or fold skin.
"""

from __future__ import annotations

import torch

from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.models.editor import PAPER_LEVELS, EditResult, fitted_target_points
from lgan_cli.models.flow import prior_flow, warp
from lgan_cli.models.warpable import warpable_targets


class GeometryEditor:
    """`aus`, a FACS action-unit mix ({12: 0.8, 6: 0.5}, weights 0..1), is added to every
    requested expression (alone: to neutral), as `lgan edit --au` asks."""

    name = "geometry"
    resolution = 256  # the crop the flow is defined on: smooth, so 256 px carries it to any photo size
    expressions = RAFD_EXPRESSIONS

    def __init__(self, aus: dict | None = None):
        self.aus = dict(aus or {})

    def edit(self, crops, points68, expressions, intensities) -> EditResult:
        plan = [_level_and_fraction(intensity) for intensity in intensities]
        targets = fitted_target_points(points68, expressions, [level for level, _ in plan], aus=self.aus)
        fractions = torch.tensor([fraction for _, fraction in plan], dtype=targets.dtype, device=targets.device)
        target_points = warpable_targets(points68, points68 + fractions[:, None, None] * (targets - points68))
        flow, _ = prior_flow(points68, target_points, crops.shape[-1])
        return EditResult(
            images=warp(crops, flow, mode="bicubic").clamp(-1, 1),
            points68=target_points,
            flow=flow,
            mask=flow.new_zeros(flow.shape[:3]),
            colours=crops,
        )


def _level_and_fraction(intensity: int | float | None) -> tuple[int, float]:
    """A level 1..4 is the recipe's level; a fraction scales the full (level 4) displacement."""
    if intensity is None:
        return PAPER_LEVELS, 1.0
    if isinstance(intensity, int) and not isinstance(intensity, bool):
        return intensity, 1.0
    return PAPER_LEVELS, float(intensity)
