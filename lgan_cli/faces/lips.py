"""Close or narrow the photo's open mouth: draw the target's lips from the photo's own lips.

A smiling photo made neutral: the target's lips meet, but the warp, a smooth spline through the
68 points, cannot fold the photo's teeth away; it squeezes them into a pale band between the
lips. Made sad, the broad smile's teeth are bent into the frown's narrow opening, a row of fangs.
Here the target's upper lip takes the photo's upper lip and the lower lip its lower lip, each
stretched over its own region by a piecewise-affine map between matching outlines (in the
photo: outer lip to inner lip; in the target: outer lip to its inner lip, or to the seam where
closed lips meet), so no pixel of the photo's teeth is sampled. A soft shadow marks a closed
mouth's seam; a narrowed opening gets the 3D model's interior (`paint_mouth_interior`, teeth the
colour of the photo's own). Only the target's lips and a band of skin around them change,
blended into the warp at the band's edge; a mouth the photo shows closed, or one the target
keeps about as open, comes back unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from lgan_cli.faces.mouth_interior import (
    FADE_IN,
    MIN_OPENING,
    bounding_box,
    catmull_rom,
    lip_gap,
    paint_mouth_interior,
    polygon_mask,
)

CLOSED_BELOW = 0.03
"""A target lip gap (fraction of the mouth's width) below which the lips are drawn closed; the
closing fades out up to MIN_OPENING, where a target counts as open. The presets' closed mouths
(neutral, contempt) sit at 0.01-0.02, their parted ones (a smile, sadness) at 0.06 and above."""

NARROWED_BELOW, KEPT_ABOVE = 0.6, 0.8
"""A target opening below NARROWED_BELOW times the photo's (lip gaps over mouth widths) gets its
lips redrawn; the redrawing fades out up to KEPT_ABOVE, where the warp's own squeeze of the
photo's teeth still looks like them (a smile made a little smaller)."""

OUTLINE_SAMPLES = 32
"""Points per lip outline: the piecewise-affine map's resolution along the mouth."""

SKIN_RING = 0.08
"""A band of skin around the lips, as a fraction of the mouth's width, mapped with them (outer lip
line to the same line moved out along its normal, in photo and target alike): the smooth warp
leaves the photo's teeth peeking past the target's lips at the corners, and the band covers them."""

EDGE_FEATHER = 0.05
"""Width, as a fraction of the mouth's width, over which the drawn mouth blends into the warp at
the skin band's outer edge (where the two maps agree)."""

SEAM_DARKNESS = 0.3
SEAM_WIDTH = 0.012
"""The seam's shadow: at most this much darker, a Gaussian of this width (fraction of the mouth's
width, at least a pixel), fading to nothing at the mouth's corners."""

LIP_PULL = 0.4
"""How far the photo's lips are taken from the detected inner lip towards the outer one. Over
teeth the detector's inner lip lies on the teeth, a few pixels inside the real lip edge (on the
London smiles, a third of the lip's apparent depth), and the corners' inner points sit well
inside the mouth's dark corners; so the lips are read from the outer part only, a band that
narrows to the outer lip line itself at the corners, as closed lips do (`lip_band`)."""

UPPER_OUTER, LOWER_OUTER = [48, 49, 50, 51, 52, 53, 54], [48, 59, 58, 57, 56, 55, 54]
UPPER_INNER, LOWER_INNER = [60, 61, 62, 63, 64], [60, 67, 66, 65, 64]


def resample(curve: np.ndarray, count: int) -> np.ndarray:
    """`count` points evenly spaced by arc length along a polyline (ends kept)."""
    lengths = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    wanted = np.linspace(0.0, lengths[-1], count)
    return np.stack([np.interp(wanted, lengths, curve[:, axis]) for axis in (0, 1)], axis=1)


def outline(points68: np.ndarray, indices: list[int]) -> np.ndarray:
    return resample(catmull_rom(points68[indices], 8), OUTLINE_SAMPLES)


def lip_band(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The photo's lip edge to read from: from the outer lip, a depth that is the lip's own in the
    middle (less LIP_PULL) and narrows like a lip, 1 - u^2, to nothing at the corners, never
    deeper than the detected inner lip (less LIP_PULL)."""
    towards = inner - outer
    depth = np.linalg.norm(towards, axis=1)
    u = np.linspace(-1.0, 1.0, len(outer))
    profile = (1.0 - LIP_PULL) * depth[len(depth) // 2] * np.clip(1.0 - u**2, 0.0, 1.0)
    kept = np.minimum(profile, (1.0 - LIP_PULL) * depth)
    return outer + towards * (kept / np.maximum(depth, 1e-9))[:, None]


def pushed_out(curve: np.ndarray, distance: float, side: float) -> np.ndarray:
    """`curve` (drawn left to right) moved `distance` pixels along its normal: side -1 up, +1 down."""
    tangent = np.gradient(curve, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1) * side
    return curve + distance * normal


def relative_gap(points: np.ndarray) -> float:
    """The lip gap as a fraction of the mouth's width."""
    return lip_gap(points) / max(float(np.linalg.norm(points[54] - points[48])), 1e-6)


def redraw_amounts(source: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(how fully the lips are redrawn, how closed they are drawn), both 0..1.

    Redrawn: the photo's mouth is open (its gap at least MIN_OPENING of its width, fading in over
    FADE_IN) and the target's opening is much smaller (below NARROWED_BELOW times the photo's,
    fading out up to KEPT_ABOVE). Closed: the target's gap is below CLOSED_BELOW, and the lips are
    drawn meeting at the seam; above it they fade to the target's own inner lips at MIN_OPENING."""
    source_gap, target_gap = relative_gap(source), relative_gap(target)
    opened = np.clip((source_gap - MIN_OPENING) / FADE_IN, 0.0, 1.0)
    shrunk = target_gap / max(source_gap, 1e-6)
    narrowed = np.clip((KEPT_ABOVE - shrunk) / (KEPT_ABOVE - NARROWED_BELOW), 0.0, 1.0)
    closed = np.clip((MIN_OPENING - target_gap) / (MIN_OPENING - CLOSED_BELOW), 0.0, 1.0)
    return float(opened * narrowed), float(closed)


def lip_map(source: np.ndarray, target: np.ndarray, box: tuple[int, int, int, int], closed: float):
    """(map_x, map_y, covered, seam) over `box`: for every pixel of the target's lips and the skin
    band around them, where in the photo it takes its colour (the photo's upper or lower lip or
    skin, never its opening). The target's inner lips are moved towards their seam by `closed`."""
    x0, y0, x1, y1 = box
    upper, lower = outline(target, UPPER_INNER), outline(target, LOWER_INNER)
    seam = (upper + lower) / 2
    inner_lines = {-1.0: upper + closed * (seam - upper), 1.0: lower + closed * (seam - lower)}
    ring_t = SKIN_RING * float(np.linalg.norm(target[54] - target[48]))
    ring_s = SKIN_RING * float(np.linalg.norm(source[54] - source[48]))
    strips = []
    for outer, inner, side in ((UPPER_OUTER, UPPER_INNER, -1.0), (LOWER_OUTER, LOWER_INNER, 1.0)):
        target_outer, source_outer = outline(target, outer), outline(source, outer)
        source_lip = lip_band(source_outer, outline(source, inner))
        strips.append((target_outer, inner_lines[side], source_outer, source_lip))  # the lip itself
        strips.append(
            (pushed_out(target_outer, ring_t, side), target_outer, pushed_out(source_outer, ring_s, side), source_outer)
        )
    shape = (y1 - y0, x1 - x0)
    map_x, map_y = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    covered = np.zeros(shape, bool)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    for target_outer, target_inner, source_outer, source_inner in strips:
        for k in range(OUTLINE_SAMPLES - 1):
            quad_t = (target_outer[k], target_outer[k + 1], target_inner[k + 1], target_inner[k])
            quad_s = (source_outer[k], source_outer[k + 1], source_inner[k + 1], source_inner[k])
            for a, b, c in ((0, 1, 2), (0, 2, 3)):
                triangle = np.float32([quad_t[a], quad_t[b], quad_t[c]])
                (ax, ay), (bx, by) = triangle[1] - triangle[0], triangle[2] - triangle[0]
                if abs(ax * by - ay * bx) < 1e-6:
                    continue  # a degenerate sliver (the mouth's corner) covers no pixel
                affine = cv2.getAffineTransform(triangle, np.float32([quad_s[a], quad_s[b], quad_s[c]]))
                # only the triangle's own bounding box, in box pixels (a large photo's mouth is big)
                local = triangle - (x0, y0)
                u0, v0 = np.maximum(np.floor(local.min(axis=0)).astype(int) - 1, 0)
                u1, v1 = np.minimum(np.ceil(local.max(axis=0)).astype(int) + 2, (shape[1], shape[0]))
                if u1 <= u0 or v1 <= v0:
                    continue
                inside = np.zeros((v1 - v0, u1 - u0), np.uint8)
                cv2.fillConvexPoly(inside, np.round((local - (u0, v0)) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
                inside = inside.astype(bool)
                window = (slice(v0, v1), slice(u0, u1))
                px, py = xs[window][inside], ys[window][inside]
                map_x[window][inside] = affine[0, 0] * px + affine[0, 1] * py + affine[0, 2]
                map_y[window][inside] = affine[1, 0] * px + affine[1, 1] * py + affine[1, 2]
                covered[window] |= inside
    return map_x, map_y, covered, seam


def seam_shadow(seam: np.ndarray, box: tuple[int, int, int, int], width: float) -> np.ndarray:
    """(h, w) darkening in 0..SEAM_DARKNESS along the seam, tapering to 0 at the corners."""
    x0, y0, x1, y1 = box
    sigma = max(1.0, SEAM_WIDTH * width)
    canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
    taper = np.sin(np.linspace(0.0, np.pi, len(seam)))
    for k in range(len(seam) - 1):
        a, b = np.round((seam[k : k + 2] - (x0, y0)) * 16).astype(np.int32)
        cv2.line(canvas, tuple(a), tuple(b), float((taper[k] + taper[k + 1]) / 2), 1, cv2.LINE_AA, 4)
    blurred = cv2.GaussianBlur(canvas, (0, 0), sigma) * (np.sqrt(2 * np.pi) * sigma)
    return SEAM_DARKNESS * np.clip(blurred, 0.0, 1.0)


def redraw_lips(edited: np.ndarray, original: np.ndarray, source_points: np.ndarray, target_points: np.ndarray):
    """`edited` with the target's lips drawn from the photo's own where the target closes or
    narrows the photo's open mouth (see the module).

    `original` is the unedited photo with its 68 points `source_points`; `target_points` are the
    edit's, in photo pixels.
    """
    source = np.asarray(source_points, np.float64)
    target = np.asarray(target_points, np.float64)
    strength, closed = redraw_amounts(source, target)
    if strength <= 0:
        return edited
    width = float(np.linalg.norm(target[54] - target[48]))
    ring = SKIN_RING * width
    lips = np.vstack(
        [
            pushed_out(outline(target, UPPER_OUTER), ring, -1.0),
            pushed_out(outline(target, LOWER_OUTER), ring, 1.0)[::-1],
        ]
    )
    box = bounding_box(lips, edited.shape, pad=2)
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return edited
    map_x, map_y, covered, seam = lip_map(source, target, box, closed)
    if not covered.any():
        return edited
    drawn = cv2.remap(original, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    drawn = drawn.astype(np.float32) * (1 - closed * seam_shadow(seam, box, width))[..., None]
    coverage = polygon_mask((y1 - y0, x1 - x0), lips, (x0, y0))
    inside = (coverage >= 0.5).astype(np.uint8)
    to_edge = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    alpha = strength * np.clip(to_edge / max(EDGE_FEATHER * width, 1.0), 0.0, 1.0) * covered
    out = edited.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(np.round(region * (1 - alpha[..., None]) + drawn * alpha[..., None]), 0, 255)
    if closed < 1:  # the narrowed opening between the redrawn lips: the 3D model's interior
        out = paint_mouth_interior(out, original, source, target, amount=strength * (1 - closed))
    return out


def draw_face_model_mouth(
    edited: np.ndarray, original: np.ndarray, source_points: np.ndarray, target_points: np.ndarray
) -> np.ndarray:
    """`edited` with the "face-model" mouth (config.MOUTH_INTERIORS): the 3D model's interior
    where the target opens the mouth, then the photo's own lips where it closes or narrows it.

    The same at any scale: the photo at its own resolution (`editing.compose`) and a model's
    crop output (`LandmarkGANEditor.edit`), so what evaluation scores is what a user gets.
    """
    painted = paint_mouth_interior(edited, original, source_points, target_points)
    return redraw_lips(painted, original, source_points, target_points)
