"""Stage I's points anchored on the face's own: G_l's regression error taken out of the photo's motion.

G_l reads a face's points from its pixels, and on people it never saw that reading is off by
about a pixel of a 128 px crop even where the expression moves nothing (london-warp-128 on the
held-out London crops, each asked for the expression it shows: jaw 1.8 px, brows 1.0 px, nose
0.9 px from the detected points; on a tilted smiling face its jaw line was 7-8 px off). Stage II
moves the photo's pixels by whatever the points say, so that error becomes motion, ten times
larger at the photo's size: a nose or a brow shifted, a cheek swollen, the person's look changed.
G_l makes nearly the same error on a face whatever label it is given, so only its *motion* is
used: its points for the request less its points for neutral, added to the face's neutral.

The face's neutral is its detected points moved by the fitted 3D face model's neutralisation
(`geometry.transfer.neutralise`, the face's resting shape kept): nothing for a neutral face.
Where the lips show an expression (a smile to be neutralised), G_l's own neutral reading of them
is used instead, from nothing at no neutralisation motion to all of it at `EXPRESSIVE_MOTION`:
G_l learned to close a smile from real pairs, which the 3D model does less well (the held-out
smiles made neutral were read as neutral in 58 % of photos with the fit's lips, 83 % with G_l's).
"""

from __future__ import annotations

import torch

EXPRESSIVE_MOTION = 1.0 / 128
"""Neutralisation motion (fraction of the crop side; one pixel at 128) from which a lip point
counts as expressive, so G_l's neutral reading of it is the edit."""

TRUSTED_POINTS = slice(48, 68)
"""The points (the lips, iBUG 48-67) where G_l's neutral reading of an expressive face is used."""


def anchored_points(
    generated: torch.Tensor, own_neutral: torch.Tensor, fitted_neutral: torch.Tensor, points68: torch.Tensor, size: int
) -> torch.Tensor:
    """(B, 68, 2): G_l's motion, `generated` less `own_neutral` (its points for the same crops
    labelled neutral), added to each face's neutral: `fitted_neutral` (the fitted 3D model's, the
    face's resting shape kept), or on expressive lips G_l's own reading. `points68`: the detected
    points; `size`: the crop side."""
    expressive = ((fitted_neutral - points68).norm(dim=-1, keepdim=True) / (EXPRESSIVE_MOTION * size)).clamp(0, 1)
    trusted = torch.zeros_like(expressive)
    trusted[:, TRUSTED_POINTS] = expressive[:, TRUSTED_POINTS]
    neutral = trusted * own_neutral + (1 - trusted) * fitted_neutral
    return generated - own_neutral + neutral
