"""Stage I's targets for every expression and level on real photos, from the 3D face model.

Real paired photos exist here only for neutral <-> happy. The geometry of every other
expression is available for any real face (DESIGN.md, "Expression geometry from the 3D face
model"): ICT-FaceKit is fitted to the crop's 68 points and the expression's action units
(`lgan_cli.synth.recipes`, levels 1..4 as the paper's Eq. 10 intensity labels) replace the
face's own; the projected displacement gives the target points. A smiling photo's targets
start from its neutralised face, and its "neutral" target is that neutralised face.

These samples have target points but no target photo, so they teach G_l (Eq. 5: the landmark
loss and D_l), while stage II learns from the image pairs.

A G_l on the fitted base (`ModelConfig.landmark_base`) is also given each request's fitted target
points (`fitted`) and learns a correction to them: none for these targets, which are the fitted
points themselves, and what the real photos teach for the photo pairs' own targets
(`photo_point_targets`).
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
    level: int | None  # None for neutral (and a real photo's expression without a level)
    points68: np.ndarray  # (68, 2) float32
    fitted: np.ndarray  # (68, 2) float32: the fitted 3D model's points for the same request


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
                    points = neutralise(fit).astype(np.float32)
                    targets.append(PointTarget(item, "neutral", None, points, points))
                continue
            for level in levels:
                points = transfer(fit, expression, level).astype(np.float32)
                targets.append(PointTarget(item, expression, level, points, points))
    return targets


def photo_point_targets(pairs: Iterable[tuple[PreparedItem, PreparedItem]]) -> list[PointTarget]:
    """The photo pairs' own targets as point targets: each target photo's points registered onto
    its source crop (as the image pairs are), beside the fitted 3D model's points for the same
    request, so a G_l on the fitted base learns where real faces differ from the 3D model's."""
    from lgan_cli.data.registration import apply_matrix, registration_matrix

    pairs = list(pairs)
    fitted = fitted_request_points(
        np.stack([s.points68 for s, _ in pairs]), [t.expression for _, t in pairs], [t.intensity for _, t in pairs]
    )
    return [
        PointTarget(
            source,
            target.expression,
            target.intensity,
            apply_matrix(registration_matrix(target.points68, source.points68), target.points68).astype(np.float32),
            request,
        )
        for (source, target), request in zip(pairs, fitted)
    ]


def fitted_request_points(points: np.ndarray, expressions: Iterable[str], levels: Iterable[int | None]) -> np.ndarray:
    """(N, 68, 2) float32: the fitted 3D model's target points for each row's request (level None:
    the full expression), from the row's source points (N, 68, 2); a face met again is fitted once."""
    from lgan_cli.geometry import fit_face, transfer

    fits = {}
    out = []
    for row, expression, level in zip(np.asarray(points, dtype=np.float64), expressions, levels):
        key = row.tobytes()
        if key not in fits:
            fits[key] = fit_face(row)
        out.append(transfer(fits[key], expression, level))
    return np.stack(out).astype(np.float32)
