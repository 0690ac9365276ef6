"""Apply a warp renderer's edit to the photo at the photo's own resolution.

The renderer describes its edit in crop pixels: a backward flow f (the output pixel q takes the
input at q + f(q)), a synthesis mask m and colours c. Nothing of the crop's pixels is pasted:
the flow is lifted through the alignment to photo pixels and the ORIGINAL photo is resampled
once, so skin, lashes, hair and noise stay the photograph's own; only m * c, where the renderer
paints what the photo does not contain (teeth, the mouth's interior), comes from the crop.

Lifting: the alignment maps photo to crop, x_crop = A x_photo with A = s R (+ shift). A photo
pixel p sits at q = A p in the crop; the crop flow there, f(q), is a displacement in crop pixels,
which is A^-1 f(q) = (1/s) R^T f(q) in photo pixels. So p takes the photo at p + A^-1 f(A p).

Only the photo box under the edit's support is computed, and every pixel the edit does not
touch (zero flow, zero mask) is the input's, bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np

from lgan_cli.faces.align import Alignment
from lgan_cli.faces.paste import check_rgb, photo_box, warp_into_box

FLOW_EPSILON = 1e-3
"""Crop-pixel displacements below this count as no motion (a thousandth of a crop pixel)."""

STRIP_ROWS = 256
"""The box is moved this many photo rows at a time: a 64-megapixel photo's face box is 30 million
pixels, and the maps for all of it at once are a gigabyte of fresh memory, whose first touch
alone took seconds on a small machine. The moved pixels are the whole box's bit for bit; painted
ones (m * c) may differ by a grey level, as OpenCV rounds the colours' warp per strip."""


def lift_flow(flow_crop: np.ndarray, alignment: Alignment, box: tuple[int, int, int, int]) -> np.ndarray:
    """The crop's backward flow as a photo-pixel displacement (h, w, 2) for every pixel of `box`."""
    x0, y0, x1, y1 = box
    matrix = alignment.matrix.astype(np.float32)
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    crop_x = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]  # (h, w) by broadcasting
    crop_y = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
    sampled = cv2.remap(
        flow_crop.astype(np.float32),
        crop_x,
        crop_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    (a, b), (c, d) = np.linalg.inv(alignment.matrix[:, :2]).astype(np.float32)
    flow_x, flow_y = sampled[..., 0], sampled[..., 1]
    # written out: a (h, w, 2) @ (2, 2) matmul took 3.5 s of a 64-megapixel photo's 8.5 s compose
    return np.stack([a * flow_x + b * flow_y, c * flow_x + d * flow_y], axis=-1)


def compose_warp(
    photo: np.ndarray,
    alignment: Alignment,
    flow_crop: np.ndarray,
    mask_crop: np.ndarray,
    colours_crop: np.ndarray,
) -> np.ndarray:
    """A new uint8 RGB photo: the original moved by the lifted flow, with m * c blended in.

    `flow_crop` (S, S, 2) float, crop pixels; `mask_crop` (S, S) in [0, 1]; `colours_crop`
    (S, S, 3) uint8. Pixels outside the edit's support are the input's exactly.
    """
    check_rgb(photo, "photo")
    check_rgb(colours_crop, "colours")
    size = alignment.size
    if flow_crop.shape != (size, size, 2) or mask_crop.shape != (size, size):
        raise ValueError(
            f"flow {flow_crop.shape} and mask {mask_crop.shape} must be {size} x {size} like the alignment"
        )
    support = ((np.abs(flow_crop).max(axis=2) > FLOW_EPSILON) | (mask_crop > 0)).astype(np.float32)
    out = photo.copy()
    box = photo_box(support, alignment, photo.shape[:2])
    if box is None:
        return out
    x0, y0, x1, y1 = box
    for top in range(y0, y1, STRIP_ROWS):
        strip = (x0, top, x1, min(top + STRIP_ROWS, y1))
        out[strip[1] : strip[3], x0:x1] = _moved_strip(photo, alignment, flow_crop, mask_crop, colours_crop, strip)
    return out


def _moved_strip(
    photo: np.ndarray,
    alignment: Alignment,
    flow_crop: np.ndarray,
    mask_crop: np.ndarray,
    colours_crop: np.ndarray,
    strip: tuple[int, int, int, int],
) -> np.ndarray:
    """The photo's pixels of `strip` (x0, y0, x1, y1) after the edit: moved where the flow moves
    them, m * c blended in where the mask paints, the photo's own elsewhere."""
    x0, y0, x1, y1 = strip
    displacement = lift_flow(flow_crop, alignment, strip)
    map_x = displacement[..., 0] + np.arange(x0, x1, dtype=np.float32)[None, :]
    map_y = displacement[..., 1] + np.arange(y0, y1, dtype=np.float32)[:, None]
    moved = cv2.remap(photo, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    moving = FLOW_EPSILON / alignment.scale
    touched = (np.abs(displacement[..., 0]) > moving) | (np.abs(displacement[..., 1]) > moving)
    if (mask_crop > 0).any():  # blend m * c in (only a model that paints needs the second warp and the float blend)
        to_box = alignment.inverse.copy()
        to_box[:, 2] -= (x0, y0)
        colours, alpha = warp_into_box(
            colours_crop, mask_crop.astype(np.float32), to_box, alignment.scale, (x1 - x0, y1 - y0)
        )
        alpha = alpha[..., None]
        moved = np.clip(np.round(moved.astype(np.float32) * (1.0 - alpha) + colours.astype(np.float32) * alpha), 0, 255)
        moved = moved.astype(np.uint8)
        touched |= alpha[..., 0] > 0
    return np.where(touched[..., None], moved, photo[y0:y1, x0:x1])
