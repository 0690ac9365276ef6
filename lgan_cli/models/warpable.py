"""Target points a warp can render: how far an eye may open beyond what the photo shows.

A warp renderer moves the photo's own pixels; it cannot reveal what the photo hides. An eye
that opens a little is its own iris and lids stretched, and looks like an eye. One asked to open
to twice its height (a squinting smile made surprised: the squint's lids go and the surprise's
widening comes on top) stretches the lashes drooping over the iris into a dark curtain. On the
London smiling photos such requests reach 2.1 times the photo's opening; from a neutral photo
the strongest preset (fear) asks 1.36. So each eye's lid gap is held to EYE_OPENING_LIMIT times
the photo's own, by moving the lids towards their midline, corners and brows untouched.
"""

from __future__ import annotations

import torch

EYE_OPENING_LIMIT = 1.5
"""The most an eye's lid gap may grow under a warp, as a multiple of the photo's own gap. From
neutral photos no preset reaches it (fear, the widest: 1.36); a smiling photo's eye neutralised
(about 1.5) still looks like the person's eye at full size, while 2 is a smear of lashes."""

EYE_LIDS = (((37, 41), (38, 40)), ((43, 47), (44, 46)))
"""Per eye (iBUG 68), the (upper, lower) lid point pairs facing each other."""


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
