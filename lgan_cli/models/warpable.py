"""Target points a warp can render: how far an eye may open beyond what the photo shows, and
lips that meet instead of passing through each other.

A warp renderer moves the photo's own pixels; it cannot reveal what the photo hides. An eye
that opens a little is its own iris and lids stretched, and looks like an eye. One asked to open
to twice its height (a squinting smile made surprised: the squint's lids go and the surprise's
widening comes on top) stretches the lashes drooping over the iris into a dark curtain. On the
London smiling photos such requests reach 2.1 times the photo's opening; from a neutral photo
the strongest preset (fear) asks 1.36. So each eye's lid gap is held to EYE_OPENING_LIMIT times
the photo's own, by moving the lids towards their midline, corners and brows untouched.

The 3D model's chin raiser (AU17, in sadness and disgust) pushes the lower lip up into the
upper one, and projected to 68 points the lower inner lip ends above the upper inner lip: the
lips cross. Held-out neutral photos made sad cross by 8 % of the mouth's width. Crossed points
fold the photo's lips over themselves under a warp, and an opening drawn between them is a band
of teeth in a frown. Pressed lips meet at a seam, so crossed inner-lip points are set there.
"""

from __future__ import annotations

import torch

from lgan_cli.geometry.mouth import LOWER_INNER_LIP, UPPER_INNER_LIP

EYE_OPENING_LIMIT = 1.5
"""The most an eye's lid gap may grow under a warp, as a multiple of the photo's own gap. From
neutral photos no preset reaches it (fear, the widest: 1.36); a smiling photo's eye neutralised
(about 1.5) still looks like the person's eye at full size, while 2 is a smear of lashes."""

EYE_LIDS = (((37, 41), (38, 40)), ((43, 47), (44, 46)))
"""Per eye (iBUG 68), the (upper, lower) lid point pairs facing each other."""

INNER_LIP_PAIRS = tuple(zip(UPPER_INNER_LIP, reversed(LOWER_INNER_LIP)))
"""The (upper, lower) inner-lip point pairs facing each other: (61, 67), (62, 66), (63, 65)."""


def warpable_targets(source_points: torch.Tensor, target_points: torch.Tensor) -> torch.Tensor:
    """(B, 68, 2) `target_points` as a warp renderer can show them from `source_points`' photo."""
    return lips_meet(source_points, limit_eye_opening(source_points, target_points))


def mouth_down(points: torch.Tensor) -> torch.Tensor:
    """(B, 2) unit vectors across the mouth, from nose to chin (perpendicular to corner 48 -> 54)."""
    across = points[:, 54] - points[:, 48]
    down = torch.stack([-across[:, 1], across[:, 0]], dim=-1)
    return down / down.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def lip_separations(points: torch.Tensor) -> torch.Tensor:
    """(B, 3) how far each inner-lip pair's lower point lies below its upper one, across the
    mouth (pixels; negative: crossed)."""
    down = mouth_down(points)
    return torch.stack([((points[:, lower] - points[:, upper]) * down).sum(-1) for upper, lower in INNER_LIP_PAIRS], 1)


def lips_meet(source_points: torch.Tensor, target_points: torch.Tensor) -> torch.Tensor:
    """(B, 68, 2) `target_points` with every inner-lip pair that crosses (the lower point above the
    upper one, across the mouth) moved apart about its midpoint until the two meet at the seam,
    or cross only as far as the photo's own detected pair does. Parted or just-closed lips, and
    every other point, are returned exactly; so is a request for the photo's own points."""
    allowed = lip_separations(source_points).clamp(max=0.0)
    shortfall = (lip_separations(target_points) - allowed).clamp(max=0.0)  # (B, 3), <= 0
    if not bool((shortfall < 0).any()):
        return target_points
    down = mouth_down(target_points)
    met = target_points.clone()
    for k, (upper, lower) in enumerate(INNER_LIP_PAIRS):
        step = (shortfall[:, k, None] / 2) * down
        met[:, upper] = target_points[:, upper] + step
        met[:, lower] = target_points[:, lower] - step
    return met


def lid_gaps(points: torch.Tensor) -> torch.Tensor:
    """(B, 2) mean lid gap of each eye (right, left), pixels."""
    gaps = [
        torch.stack([(points[:, upper] - points[:, lower]).norm(dim=-1) for upper, lower in pairs]).mean(dim=0)
        for pairs in EYE_LIDS
    ]
    return torch.stack(gaps, dim=1)


def limit_eye_opening(
    source_points: torch.Tensor, target_points: torch.Tensor, limit: float = EYE_OPENING_LIMIT
) -> torch.Tensor:
    """(B, 68, 2) `target_points` with each eye's lid gap at most `limit` times the source's.

    The lids of an eye opened too far move together towards their midline (each facing pair
    about its own centre), by the factor that brings the gap to the limit. Eyes within the limit,
    and every other point, are returned exactly; a closed eye in the photo stays closed.
    """
    source_gap, target_gap = lid_gaps(source_points), lid_gaps(target_points)
    allowed = limit * source_gap
    factor = torch.where(target_gap > allowed, allowed / target_gap.clamp_min(1e-6), torch.ones_like(target_gap))
    if bool((factor == 1).all()):
        return target_points
    limited = target_points.clone()
    for eye, pairs in enumerate(EYE_LIDS):
        shrink = factor[:, eye, None]
        for upper, lower in pairs:
            middle = (target_points[:, upper] + target_points[:, lower]) / 2
            limited[:, upper] = middle + (target_points[:, upper] - middle) * shrink
            limited[:, lower] = middle + (target_points[:, lower] - middle) * shrink
    return limited
