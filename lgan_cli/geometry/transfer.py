"""Expression transfer: the 68 target points of a fitted face for an expression or an AU mix.

The target geometry is the same person (fitted identity) in the same pose with the target
expression's blendshapes. Only the model's *displacement* is added to the input points:

    target = source_points + project(identity + target) - project(identity + own expression)

so the photo's exact detected points stay where the expression does not move them (a fit
never reproduces a face perfectly; its residual must not leak into the output), and an empty
target on an unchanged source returns the input points exactly.

`neutralise=True` (the default) replaces the source's own expression: the displacement
starts from the fitted face with its expression and ends at identity + target, so a smiling
source made 'sad' loses its smile. `neutralise=False` keeps the source's expression and adds
the target on top (weights add, clipped to [0, MAX_BLENDSHAPE_WEIGHT]).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lgan_cli.geometry.aus import (
    MAX_BLENDSHAPE_WEIGHT,
    AuKey,
    add_blendshapes,
    blendshape_weights_for,
    expression_blendshapes,
)
from lgan_cli.geometry.fit import FaceFit
from lgan_cli.geometry.resting import resting_part


def target_blendshapes(
    expression: str | None = None, level: int | None = 4, aus: Mapping[AuKey, float] | None = None
) -> dict[str, float]:
    """ICT blendshape weights of an expression's photo preset at `level` plus an AU mix (added, clipped)."""
    preset = expression_blendshapes(expression, level) if expression is not None else {}
    return add_blendshapes(preset, blendshape_weights_for(aus) if aus else {})


def transfer_blendshapes(fit: FaceFit, target: Mapping[str, float], neutralise: bool = True) -> np.ndarray:
    """(68, 2) target points, in the input's pixel frame, for blendshape weights `target`."""
    own = fit.expression_weights
    if neutralise:
        final = dict(target)
    else:
        final = dict(own)
        for name, weight in target.items():
            final[name] = min(MAX_BLENDSHAPE_WEIGHT, final.get(name, 0.0) + float(weight))
    for name, weight in final.items():
        if not 0.0 <= weight <= MAX_BLENDSHAPE_WEIGHT:
            raise ValueError(f"blendshape weight {name}={weight} is outside 0..{MAX_BLENDSHAPE_WEIGHT}")
    if final == own:  # nothing changes: exactly the input, not input + rounding noise
        return fit.points.copy()
    return fit.points + (fit.project(final) - fit.project(own))


def transfer(
    fit: FaceFit,
    expression: str | None = None,
    level: int | None = 4,
    aus: Mapping[AuKey, float] | None = None,
    neutralise: bool = True,
) -> np.ndarray:
    """(68, 2) target points of `fit`'s face with `expression` at intensity `level` (0..4) and/or
    the AU mix `aus` ({12: 0.8, 'R14': 0.3}); both given means both at once.

    No expression and no AUs (or level 0, or 'neutral') is the neutral face: the source's own
    expression removed when `neutralise`, the input points unchanged when not.
    """
    return transfer_blendshapes(fit, target_blendshapes(expression, level, aus), neutralise=neutralise)


def neutralise(fit: FaceFit, keep_resting: bool = False) -> np.ndarray:
    """(68, 2) points of the source face with its own expression removed; with `keep_resting`,
    only what exceeds a neutral face's own (`resting`), so a neutral face stays where it is."""
    return transfer_blendshapes(fit, resting_part(fit.expression_weights) if keep_resting else {}, neutralise=True)
