"""Stage I's targets for every expression and level on real photos, from the 3D face model.

Real paired photos exist here only for neutral <-> happy. The geometry of every other
expression is available for any real face (DESIGN.md, "Expression geometry from the 3D face
model"): ICT-FaceKit is fitted to the crop's 68 points and the expression's action units
(`lgan_cli.synth.recipes`, levels 1..4 as the paper's Eq. 10 intensity labels) replace the
face's own; the projected displacement gives the target points. A smiling photo's targets
start from its neutralised face, and its "neutral" target is that neutralised face.

These samples have target points but no target photo, so they teach G_l (Eq. 5: the landmark
loss and D_l), while stage II learns from the image pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lgan_cli.data.prepared import PreparedItem

GEOMETRY_LEVELS = (1, 2, 3, 4)


@dataclass(frozen=True)
class PointTarget:
    """One request on one real crop: its target points (crop pixels) for `expression` at `level`."""

    source: PreparedItem
    expression: str
    level: int | None  # None for neutral
    points68: np.ndarray  # (68, 2) float32


def geometry_targets(
    items: Iterable[PreparedItem], expressions: Iterable[str], levels: Iterable[int] = GEOMETRY_LEVELS
) -> list[PointTarget]:
    """Every (crop, expression, level) target of `items` from one fit per crop.

    A crop's own expression at a level is included (a happy photo asked to be happy at level 2
    moves to level 2 of the model's smile); neutral is asked only of expressive crops (a neutral
    crop's neutral target is itself, which the image pairs already cover).
    """
    from lgan_cli.geometry import fit_face, neutralise, transfer

    expressions, levels = tuple(expressions), tuple(levels)
    targets = []
    for item in items:
        fit = fit_face(item.points68.astype(np.float64))
        for expression in expressions:
            if expression == "neutral":
                if item.expression != "neutral":
                    targets.append(PointTarget(item, "neutral", None, neutralise(fit).astype(np.float32)))
                continue
            for level in levels:
                points = transfer(fit, expression, level).astype(np.float32)
                targets.append(PointTarget(item, expression, level, points))
    return targets
