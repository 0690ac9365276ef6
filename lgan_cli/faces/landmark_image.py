"""Landmark images (paper Sec. III-A): the 68 points drawn as coloured discs on white.

Each pixel within radius S_l of a landmark takes the colour of the image at that landmark
("soft-crops": the discs carry both shape and the colours of the face parts); every other
pixel is white. S_l = 4 at 256 px, scaled with the crop size. Three versions:

- `render_landmark_image`: the exact, hard-edged numpy version (data preparation, display);
- `soft_landmark_image`: a differentiable torch version whose discs have a smooth edge, so
  gradients reach the point coordinates and the stage-II losses can train G_l end to end;
- black dots (`colours=None`) for the paper's "w/o soft-crops" ablation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

PAPER_RADIUS, PAPER_SIZE = 4.0, 256


def landmark_radius(size: int) -> float:
    """S_l for an S x S image: 4 px at 256 px, proportionally smaller or larger otherwise."""
    return PAPER_RADIUS * size / PAPER_SIZE


def sample_colours(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear colour of an (H, W, 3) image at each (x, y) point; points outside are clamped."""
    img = np.asarray(image, dtype=np.float32)
    height, width = img.shape[:2]
    x = np.clip(np.asarray(points, dtype=np.float64)[:, 0], 0, width - 1)
    y = np.clip(np.asarray(points, dtype=np.float64)[:, 1], 0, height - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def render_landmark_image(
    points: np.ndarray, size: int, colours: np.ndarray | None = None, radius: float | None = None
) -> np.ndarray:
    """The paper's landmark image as (S, S, 3) uint8: discs of `colours` (black if None) on white.

    A pixel belongs to a disc when its centre lies within `radius` of the point; where discs
    overlap, the later point (higher iBUG index) wins.
    """
    radius = landmark_radius(size) if radius is None else radius
    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    fills = np.zeros((len(points), 3)) if colours is None else np.asarray(colours, dtype=np.float64)
    fills = np.clip(np.rint(fills), 0, 255).astype(np.uint8)
    reach = int(math.ceil(radius))
    for (px, py), fill in zip(np.asarray(points, dtype=np.float64), fills):
        x0, x1 = max(0, int(math.floor(px)) - reach), min(size - 1, int(math.ceil(px)) + reach)
        y0, y1 = max(0, int(math.floor(py)) - reach), min(size - 1, int(math.ceil(py)) + reach)
        if x0 > x1 or y0 > y1:
            continue
        ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
        inside = (xs - px) ** 2 + (ys - py) ** 2 <= radius**2
        canvas[ys[inside], xs[inside]] = fill
    return canvas


def sample_colours_torch(images: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear colours (B, N, C) of images (B, C, H, W) at pixel points (B, N, 2); differentiable."""
    height, width = images.shape[-2:]
    scale = points.new_tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)])
    grid = (points * scale - 1.0).unsqueeze(2)  # (B, N, 1, 2) in [-1, 1], align_corners=True
    sampled = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return sampled.squeeze(-1).transpose(1, 2)


def soft_landmark_image(
    points: torch.Tensor,
    size: int,
    colours: torch.Tensor | None = None,
    radius: float | None = None,
    softness: float = 0.5,
    background: float = 1.0,
    foreground_black: float = -1.0,
) -> torch.Tensor:
    """Differentiable landmark image (B, 3, S, S) from points (B, N, 2) in crop pixels.

    Disc coverage is sigmoid((radius - distance) / softness), so the disc edge moves smoothly
    with the point; overlapping discs combine as 1 - prod(1 - coverage) with their colours
    averaged by coverage. `colours` (B, N, 3) are in the same value range as `background`
    (images in [-1, 1]: white = 1); None draws dots of `foreground_black`.
    Only a window around each point is evaluated, so the cost is O(N * window^2), not O(N * S^2).
    """
    radius = landmark_radius(size) if radius is None else radius
    batch, count, _ = points.shape
    if colours is None:
        colours = points.new_full((batch, count, 3), foreground_black)
    reach = int(math.ceil(radius + 6 * softness)) + 1
    offsets = torch.arange(-reach, reach + 1, device=points.device)
    centres = points.detach().round().long()  # (B, N, 2) integer window centres
    xs = centres[..., 0, None, None] + offsets[None, None, None, :]  # (B, N, 1, K)
    ys = centres[..., 1, None, None] + offsets[None, None, :, None]  # (B, N, K, 1)
    dist = torch.sqrt((xs - points[..., 0, None, None]) ** 2 + (ys - points[..., 1, None, None]) ** 2 + 1e-8)
    coverage = torch.sigmoid((radius - dist) / softness)  # (B, N, K, K)
    valid = ((xs >= 0) & (xs < size) & (ys >= 0) & (ys < size)).to(coverage.dtype)
    coverage = coverage * valid
    flat_index = (ys.clamp(0, size - 1) * size + xs.clamp(0, size - 1)).expand_as(coverage).reshape(batch, -1)

    def splat(values: torch.Tensor) -> torch.Tensor:
        canvas = values.new_zeros(batch, size * size)
        return canvas.scatter_add(1, flat_index, values.reshape(batch, -1))

    log_uncovered = splat(torch.log1p(-coverage.clamp(max=1 - 1e-6)))
    alpha = 1 - torch.exp(log_uncovered)  # (B, S*S)
    weight = splat(coverage) + 1e-8
    mixed = torch.stack([splat(coverage * colours[..., c, None, None]) for c in range(colours.shape[-1])], 1)
    colour = mixed / weight[:, None]
    image = alpha[:, None] * colour + (1 - alpha[:, None]) * background
    return image.reshape(batch, -1, size, size)
