"""Shade an edited face as its new expression folds the skin, at the photo's own resolution.

The warp carries the photo's pixels to the target points, but the light on them stays the
source's: a warped smile has no deeper fold from the nose to the mouth's corners and no
rounder cheeks. Here the fitted 3D model's skin (lgan_cli/geometry/skin.py), posed with the
source's expression and with the target's, gives per vertex how much more or less light the
target's surface faces (the soft frontal light of the mouth's interior); that ratio, drawn over
the target face, multiplies the edited photo's linear light. The photo's own texture and
lighting stay: a fold darkens the skin that is there.

The ratio is drawn at about RENDER_WIDTH pixels across the face (the skin's facets and the
shading are smooth at that scale: at 256 px it differs by at most 4 % of a pixel's light) and
resized to the photo. Nothing changes outside the target
face's outline, inside the target's mouth opening (the interior is drawn there), or where the
ratio is 1 (an identity request, intensity 0): those pixels keep their exact values.
"""

from __future__ import annotations

import cv2
import numpy as np

from lgan_cli.faces.mouth_interior import (
    GAMMA,
    LIGHT,
    LUMINANCE,
    bounding_box,
    inner_lip_outline,
    lambert,
    polygon_mask,
)
from lgan_cli.geometry.fit import fit_face
from lgan_cli.geometry.skin import skin_mesh
from lgan_cli.synth.raster import rasterize

SHADING_GAINS = (2.2, 2.9, 3.0)
"""Log-ratio multipliers for red, green and blue: how strongly the model's change of light shows in
the photo. Fitted to real smiles of training people (`scripts/calibrate_expression_shading.py`):
the light a person's smiling photo gains or loses over their neutral photo warped to the smile's
points, against the model's ratio for the same two sets of points. On 16 training people the
slopes were 2.21 (red), 2.93 (green) and 3.03 (blue), 2.71 for luminance (each person's 1.0-5.4,
median 2.74; correlation 0.43, positive for every one): the model's folds are shallower than a
real smile's and its soft light is not the studio's, and skin, scattering red light further,
stays warmer in its folds than one ratio for all three channels would leave it (grey)."""

SKIN_CHROMA = 0.25
"""A face whose median chroma ((max - min) / max of its 8-bit values) reaches this gets the full
per-channel gains; skin in daylight or studio light is 0.3-0.5, a greyscale photo 0."""

LOG_LIMIT = 0.35
"""The most a channel's log-ratio may reach after its gain (x0.70 .. x1.42): a fold, not a cast shadow or a
glare. A smile stays within it on nearly every pixel (99.5th percentiles of the held-out London
photos' edits at most 0.40); the model's snarl (AU9, 10) turns the nose's tip up into the light,
and without a limit it glowed."""
RENDER_WIDTH = 160  # pixels across the face (jaw corner to jaw corner) the ratio is drawn at (256: 1.7 times the time)
SMOOTHING = 0.006  # Gaussian sigma of the log-ratio, as a fraction of the face's width (facet edges)
FEATHER = 0.04  # fade-in width at the skin's and the outline's edges, as a fraction of the face's width
UNCHANGED = 1e-4  # |log-ratio| below which a pixel is left exactly as it was


