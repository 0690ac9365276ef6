"""Paint the inside of an opened mouth into an edited photo, at the photo's own resolution.

Between the target inner lips a warp has nothing to move (the photo never showed teeth), and
a 128 px renderer's colours, stretched over a 1,000+ px photo, are a soft pale band. Here the
ICT model's teeth, gums, tongue and socket, fitted to the target points
(lgan_cli/geometry/mouth.py), are rasterized straight into the photo's pixels, coloured from
the photo itself, so they are as sharp as the photo and lit like it:

- teeth: the person's own teeth where the photo shows them brighter than the eyes' white (a
  smile), otherwise the whites of their eyes (the photo's white under its light), a little
  warmer and darker;
- gums and tongue: the person's lip colour; the socket: the same, nearly black (but in front of
  the lower teeth, where it is the lower lip's lining, lip-coloured);
- light: one soft frontal light (two-sided Lambert) times an occlusion that darkens with the
  depth behind the lips and next to them (the lips shade the teeth);
- the photo's own grain is added, and the opening's edge is anti-aliased.

Nothing outside the target inner-lip polygon changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lgan_cli.geometry.fit import fit_face
from lgan_cli.geometry.mouth import GUMS_TONGUE, LOWER_INNER_LIP, SOCKET, TEETH, UPPER_INNER_LIP, PosedMouth, mouth_mesh
from lgan_cli.synth.raster import rasterize

OUTER_LIPS, INNER_LIPS = slice(48, 60), slice(60, 68)
EYES = (slice(36, 42), slice(42, 48))
MIN_OPENING = 0.04
"""Growth of the lip gap, as a fraction of the mouth's width, below which nothing is painted."""
FADE_IN = 0.01
"""Further growth over which the interior fades in (so an animation does not pop it in)."""
WHITE_PERCENTILE = 90  # the eyes' white: their brightest pixels (not the iris, lashes or the lids' shadow)
OWN_TEETH_PERCENTILE = 75  # an open mouth in the photo: its teeth are the brightest quarter inside the lips
TEETH_OVER_SKIN = 1.6
"""The teeth's luminance is at least this times the cheeks' (linear). On 40 London smiling photos
of training people, their own teeth are 1.85 times their cheeks (median; lower quartile 1.64),
while the brightest tenth of their squinting eyes is 1.47: teeth drawn from such eyes were grey."""
CHEEKS_AND_NOSE = [1, 28, 15, 13, 35, 33, 31, 3]  # a polygon of the 68 points over both cheeks and the nose
LUMINANCE = np.array([0.2126, 0.7152, 0.0722])  # of linear RGB
GAMMA = 2.2  # a photo's 8-bit values are its linear light to the power 1 / GAMMA (to_linear, to_srgb8)
TEETH_TINT = np.array([0.95, 0.9, 0.78])  # teeth against the eyes' white: warmer, a little darker
GUM_TINT = np.array([1.0, 0.8, 0.85])  # gums and tongue against the lips: a little pinker
TINT_CHROMA = 0.3  # lips at least this colourful ((max - min) / max, linear) get the full tints
CAVITY_DARKNESS = 0.3  # the socket's albedo, a fraction of the lips'
LINING_MARGIN = 0.1  # share of the mouth's width behind the front lower teeth over which the lip's lining darkens
DEPTH_FALLOFF = 0.3  # light lost per this fraction of the mouth's width behind the lips: exp(-depth / L)
AMBIENT = 0.12  # light that reaches the back of the mouth whatever its depth
LIP_SHADOW = 0.35  # how much darker the interior is right at the lips' edge
TEETH_LIGHT = 0.9
"""The least light on the front teeth: they sit just behind the lips, lit nearly as the face. Teeth
further back lose it with their depth behind the front ones (the cheeks shade the back teeth: an
opened mouth's corners showed molars as white as the incisors)."""
LIGHT = np.array([0.0, 0.35, 1.0]) / np.linalg.norm([0.0, 0.35, 1.0])  # camera space, from the front and above


def lambert(cosine: np.ndarray | float) -> np.ndarray | float:
    """The soft frontal light on a surface at `cosine` to LIGHT (two-sided, never black)."""
    return 0.45 + 0.55 * np.abs(cosine)


