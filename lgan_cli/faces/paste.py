"""Put an edited S x S face crop back into the original, full-resolution photo without a seam.

The generator edits the face inside the aligned crop only, and only the face should change in
the photo: hair, background and everything outside the face must stay byte for byte as they
were. So the edited crop is blended in through a soft mask over the face region (`face_mask`),
its colours are first pulled back to the original crop's where the blend happens
(`match_colours`, since the generator drifts in brightness and tint at low resolution), and it
is warped back with the inverse of the alignment's similarity transform (`paste_back`); where
the edit left the face as it was, the photo's own fine detail, which an upscaled crop cannot
carry, is laid back over it (`unchanged_mask`). Only
the photo box under the warped mask is touched, so a 4000 x 3000 photo costs no more than the
face in it.
"""

from __future__ import annotations

import cv2
import numpy as np

from lgan_cli.faces.align import Alignment
from lgan_cli.faces.ibug68 import JAW, LEFT_BROW, RIGHT_BROW

__all__ = [
    "check_rgb",
    "colour_ring",
    "face_mask",
    "match_colours",
    "paste_back",
    "paste_faces",
    "photo_box",
    "unchanged_mask",
    "warp_into_box",
]

FOREHEAD_LIFT = 0.3
"""How far the brows are lifted to close the face over the forehead, as a fraction of the
brow-to-chin distance: expressions raise the brows and wrinkle the forehead, so it is edited too."""

FEATHER = 0.08
"""Width of the soft edge of the face mask, as a fraction of the face width (jaw 0 to jaw 16)."""

STD_RATIO_RANGE = (0.7, 1.4)
"""Clamp on the per-channel contrast change of `match_colours`: a robust transfer, not a repaint."""

RING_FRACTION = 0.35
"""Width of the colour-matching ring, inwards from the mask's outer edge, as a fraction of
the face's equivalent radius: it covers the feathered edge plus a band of skin inside it."""

MIN_RING_PIXELS = 64
"""Below this the ring is too thin for statistics and the whole mask is used instead."""

CUBIC_ABOVE = 2.0
"""Warp with bicubic interpolation when one crop pixel spans more than this many photo pixels
(bilinear is blocky there); bilinear otherwise."""

SHRINK_ABOVE = 2.0
"""Area-average the crop first when more than this many crop pixels fall on one photo pixel
(warping alone would alias)."""

BOX_PAD = 3
"""Pixels of padding around the warped mask's box: room for the interpolation footprint."""

DETAIL_ABOVE = 1.5
"""Restore the photo's own fine detail when one crop pixel spans more than this many photo
pixels: below that the generated crop is about as sharp as the photo's face."""

DETAIL_SIGMA = 1.0
"""The photo's detail is what a Gaussian of this many crop pixels removes: finer than the
generator can render at its resolution."""

UNCHANGED_BELOW, CHANGED_ABOVE = 6.0, 16.0
"""Mean absolute difference (0-255 scale) of the blurred original and edited crops: below the
first the edit left the area alone and the photo's detail is kept in full, above the second
the edit changed it (an opened mouth, new teeth) and none is kept; a smooth ramp between."""


# --------------------------------------------------------------------------- the mask


