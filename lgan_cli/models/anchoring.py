"""Stage I's points anchored on the face's own: G_l's regression error taken out where the face is neutral.

G_l reads a face's points from its pixels, and on people it never saw that reading is off by
about a pixel of a 128 px crop even where the expression moves nothing (london-warp-128 on the
held-out London crops, each asked for the expression it shows: jaw 1.8 px, brows 1.0 px, nose
0.9 px from the detected points). Stage II moves the photo's pixels by whatever the points say, so that error
becomes motion, ten times larger at the photo's size: a nose or a brow shifted, the person's
look changed. G_l makes nearly the same error on a face whatever label it is given, so its
reading of the face as neutral measures it: where the face *is* neutral, that reading should be
the detected points, and the difference is error, subtracted from the requested points.

Where the face shows an expression (a smile to be neutralised), G_l's neutral reading is the
edit itself and is kept. Which points those are comes from the fitted 3D face model: how far
its neutralisation (`geometry.transfer`, the face's resting shape kept) moves each point, from
nothing at 0 to all of it at `EXPRESSIVE_MOTION`.
"""

from __future__ import annotations

import torch

EXPRESSIVE_MOTION = 1.0 / 128
"""Neutralisation motion (fraction of the crop side; one pixel at 128) from which a point counts
as expressive, so G_l's neutral reading of it is kept as the edit."""


def anchored_points(
    generated: torch.Tensor, own_neutral: torch.Tensor, fitted_neutral: torch.Tensor, points68: torch.Tensor, size: int
) -> torch.Tensor:
    """(B, 68, 2) `generated` less G_l's error where the face is neutral.

    `own_neutral`: G_l's points for the same crops labelled neutral; `fitted_neutral`: the fitted
    3D model's neutral of each face; `points68`: the detected points; `size`: the crop side.
    """
    expressive = ((fitted_neutral - points68).norm(dim=-1, keepdim=True) / (EXPRESSIVE_MOTION * size)).clamp(0, 1)
    return generated - (1 - expressive) * (own_neutral - points68)