FRONT_TEETH_LIGHT = TEETH_LIGHT * lambert(LIGHT[2])
"""The light on a front tooth facing the camera. The teeth's albedo is the colour they should show
divided by it: drawn at the colour the photo suggests, they came out 0.87 times as bright (drawn
teeth 1.48 times the cheeks, real smiles 1.90, on the held-out London people)."""

SUPERSAMPLE = 2  # samples per pixel side for mouths narrower than SUPERSAMPLE_BELOW px
SUPERSAMPLE_BELOW = 300  # a wider mouth is drawn at one sample per pixel (its edges span several)
GUM_BAND = 0.12  # half-width of the central band, as a share of the mouth's width, where the gum line is read
TEETH_ROW = 0.5  # a row of the central band is the teeth's when they cover this share of it
INCISOR_SHOW = 0.04
"""The least the upper incisors show under the upper lip, as a share of the mouth's width. The ICT
model's own closed, relaxed mouth shows 0.05 (its incisors' edge about 2.5 mm below the upper lip)."""
INCISOR_SHOW_OF_OPENING = 0.3  # and never more than this share of the opening's height at its centre


@dataclass(frozen=True)
class MouthColours:
    """Albedos in linear RGB (0..1; the teeth up to 1 / FRONT_TEETH_LIGHT), sampled from the photo."""

    teeth: np.ndarray
    gums: np.ndarray
    cavity: np.ndarray
    grain: float  # standard deviation (0..255) of the photo's fine noise on the lips


def to_linear(rgb: np.ndarray) -> np.ndarray:
    return (np.asarray(rgb, dtype=np.float32) / 255.0) ** GAMMA


def to_srgb8(linear: np.ndarray) -> np.ndarray:
    return np.clip(np.clip(linear, 0, 1) ** (1 / GAMMA) * 255.0, 0, 255)


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray, offset=(0, 0), supersample: int = 4) -> np.ndarray:
    """(h, w) float coverage in 0..1 of a polygon (pixel coordinates), anti-aliased."""
    h, w = shape
    big = np.zeros((h * supersample, w * supersample), np.uint8)
    corners = (np.asarray(polygon, np.float64) - offset + 0.5) * supersample - 0.5
    cv2.fillPoly(big, [np.round(corners * 16).astype(np.int32)], 255, lineType=cv2.LINE_8, shift=4)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _region_pixels(photo: np.ndarray, inside: np.ndarray, outside: np.ndarray | None = None) -> np.ndarray:
    """The photo's pixels fully inside one polygon (and outside another), (n, 3) uint8."""
    x0, y0 = np.floor(inside.min(axis=0)).astype(int)
    x1, y1 = np.ceil(inside.max(axis=0)).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, photo.shape[1]), min(y1, photo.shape[0])
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 3), np.uint8)
    keep = polygon_mask((y1 - y0, x1 - x0), inside, (x0, y0)) >= 1.0
    if outside is not None:
        keep &= polygon_mask((y1 - y0, x1 - x0), outside, (x0, y0)) <= 0.0
    return photo[y0:y1, x0:x1][keep]