def unchanged_mask(original_crop: np.ndarray, edited_crop: np.ndarray) -> np.ndarray:
    """A float32 (S, S) weight in [0, 1]: 1 where the edit left the face as it was, 0 where it changed it.

    Compares the two crops at the scale the generator renders well (blurred by a few pixels, so
    its softness and noise do not count as change); the photo's fine detail can be laid back
    only where this is high, or the old mouth would show through the new one.
    """
    sigma = max(1.0, original_crop.shape[0] / 64)
    blur = lambda image: cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)  # noqa: E731
    change = np.abs(blur(original_crop) - blur(edited_crop)).mean(axis=2)
    ramp = np.clip((change - UNCHANGED_BELOW) / (CHANGED_ABOVE - UNCHANGED_BELOW), 0.0, 1.0)
    keep = (1.0 - _smoothstep(ramp)).astype(np.float32)
    # grow the changed areas by a margin, so no old edge (a lip line, a tooth) survives next to them
    reach = 2 * int(round(2 * sigma)) + 1
    keep = cv2.erode(keep, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    return cv2.GaussianBlur(keep, (0, 0), sigma)


def face_mask(
    points68_crop: np.ndarray, size: int, feather: float = FEATHER, forehead: float = FOREHEAD_LIFT
) -> np.ndarray:
    """A float32 (size, size) mask in crop coordinates: 1 on the face, 0 outside, feathered between.

    `points68_crop` is one face's 68 points (68, 2) or several sets of them (N, 68, 2) -- the
    source face and the generated target points -- whose regions are united, because an edit
    can open the mouth or lower the chin beyond the source face's outline. Each region is the
    convex hull of the jaw line and the brows lifted over the forehead. The soft edge lies
    OUTSIDE the region (the face itself stays at exactly 1) and ramps to 0 over
    `feather` x face width; the mask is also forced to 0 at the crop border, so the crop's
    edge never shows in the photo.
    """
    sets = np.asarray(points68_crop, dtype=np.float64).reshape(-1, 68, 2)
    region = np.zeros((size, size), dtype=np.uint8)
    for points in sets:
        _fill_convex(region, _face_outline(points, forehead))
    if not region.any():
        return np.zeros((size, size), dtype=np.float32)

    face_width = max(float(np.linalg.norm(points[JAW[-1]] - points[JAW[0]])) for points in sets)
    ramp = max(2.0, feather * face_width)
    # distance (px) of every outside pixel to the region; 0 on the region itself
    outside = cv2.distanceTransform(np.where(region > 0, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    mask = _smoothstep(1.0 - outside / ramp)
    return (mask * _border_window(size, ramp)).astype(np.float32)


def _face_outline(points: np.ndarray, forehead: float) -> np.ndarray:
    """Jaw line plus the brows and the brows lifted along the chin-to-brow direction.

    Lifting along that direction (not along -y) keeps the forehead on the face when the
    points are tilted in the crop.
    """
    jaw = points[list(JAW)]
    brows = points[list(RIGHT_BROW + LEFT_BROW)]
    chin = points[JAW[len(JAW) // 2]]
    upwards = brows.mean(axis=0) - chin
    lifted = brows + forehead * upwards
    return np.vstack([jaw, brows, lifted])


def _fill_convex(image: np.ndarray, outline: np.ndarray, shift: int = 4) -> None:
    """Fill the convex hull of `outline` into `image` (255), with sub-pixel vertex precision."""
    hull = cv2.convexHull(np.round(outline * (1 << shift)).astype(np.int32))
    cv2.fillConvexPoly(image, hull, 255, lineType=cv2.LINE_8, shift=shift)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, and a C1 ramp between: no visible kink at either end of the feather."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _border_window(size: int, ramp: float) -> np.ndarray:
    """1 inside, falling to exactly 0 on the outermost crop pixels over `ramp` px.

    A guard for faces (or lowered chins) that reach the crop's edge: without it the crop's
    hard border would be pasted into the photo.
    """
    edge = np.arange(size, dtype=np.float64)
    to_border = np.minimum(edge, size - 1 - edge)  # 0 on the first and last pixel
    profile = _smoothstep(to_border / ramp)
    return np.minimum.outer(profile, profile)


# --------------------------------------------------------------------------- colours


def colour_ring(mask: np.ndarray) -> np.ndarray:
    """Boolean ring where the seam would show: the mask's feathered edge and a band inside it.

    Its width is `RING_FRACTION` of the radius of a disc as large as the face (mask > 0.5),
    so it scales with the face without needing to know how the mask was feathered.
    """
    support = (mask > 0.02).astype(np.uint8)
    if not support.any():
        return support.astype(bool)
    radius = np.sqrt(float((mask > 0.5).sum()) / np.pi)
    inside = cv2.distanceTransform(support, cv2.DIST_L2, 5)  # distance to the nearest pixel outside
    return (support > 0) & (inside <= max(2.0, RING_FRACTION * radius))


def match_colours(edited: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The edited RGB uint8 crop with its Lab mean/std matched to the reference in the ring.

    The generator drifts in brightness and tint; where the mask blends edited and original
    pixels that drift would show as a seam. Statistics come from the ring (weighted by the
    mask, so the outermost feather counts least), the whole mask if the ring is too small;
    the correction is applied to the whole crop. The contrast ratio is clamped to
    `STD_RATIO_RANGE` so a flat or clipped region cannot blow it up.
    """
    if edited.shape != reference.shape or edited.shape[:2] != mask.shape:
        raise ValueError(f"crop {edited.shape}, reference {reference.shape} and mask {mask.shape} differ in size")
    ring = colour_ring(mask)
    if ring.sum() < MIN_RING_PIXELS:
        ring = mask > 0.02
    if ring.sum() < MIN_RING_PIXELS:
        return edited.copy()
    weights = mask[ring].astype(np.float64)

    edited_lab = _to_lab(edited)
    reference_lab = _to_lab(reference)
    matched = np.empty_like(edited_lab)
    low, high = STD_RATIO_RANGE
    for channel in range(3):
        mean_e, std_e = _weighted_stats(edited_lab[..., channel][ring], weights)
        mean_r, std_r = _weighted_stats(reference_lab[..., channel][ring], weights)
        ratio = float(np.clip(std_r / max(std_e, 1e-6), low, high))
        matched[..., channel] = (edited_lab[..., channel] - mean_e) * ratio + mean_r
    return _from_lab(matched)


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """Float Lab (L 0..100): float input keeps the transfer free of 8-bit rounding steps."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _from_lab(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def _weighted_stats(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    mean = float(np.average(values, weights=weights))
    std = float(np.sqrt(np.average((values - mean) ** 2, weights=weights)))
    return mean, std


# --------------------------------------------------------------------------- pasting


def paste_back(
    photo: np.ndarray,
    edited_crop: np.ndarray,
    alignment: Alignment,
    mask_crop: np.ndarray,
    colour_reference_crop: np.ndarray | None = None,
    keep_detail: bool = False,
) -> np.ndarray:
    """A new uint8 RGB photo with the edited crop blended in through the mask.

    The crop (colour-matched to `colour_reference_crop`, the original aligned crop, when
    given) and the mask are warped back with the alignment's inverse; only the photo box
    under the warped mask is computed and written, and every pixel where the warped mask is
    0 is exactly the input photo. With `keep_detail` (and a colour reference), the photo's
    own detail finer than a crop pixel (skin, hair, lashes), which an upscaled crop cannot
    carry, is laid back wherever `unchanged_mask` finds the face unedited.
    """
    size = alignment.size
    check_rgb(photo, "photo")
    check_rgb(edited_crop, "edited crop")
    if edited_crop.shape[:2] != (size, size) or mask_crop.shape != (size, size):
        raise ValueError(
            f"edited crop {edited_crop.shape} and mask {mask_crop.shape} must be {size} x {size} like the alignment"
        )
    out = photo.copy()
    box = photo_box(mask_crop, alignment, photo.shape[:2])
    if box is None:
        return out
    detail_weight = None
    if colour_reference_crop is not None:
        edited_crop = match_colours(edited_crop, colour_reference_crop, mask_crop)
        if keep_detail and 1.0 / alignment.scale > DETAIL_ABOVE:
            detail_weight = unchanged_mask(colour_reference_crop, edited_crop)

    x0, y0, x1, y1 = box
    to_box = alignment.inverse.copy()
    to_box[:, 2] -= (x0, y0)  # photo -> box coordinates
    colour, alpha = warp_into_box(edited_crop, mask_crop, to_box, alignment.scale, (x1 - x0, y1 - y0))

    region = out[y0:y1, x0:x1]
    colour = colour.astype(np.float32)
    if detail_weight is not None:
        colour += (
            _photo_detail(region, alignment.scale) * _warp_weight(detail_weight, to_box, (x1 - x0, y1 - y0))[..., None]
        )
    alpha = alpha[..., None]
    blended = region.astype(np.float32) * (1.0 - alpha) + colour * alpha
    blended = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(alpha > 0, blended, region)
    return out


def paste_faces(
    photo: np.ndarray,
    edits: list[tuple[np.ndarray, Alignment, np.ndarray, np.ndarray | None]],
    keep_detail: bool = False,
) -> np.ndarray:
    """Paste several faces, each (edited_crop, alignment, mask_crop, reference_crop), in order.

    Later faces are blended over earlier ones where their masks overlap.
    """
    out = photo
    for edited_crop, alignment, mask_crop, reference_crop in edits:
        out = paste_back(out, edited_crop, alignment, mask_crop, reference_crop, keep_detail)
    return out.copy() if out is photo else out


def _photo_detail(region: np.ndarray, scale: float) -> np.ndarray:
    """The photo box's detail finer than `DETAIL_SIGMA` crop pixels (float32, zero mean)."""
    image = region.astype(np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), DETAIL_SIGMA / scale)


def _warp_weight(weight_crop: np.ndarray, to_box: np.ndarray, box_size: tuple[int, int]) -> np.ndarray:
    """A crop-space weight in [0, 1] warped into the photo box (bilinear, 0 outside the crop)."""
    warped = cv2.warpAffine(
        weight_crop.astype(np.float32),
        to_box,
        box_size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.clip(warped, 0.0, 1.0)


def check_rgb(image: np.ndarray, name: str) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}")


def photo_box(
    mask_crop: np.ndarray, alignment: Alignment, photo_shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), end-exclusive: the photo box under the mask's support, padded and clipped.

    None when the mask is empty or falls outside the photo.
    """
    ys, xs = np.nonzero(mask_crop > 0)
    if xs.size == 0:
        return None
    # the support's extreme pixel centres, widened by the interpolation footprint: one pixel,
    # plus one pixel of the area-averaged crop (scale / SHRINK_ABOVE px) when it is shrunk
    reach = 1.0 + max(1.0, alignment.scale / SHRINK_ABOVE)
    left, right, top, bottom = xs.min() - reach, xs.max() + reach, ys.min() - reach, ys.max() + reach
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], dtype=np.float64)
    photo_corners = alignment.to_photo(corners)
    height, width = photo_shape
    x0 = max(0, int(np.floor(photo_corners[:, 0].min())) - BOX_PAD)
    y0 = max(0, int(np.floor(photo_corners[:, 1].min())) - BOX_PAD)
    x1 = min(width, int(np.ceil(photo_corners[:, 0].max())) + BOX_PAD + 1)
    y1 = min(height, int(np.ceil(photo_corners[:, 1].max())) + BOX_PAD + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def warp_into_box(
    crop: np.ndarray, mask: np.ndarray, to_box: np.ndarray, scale: float, box_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the crop and its mask into the photo box; `scale` is crop px per photo px.

    A crop much finer than the photo face is area-averaged first (no aliasing); a crop much
    coarser is warped bicubically (no blockiness). The mask is always warped bilinearly with
    a zero border, so it stays in [0, 1] and exactly 0 where its support does not reach.
    """
    if scale > SHRINK_ABOVE:
        factor = SHRINK_ABOVE / scale
        small = max(1, round(crop.shape[0] * factor))
        factor = small / crop.shape[0]
        crop = cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (small, small), interpolation=cv2.INTER_AREA)
        # crop pixel c sits at small pixel (c + 0.5) * factor - 0.5; go back from small to crop
        from_small = np.array([[1 / factor, 0, 0.5 / factor - 0.5], [0, 1 / factor, 0.5 / factor - 0.5], [0, 0, 1]])
        to_box = to_box @ from_small
    interpolation = cv2.INTER_CUBIC if 1.0 / scale > CUBIC_ABOVE else cv2.INTER_LINEAR
    colour = cv2.warpAffine(crop, to_box, box_size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    return colour, _warp_weight(mask, to_box, box_size)