def shading_ratio(
    source_points: np.ndarray, target_points: np.ndarray, shape: tuple[int, int]
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """(box (x0, y0, x1, y1), the model's log-ratio of light inside it (h, w) float32, before any
    gain) for an edit that moves `source_points` to `target_points` (68 iBUG points each, pixels of
    an image of `shape`), or None where it changes nothing (no expression change, a face off the
    image)."""
    source = np.asarray(source_points, dtype=np.float64)
    target = np.asarray(target_points, dtype=np.float64)
    if np.allclose(source, target, atol=1e-3):
        return None
    try:
        before_fit = fit_face(source, convention="mediapipe")
        after_fit = fit_face(target, convention="mediapipe")
    except ValueError:
        return None
    skin = skin_mesh()
    after = skin.posed(after_fit)
    before = skin.posed(after_fit, before_fit.expression)  # the target's face and pose, the source's expression
    ratio = lambert(after.normals @ LIGHT) / lambert(before.normals @ LIGHT)
    log_ratio = np.log(ratio).astype(np.float32)

    width = float(np.linalg.norm(target[16] - target[0]))
    if width < 2:
        return None
    box = bounding_box(np.vstack([target, source]), shape, pad=0.1 * width)
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    k = min(1.0, RENDER_WIDTH / width)
    small = (max(int(round((y1 - y0) * k)), 1), max(int(round((x1 - x0) * k)), 1))
    screen = (after.xy - (x0, y0) + 0.5) * k - 0.5
    depth = after.depth - after.depth.min() + 1.0
    fragments = rasterize(screen, depth, skin.triangles, small, cull_back=True, front_sign=-1.0)
    covered = fragments.mask
    drawn = np.zeros(small, np.float32)
    corners = skin.triangles[fragments.triangle[covered]]
    bary = fragments.bary[covered]
    drawn[covered] = sum(bary[:, i] * log_ratio[corners[:, i]] for i in range(3))

    feather = max(FEATHER * width * k, 1.0)
    outline = polygon_mask(small, cv2.convexHull(target.astype(np.float32)).reshape(-1, 2) * k, (x0 * k, y0 * k))
    weight = np.minimum(_faded(covered.astype(np.float32), feather), _faded(outline, feather))
    drawn = cv2.GaussianBlur(drawn * weight, (0, 0), max(SMOOTHING * width * k, 0.5))
    drawn *= weight  # blurred, the edges' values must not leak back out
    full = cv2.resize(drawn, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    lips = inner_lip_outline(target)
    mx0, my0, mx1, my1 = bounding_box(lips, shape, pad=2)
    mx0, my0, mx1, my1 = max(mx0, x0), max(my0, y0), min(mx1, x1), min(my1, y1)
    if mx1 > mx0 and my1 > my0:  # the mouth's opening keeps its drawn interior
        opening = polygon_mask((my1 - my0, mx1 - mx0), lips, (mx0, my0))
        full[my0 - y0 : my1 - y0, mx0 - x0 : mx1 - x0] *= 1.0 - opening
    return box, full


def _faded(mask: np.ndarray, width: float) -> np.ndarray:
    """`mask` (0..1) eroded by `width` px and ramped up over `width` px: 0 at and beyond its edge."""
    size = int(np.ceil(width)) * 2 + 1
    inner = cv2.erode(mask, np.ones((size, size), np.uint8))
    return np.minimum(cv2.GaussianBlur(inner, (0, 0), width / 2), mask)


def face_gains(pixels: np.ndarray, gains=SHADING_GAINS) -> np.ndarray:
    """(3,) the gains for a face whose skin is `pixels` (n, 3) uint8: `gains` for colourful skin;
    on a face without colour their luminance-weighted mean for all three channels (2.77 for the
    shipped gains; the luminance fit itself: 2.71), so a greyscale photo stays grey; in between
    by the face's chroma."""
    gains = np.asarray(gains, dtype=np.float32)
    grey = float(LUMINANCE @ gains)
    values = pixels.astype(np.float32)
    top = values.max(axis=1)
    lit = top > 20  # the chroma of near-black pixels is noise
    chroma = float(np.median((top[lit] - values[lit].min(axis=1)) / top[lit])) if lit.any() else 0.0
    colourful = min(chroma / SKIN_CHROMA, 1.0)
    return (grey + colourful * (gains - grey)).astype(np.float32)


def channel_log_ratios(log_ratio: np.ndarray, gains=SHADING_GAINS) -> np.ndarray:
    """(h, w, 3): the model's log-ratio (h, w) as each colour channel takes it, within LOG_LIMIT."""
    gained = log_ratio[..., None] * np.asarray(gains, dtype=np.float32)
    return np.clip(gained, -LOG_LIMIT, LOG_LIMIT)


def shade_expression(
    image: np.ndarray, source_points: np.ndarray, target_points: np.ndarray, gains=SHADING_GAINS
) -> np.ndarray:
    """`image` (uint8 RGB, already moved to `target_points`) with the target expression's change
    of light on the skin; pixels the ratio leaves at 1 keep their exact values."""
    found = shading_ratio(source_points, target_points, image.shape[:2])
    if found is None:
        return image
    (x0, y0, x1, y1), log_ratio = found
    changed = np.abs(log_ratio) * float(np.abs(np.asarray(gains)).max()) >= UNCHANGED
    if not changed.any():
        return image
    out = image.copy()
    region = out[y0:y1, x0:x1]
    per_channel = channel_log_ratios(log_ratio, face_gains(region[changed], gains))
    # linear light times the ratio is, in the photo's encoding (mouth_interior.to_linear), its
    # values times ratio ** (1 / GAMMA)
    factor = np.exp(per_channel[changed] / GAMMA)
    region[changed] = np.clip(np.round(region[changed] * factor), 0, 255).astype(np.uint8)
    return out