def sample_mouth_colours(photo: np.ndarray, points68: np.ndarray) -> MouthColours:
    """The interior's albedos from the unedited face: its own teeth or its eyes' white, and its lips."""
    eyes = np.concatenate([_region_pixels(photo, points68[eye]) for eye in EYES])
    lips = _region_pixels(photo, points68[OUTER_LIPS], points68[INNER_LIPS])
    if len(lips) < 4:  # a tiny face: the lips' bounding box will do
        lips = _region_pixels(photo, points68[OUTER_LIPS])
    lip = np.median(to_linear(lips), axis=0) if len(lips) else np.full(3, 0.1)
    if len(eyes) >= 4:
        luminance = eyes.astype(np.float32) @ [0.299, 0.587, 0.114]
        white = to_linear(eyes[luminance >= np.percentile(luminance, WHITE_PERCENTILE)]).mean(axis=0)
    else:
        white = np.full(3, 0.6)
    white = np.maximum(white, lip)  # the eyes' white is never darker than the lips
    grain = 0.0
    if len(lips) >= 16:
        box = bounding_box(points68[OUTER_LIPS], photo.shape)
        patch = photo[box[1] : box[3], box[0] : box[2]].astype(np.float32)
        grain = float(np.median(np.abs(patch - cv2.GaussianBlur(patch, (0, 0), 1.0)))) * 1.25
    # the tints only as far as the photo has colour: a black-and-white photo keeps grey teeth
    colourful = float(np.clip((lip.max() - lip.min()) / max(float(lip.max()), 1e-6) / TINT_CHROMA, 0.0, 1.0))
    tint = 1 + (TEETH_TINT - 1) * colourful
    teeth = white * tint
    skin = _region_pixels(photo, points68[CHEEKS_AND_NOSE])
    if len(skin) >= 16:  # squinting eyes show little white: the teeth are at least as bright as teeth go
        floor = TEETH_OVER_SKIN * float(np.median(to_linear(skin) @ LUMINANCE))
        raised = floor / max(_luminance(teeth), 1e-6)
        if raised > 1:  # brighter, and as much whiter: the eyes' brightest pixels were lids and skin
            hue = teeth / _luminance(teeth) / raised + tint / _luminance(tint) * (1 - 1 / raised)
            teeth = np.clip(floor * hue, 0.0, 0.95)
    own = _own_teeth(photo, points68)
    if own is not None and _luminance(own) > _luminance(teeth):
        teeth = own
    return MouthColours(
        teeth=np.clip(teeth, 0.0, 1.0) / FRONT_TEETH_LIGHT,  # seen as `teeth` where lit as the front teeth
        gums=lip * (1 + (GUM_TINT - 1) * colourful),
        cavity=lip * CAVITY_DARKNESS,
        grain=grain,
    )


def _luminance(linear_rgb: np.ndarray) -> float:
    return float(np.asarray(linear_rgb) @ LUMINANCE)


def _own_teeth(photo: np.ndarray, points68: np.ndarray) -> np.ndarray | None:
    """Linear RGB of the teeth the unedited photo shows (its open mouth's brightest quarter), or None
    for a closed mouth. A smiling photo's squinting eyes show little white: their brightest tenth is
    lashes and iris, and the drawn teeth came out grey; the photo's own teeth are the truth."""
    width = float(np.linalg.norm(points68[54] - points68[48]))
    if lip_gap(points68) < MIN_OPENING * width:
        return None
    inside = _region_pixels(photo, inner_lip_outline(points68))
    if len(inside) < 16:
        return None
    luminance = inside.astype(np.float32) @ [0.299, 0.587, 0.114]
    return to_linear(inside[luminance >= np.percentile(luminance, OWN_TEETH_PERCENTILE)]).mean(axis=0)


def bounding_box(points: np.ndarray, shape, pad: float = 0.0) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) + pad).astype(int) + 1
    return max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])


def lip_gap(points68: np.ndarray) -> float:
    """Mean distance between the upper and lower inner lip (pixels), each pair's counted negative
    where the lower lip lies above the upper one across the mouth (crossed points: lips pressed
    into each other, a shut mouth however far they cross)."""
    upper = points68[list(UPPER_INNER_LIP)]
    lower = points68[list(LOWER_INNER_LIP)][::-1]  # 65, 66, 67 face 63, 62, 61
    apart = lower - upper
    across = points68[54] - points68[48]
    down = np.array([-across[1], across[0]])  # nose -> chin
    return float((np.linalg.norm(apart, axis=1) * np.where(apart @ down < 0, -1.0, 1.0)).mean())


def catmull_rom(points: np.ndarray, samples: int) -> np.ndarray:
    """An open Catmull-Rom curve through `points` (n, 2), `samples` points per segment, ends included."""
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, 1, samples, endpoint=False)[:, None]
    curve = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        curve.append(
            0.5
            * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    return np.vstack(curve + [points[-1:]])


def inner_lip_outline(points68: np.ndarray, samples: int = 8) -> np.ndarray:
    """The opening between the lips as a smooth closed polygon: one curve along each inner lip
    (points 60-64 and 64-67, 60), meeting at the mouth's corners as the lips do."""
    upper = catmull_rom(points68[[60, 61, 62, 63, 64]], samples)
    lower = catmull_rom(points68[[64, 65, 66, 67, 60]], samples)
    return np.vstack([upper[:-1], lower[:-1]])


def teeth_shift(posed: PosedMouth, target: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Vertical shift (px, image y down) of the interior that puts the upper teeth's edge where
    lips show it: starting at the upper lip, reaching at least a little below it.

    - Lips cover the gums in all but extreme expressions, while the model's lip blendshapes,
      pushed past their apex by the photo presets (a snarl's raised upper lip), bare a band of
      gum over the teeth: near the mouth's centre, when the visible upper teeth start below the
      upper lip, the interior moves up until they start at the lip.
    - The model's jaw drop and lip stretch pull its upper lip down over the incisors (fear's
      opened mouth showed side teeth at the corners and none in front): when the upper teeth's
      edge lies less than INCISOR_SHOW below the upper lip, the interior moves down until it does.

    Both rows of teeth move together, so clenched teeth stay clenched.
    """
    width = float(np.linalg.norm(target[54] - target[48]))
    centre_x = float(target[[62, 66], 0].mean())
    x0, x1 = int(np.floor(centre_x - GUM_BAND * width)), int(np.ceil(centre_x + GUM_BAND * width)) + 1
    _, y0, _, y1 = box
    mesh = posed.mesh
    fragments = rasterize(
        posed.xy - (x0, y0), posed.depth - posed.depth.min() + 1.0, mesh.triangles, (y1 - y0, x1 - x0), cull_back=False
    )
    covered = fragments.mask
    upper_teeth = np.zeros(covered.shape, dtype=bool)
    jaw = fragments.interpolate(mesh.jaw[mesh.triangles][..., None])[..., 0]
    upper_teeth[covered] = mesh.part[fragments.triangle[covered]] == TEETH
    upper_teeth &= jaw < 0.5
    rows = np.nonzero(upper_teeth.mean(axis=1) >= TEETH_ROW)[0]  # not the odd tooth tip through a gap
    if not len(rows):
        return 0.0
    lip = float(target[62, 1] - y0)
    if rows.min() > lip:  # gums bared: up to the lip
        return lip - float(rows.min())
    opening = float(target[66, 1] - target[62, 1])
    show = min(INCISOR_SHOW * width, INCISOR_SHOW_OF_OPENING * max(opening, 0.0))
    return max(0.0, lip + show - float(rows.max() + 1))


def lip_lining(posed: PosedMouth, depth: np.ndarray, jaw: np.ndarray, mouth_width: float) -> np.ndarray:
    """How much of the lower lip's lining (0..1) each socket fragment is, by its depth behind the
    lips and its jaw weight: the socket in front of the lower incisors, moving with the jaw, is
    the lip's inside (lip-coloured), fading over LINING_MARGIN into the dark cavity behind. Drawn
    as the cavity, it was a black crescent under a snarl's lifted teeth."""
    mesh = posed.mesh
    teeth = np.unique(mesh.triangles[mesh.part == TEETH])
    front_lower = float(posed.depth[teeth[mesh.jaw[teeth] >= 0.5]].min())
    margin = max(LINING_MARGIN * mouth_width, 1e-6)
    in_front = np.clip((front_lower + margin - depth) / margin, 0.0, 1.0)
    return in_front * np.clip((jaw - 0.4) / 0.2, 0.0, 1.0)  # the jaw's, not the skull's


def shade_interior(
    posed: PosedMouth, colours: MouthColours, box: tuple[int, int, int, int], mouth_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Linear RGB (h, w, 3) of the interior seen in `box`, and its coverage (h, w)."""
    x0, y0, x1, y1 = box
    k = SUPERSAMPLE if mouth_width < SUPERSAMPLE_BELOW else 1
    screen = (posed.xy - (x0, y0) + 0.5) * k - 0.5
    depth = posed.depth - posed.depth.min() + 1.0  # the rasterizer wants it positive in front
    mesh = posed.mesh
    fragments = rasterize(screen, depth, mesh.triangles, ((y1 - y0) * k, (x1 - x0) * k), cull_back=False)
    covered = fragments.mask
    tri = fragments.triangle[covered]
    corners = mesh.triangles[tri]
    bary = fragments.bary[covered]

    def interp(values: np.ndarray) -> np.ndarray:
        return sum(bary[:, i : i + 1] * values[corners[:, i]] for i in range(3))

    normal = interp(posed.normals)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    behind = np.clip(interp(posed.depth[:, None])[:, 0], 0, None)
    albedo = np.empty((len(tri), 3), np.float32)
    part = mesh.part[tri]
    albedo[part == TEETH] = colours.teeth
    albedo[part == GUMS_TONGUE] = colours.gums
    socket = part == SOCKET
    lining = lip_lining(posed, behind[socket], interp(mesh.jaw[:, None])[socket, 0], mouth_width)[:, None]
    albedo[socket] = colours.cavity + (colours.gums - colours.cavity) * lining
    light = lambert(normal @ LIGHT)
    falloff = max(DEPTH_FALLOFF * mouth_width, 1e-6)
    occlusion = AMBIENT + (1 - AMBIENT) * np.exp(-behind / falloff)
    front_teeth = max(float(posed.depth[np.unique(mesh.triangles[mesh.part == TEETH])].min()), 0.0)
    teeth_light = TEETH_LIGHT * np.exp(-np.clip(behind - front_teeth, 0, None) / falloff)
    occlusion = np.where(part == TEETH, np.maximum(occlusion, teeth_light), occlusion)
    big = np.zeros(covered.shape + (3,), np.float32)
    big[covered] = albedo * (light * occlusion)[:, None]
    size = (x1 - x0, y1 - y0)
    rgb = cv2.resize(big, size, interpolation=cv2.INTER_AREA)
    coverage = cv2.resize(covered.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    # where the mesh leaves a hole, the cavity shows
    rgb = rgb + (1 - coverage)[..., None] * colours.cavity * 0.5
    return rgb, coverage


def paint_mouth_interior(
    edited: np.ndarray,
    original: np.ndarray,
    source_points: np.ndarray,
    target_points: np.ndarray,
    seed: int = 0,
    amount: float | None = None,
) -> np.ndarray:
    """`edited` with the model's mouth interior drawn inside the target inner lips.

    `original` is the unedited photo (colours are read from it at `source_points`);
    `target_points` are the edit's 68 points in photo pixels. Only a mouth that opens (its lip
    gap grows by MIN_OPENING of its width or more) is painted, fading in over the next FADE_IN:
    otherwise, a closed mouth or one whose own teeth the warp already moves, `edited` comes
    back unchanged. `amount` (0..1) paints any target opening that much instead (an opening the
    photo had, narrowed, between lips redrawn by `lips.redraw_lips`).
    """
    target = np.asarray(target_points, np.float64)
    source = np.asarray(source_points, np.float64)
    mouth_width = float(np.linalg.norm(target[54] - target[48]))
    growth = (max(lip_gap(target), 0.0) - max(lip_gap(source), 0.0)) / max(mouth_width, 1e-6)  # shut is shut
    if amount is not None:
        fade = float(np.clip(amount, 0.0, 1.0))
    elif growth >= MIN_OPENING:
        fade = min(1.0, (growth - MIN_OPENING) / FADE_IN)
    else:
        fade = 0.0  # no new opening: a closed mouth, or the photo's own interior, moved by the warp
    if fade <= 0:
        return edited
    opening = inner_lip_outline(target)
    box = bounding_box(opening, edited.shape, pad=2)
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return edited
    alpha = polygon_mask((y1 - y0, x1 - x0), opening, (x0, y0))
    if not alpha.any():
        return edited
    colours = sample_mouth_colours(original, source)
    fit = fit_face(target)
    posed = mouth_mesh().pose(fit, shift=teeth_shift(mouth_mesh().pose(fit), target, box))
    interior, _ = shade_interior(posed, colours, box, mouth_width)
    # the lips shade the interior next to them: darker within a few pixels of the edge
    inside = (alpha > 0.5).astype(np.uint8)
    edge_distance = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    reach = max(0.25 * lip_gap(target), 1.0)
    interior *= (1 - LIP_SHADOW * np.exp(-edge_distance / reach))[..., None]
    pixels = to_srgb8(interior)
    if colours.grain > 0:
        # the same grain in every channel: the photo's own chroma noise is not measured, and a
        # luminance grain can never tint the teeth
        grain = np.random.default_rng(seed).normal(0, colours.grain, pixels.shape[:2] + (1,))
        pixels += grain.astype(np.float32)
    out = edited.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    a = fade * alpha[..., None]
    out[y0:y1, x0:x1] = np.clip(np.round(region * (1 - a) + pixels * a), 0, 255).astype(np.uint8)
    return out
