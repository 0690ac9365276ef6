"""Procedural appearance per identity: a UV texture atlas for skin, lips, brows, hair, eyes, mouth.

The ICT light model has shape only, and a face classifier trained on photos reads skin
shading, lip colour, brows, eyes and teeth, so each identity gets its own albedo painted in
UV space. Painting works on a *position map*: every texel of each material's UV tile is
rasterized once (per model) with the 3D position it has on the mean neutral face, so features
are placed in 3D, from the model's own landmark vertices (lips from the outer-lip points, brows
from the brow points, lash lines from the eye contour), and follow any identity or expression
because the texture is attached to the mesh.

Atlas tiles (each T x T, side by side): face, back of head (scalp, ears, neck, mouth and eye
sockets), gums + tongue, teeth, sclera, iris. The face, back-head, gums and teeth UVs already
sit in their own unit tiles (u in [0, 1), [1, 2), [2, 3), [3, 4)); sclera and iris reuse
[0, 1] and are shifted to tiles 4 and 5. Eye tiles are painted from the eye's local frame
(distance from the optical axis): iris, pupil and limbus are rings, whichever eye mesh
(sclera shell or iris) ends up in front.

The atlas's fourth channel scales the material's specular (matte brows and hair, glossy
lips). Separate per-identity wrinkle maps (forehead lines, brow furrows, nose-bridge lines,
nasolabial folds, crow's feet) are switched on per image by the blendshape weights that fold
the skin there (`WRINKLE_DRIVERS`); the shape model alone leaves those regions smooth.

Not rendered, by decision: the lacrimal-fluid, eye-blend and eye-occlusion meshes (thin
overlays made for a real-time transparency shader; opaque, they would cover the eyes with
sheets) and the eyelash cards (at 64-256 px they alias into noise; the lash line is painted on
the lid margin instead, which is what lashes look like at that scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lgan_cli.synth.facemodel import VERTEX_RANGES, FaceModel
from lgan_cli.synth.raster import rasterize

TILE_NAMES: tuple[str, ...] = ("face", "back_head", "gums_tongue", "teeth", "sclera", "iris")
#: material -> (atlas tile, u offset added to the model's uvs to land in that tile)
MATERIAL_TILES: dict[str, tuple[int, float]] = {
    "M_Face": (0, 0.0),
    "M_BackHead": (1, 0.0),
    "M_GumsTongue": (2, 0.0),
    "M_Teeth": (3, 0.0),
    "M_ScleraLeft": (4, 4.0),
    "M_ScleraRight": (4, 4.0),
    "M_IrisLeft": (5, 5.0),
    "M_IrisRight": (5, 5.0),
}
RENDERED_MATERIALS: tuple[str, ...] = tuple(MATERIAL_TILES)
DEFAULT_TEXTURE_SIZE = 512


# Skin albedos (sRGB, 0..1) from light to dark, after the Monk Skin Tone scale's swatches,
# slightly desaturated towards measured facial albedo.
SKIN_TONES = np.array(
    [
        [0.93, 0.80, 0.72],
        [0.90, 0.75, 0.65],
        [0.86, 0.69, 0.57],
        [0.80, 0.62, 0.49],
        [0.72, 0.54, 0.41],
        [0.60, 0.43, 0.31],
        [0.48, 0.33, 0.24],
        [0.37, 0.25, 0.18],
        [0.27, 0.19, 0.14],
    ]
)
HAIR_COLOURS = np.array(
    [
        [0.035, 0.028, 0.025],  # black
        [0.09, 0.06, 0.045],  # dark brown
        [0.20, 0.13, 0.08],  # brown
        [0.45, 0.33, 0.20],  # dark blonde
        [0.66, 0.54, 0.36],  # blonde
        [0.42, 0.18, 0.08],  # red
        [0.55, 0.53, 0.50],  # grey
    ]
)
EYE_COLOURS = np.array(
    [
        [0.20, 0.11, 0.06],  # dark brown
        [0.34, 0.19, 0.09],  # brown
        [0.42, 0.33, 0.17],  # hazel
        [0.28, 0.38, 0.22],  # green
        [0.30, 0.45, 0.60],  # blue
        [0.45, 0.50, 0.53],  # grey
    ]
)


#: Expression wrinkles: channel -> {blendshape: gain}; a channel's activation is the largest
#: gain * weight among its blendshapes (clipped to 1). Each channel is a map of crease lines
#: painted on the face tile from the landmark geometry (see `_wrinkle_fields`), darkening the
#: shading where the skin folds: forehead lines when the brows rise (AU1, AU2), vertical
#: furrows between the brows when they lower (AU4), nose-bridge lines (AU9), the nasolabial
#: fold (AU6, AU9, AU10, AU11, AU12), crow's feet and the lower-lid fold (AU6, AU7).
WRINKLE_DRIVERS: dict[str, dict[str, float]] = {
    "forehead_inner": {"browInnerUp_L": 0.5, "browInnerUp_R": 0.5},
    "forehead_L": {"browOuterUp_L": 1.0, "browInnerUp_L": 0.6},
    "forehead_R": {"browOuterUp_R": 1.0, "browInnerUp_R": 0.6},
    "glabella": {"browDown_L": 0.5, "browDown_R": 0.5},
    "nose_L": {"noseSneer_L": 1.0},
    "nose_R": {"noseSneer_R": 1.0},
    "nasolabial_L": {"mouthSmile_L": 1.0, "noseSneer_L": 0.9, "mouthUpperUp_L": 0.8, "cheekSquint_L": 0.6},
    "nasolabial_R": {"mouthSmile_R": 1.0, "noseSneer_R": 0.9, "mouthUpperUp_R": 0.8, "cheekSquint_R": 0.6},
    "crows_L": {"cheekSquint_L": 1.0, "eyeSquint_L": 0.6, "mouthSmile_L": 0.4},
    "crows_R": {"cheekSquint_R": 1.0, "eyeSquint_R": 0.6, "mouthSmile_R": 0.4},
}
WRINKLE_NAMES: tuple[str, ...] = tuple(WRINKLE_DRIVERS)


def wrinkle_activations(expression_weights: dict[str, float]) -> np.ndarray:
    """(K,) activation of each wrinkle channel (WRINKLE_NAMES order) for blendshape weights."""
    return np.array(
        [
            min(1.0, max((gain * expression_weights.get(name, 0.0) for name, gain in drivers.items()), default=0.0))
            for drivers in WRINKLE_DRIVERS.values()
        ],
        dtype=np.float32,
    )


@dataclass(frozen=True)
class Appearance:
    """The colour choices of one identity (sRGB albedos in 0..1) and their painting knobs."""

    skin: np.ndarray
    hair: np.ndarray
    eyes: np.ndarray
    lips: np.ndarray
    has_hair: bool
    hairline: float  # forehead hairline height above the brows, cm
    brow_thickness: float  # scale of the brow width
    brow_opacity: float
    stubble: float  # 0 = none .. 1 = dark beard shadow
    wrinkle_depth: float  # how deep expression wrinkles show (skin age)
    noise_seed: int


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Random colours for one identity: skin from the tone scale, hair and eyes tied loosely to it."""
    tone = rng.uniform(0, len(SKIN_TONES) - 1)
    low = int(np.floor(tone))
    high = min(low + 1, len(SKIN_TONES) - 1)
    skin = SKIN_TONES[low] + (tone - low) * (SKIN_TONES[high] - SKIN_TONES[low])
    skin = np.clip(
        skin * rng.uniform(0.94, 1.06) + rng.normal(0, 0.015, 3) + np.array([0.01, 0, -0.01]) * rng.normal(0, 1), 0, 1
    )
    dark = tone / (len(SKIN_TONES) - 1)
    hair_choice = rng.choice(len(HAIR_COLOURS), p=_tilted([0.25, 0.3, 0.2, 0.08, 0.06, 0.04, 0.07], dark, [0, 1]))
    eye_choice = rng.choice(len(EYE_COLOURS), p=_tilted([0.3, 0.25, 0.12, 0.08, 0.17, 0.08], dark, [0, 1]))
    hair = np.clip(HAIR_COLOURS[hair_choice] * rng.uniform(0.8, 1.2), 0, 1)
    eyes = np.clip(EYE_COLOURS[eye_choice] * rng.uniform(0.8, 1.15), 0, 1)
    lips = np.clip(skin * np.array([0.86, 0.56, 0.56]) * rng.uniform(0.85, 1.05) + [0.04, 0.0, 0.01], 0, 1)
    return Appearance(
        skin=skin,
        hair=hair,
        eyes=eyes,
        lips=lips,
        has_hair=bool(rng.random() > 0.1),
        hairline=float(rng.uniform(4.8, 6.5)),
        brow_thickness=float(rng.uniform(0.8, 1.25)),
        brow_opacity=float(rng.uniform(0.6, 0.95)),
        stubble=float(rng.choice([0.0, 0.0, 0.0, rng.uniform(0.2, 0.7)])),
        wrinkle_depth=float(rng.uniform(0.6, 1.2)),
        noise_seed=int(rng.integers(2**31)),
    )


def _tilted(weights: list[float], dark: float, boosted: list[int]) -> np.ndarray:
    """Probabilities with the `boosted` entries made likelier for darker skin (dark in 0..1)."""
    p = np.array(weights, dtype=np.float64)
    p[boosted] *= 1 + 3 * dark
    return p / p.sum()


@dataclass(frozen=True)
class EyeFrame:
    centre: np.ndarray  # eyeball centre (mean neutral face)
    axis: np.ndarray  # unit optical axis


@dataclass(frozen=True)
class UVLayout:
    """Per-model texel geometry shared by every identity's painting (built once).

    `fields` holds, per tile, flat (T * T,) maps that depend only on the mean face: distances
    to the lip outline, the brows and the lid margins, the hair angle around the head, eye-local
    radii, ... Painting an identity is then arithmetic on these plus noise.
    """

    size: int
    covered: np.ndarray  # (tiles, T, T) bool
    nearest: np.ndarray  # (tiles, T * T) flat index of the nearest covered texel (seam padding)
    fields: tuple[dict[str, np.ndarray], ...]
    landmarks: np.ndarray  # (68, 3) mean-face landmark positions


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (unit length; zero for unused vertices)."""
    corners = vertices[triangles].astype(np.float64)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros((len(vertices), 3), dtype=np.float64)
    for slot in range(3):
        for axis in range(3):
            normals[:, axis] += np.bincount(triangles[:, slot], face_normals[:, axis], minlength=len(vertices))
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.maximum(length, 1e-12)).astype(np.float32)


_TILE_MATERIALS = {0: "M_Face", 1: "M_BackHead", 2: "M_GumsTongue", 3: "M_Teeth", 4: "M_ScleraLeft", 5: "M_IrisLeft"}


def build_uv_layout(model: FaceModel, size: int = DEFAULT_TEXTURE_SIZE) -> UVLayout:
    """Rasterize each material's UV tile with mean-face positions, then derive the paint fields.

    Both eyes share their uvs, so the eye tiles are baked from the left eye only.
    """
    neutral = model.neutral.astype(np.float64)
    landmarks = neutral[model.landmark_vertices]
    left_eye = _eye_frame(neutral)
    tiles = len(TILE_NAMES)
    covered = np.zeros((tiles, size, size), bool)
    nearest = np.zeros((tiles, size * size), np.int64)
    fields: list[dict[str, np.ndarray]] = []
    for tile, material in _TILE_MATERIALS.items():
        tris = model.triangles((material,))
        offset = MATERIAL_TILES[material][1]
        uv = model.uv[tris.uv].astype(np.float64)  # (T, 3, 2)
        xy = np.stack([(uv[..., 0] + offset - tile) * size - 0.5, (1 - uv[..., 1]) * size - 0.5], axis=-1)
        corners = np.arange(xy.shape[0] * 3).reshape(-1, 3)
        fragments = rasterize(xy.reshape(-1, 2), np.ones(len(corners) * 3), corners, (size, size), cull_back=False)
        covered[tile] = fragments.mask
        nearest[tile] = _nearest_covered(fragments.mask)
        position = fragments.interpolate(neutral[tris.vertices]).reshape(-1, 3).astype(np.float64)
        if tile in (0, 1):
            first_vertex = np.where(fragments.mask, tris.vertices[np.maximum(fragments.triangle, 0), 0], -1)
            fields.append(_skin_fields(position, landmarks, first_vertex.reshape(-1), fragments.mask.reshape(-1)))
        elif tile in (2, 3):
            fields.append({"position": position.astype(np.float32)})
        else:
            fields.append(_eye_fields(position, left_eye))
    return UVLayout(size, covered, nearest, tuple(fields), landmarks.astype(np.float32))


def _skin_fields(
    pos: np.ndarray, lm: np.ndarray, first_vertex: np.ndarray, covered: np.ndarray
) -> dict[str, np.ndarray]:
    """Geometry of the skin tiles' texels on the mean face, for lips, brows, lids, hair, tints."""
    xy = pos[:, :2]
    out: dict[str, np.ndarray] = {"y": pos[:, 1]}
    out["front"] = (pos[:, 2] > lm[[0, 16], 2].mean() - 1.0) & covered  # the face's front: not ears or scalp
    out["mouth_socket"] = _in_range(first_vertex, "mouth_socket")
    out["eye_socket"] = _in_range(first_vertex, "eye_sockets")
    out["lip_distance"] = _polygon_signed_distance(xy, lm[48:60, :2], margin=1.0)
    # brows: distance to a centre line a little below the points (they run along the brow's
    # upper edge, the iBUG convention), and how far along from the brow's head (0) to its tail (1)
    brow_distance, brow_along = np.full(len(xy), np.inf), np.zeros(len(xy))
    for brow in (lm[21:16:-1, :2], lm[22:27, :2]):  # each from the inner end outwards
        direction = brow[-1] - brow[0]
        line = np.vstack([brow[0] - 0.06 * direction, brow, brow[-1] + 0.04 * direction]) - [0.0, 0.4]
        distance, along = _polyline_distance(xy, line, margin=1.5)
        closer = distance < brow_distance
        brow_distance[closer], brow_along[closer] = distance[closer], along[closer]
    out["brow_distance"], out["brow_along"] = brow_distance, brow_along
    upper, lower, corner = (np.full(len(xy), np.inf) for _ in range(3))
    for eye in (lm[36:42, :2], lm[42:48, :2]):
        outer = eye[0] if abs(eye[0, 0]) > abs(eye[3, 0]) else eye[3]
        upper = np.minimum(upper, _polyline_distance(xy, eye[[0, 1, 2, 3]], margin=1.5)[0])
        lower = np.minimum(lower, _polyline_distance(xy, eye[[3, 4, 5, 0]], margin=1.0)[0])
        corner = np.minimum(corner, np.linalg.norm(xy - outer, axis=1))
    out["upper_lid"], out["lower_lid"], out["eye_corner"] = upper, lower, corner
    out["above_eyes"] = xy[:, 1] > lm[36:48, 1].min() - 0.2
    # tints: cheeks and nose redder, around the eyes darker
    cheeks = sum(
        np.exp(-np.sum((xy - centre[:2]) ** 2, axis=1) / (2 * radius**2)) * amount
        for centre, radius, amount in (
            ((lm[2] + lm[31] + lm[48]) / 3, 2.0, 1.0),
            ((lm[14] + lm[35] + lm[54]) / 3, 2.0, 1.0),
            (lm[30], 0.9, 0.5),
            (lm[8] + [0, 0.8, 0], 1.3, 0.3),
        )
    )
    out["redness"] = cheeks
    out["orbit"] = sum(
        np.exp(-np.sum((xy - eye[:2] - [0, -0.2]) ** 2, axis=1) / (2 * 1.0**2))
        for eye in (lm[36:42].mean(axis=0), lm[42:48].mean(axis=0))
    )
    # beard area: below the nose base, above the throat, outside the lips
    nose_base = lm[[31, 35], 1].mean()
    out["beard"] = (
        _smoothstep(nose_base - 0.2, nose_base - 1.2, xy[:, 1])
        * _smoothstep(lm[8, 1] - 4.0, lm[8, 1] - 1.5, xy[:, 1])
        * _smoothstep(0.05, 0.3, out["lip_distance"])
        * _smoothstep(abs(lm[1, 0]) + 0.5, abs(lm[3, 0]) - 0.5, np.abs(xy[:, 0]))
    )
    # hair: angle around the vertical axis through the ears (0: front, pi: back)
    ear_z = lm[[0, 16], 2].mean() - 2.0
    out["hair_angle"] = np.abs(np.arctan2(pos[:, 0], pos[:, 2] - ear_z))
    out.update({f"wrinkle/{name}": profile for name, profile in _wrinkle_fields(xy, lm).items()})
    out["brow_top"] = np.full(len(xy), lm[17:27, 1].max())
    out["chin_y"] = np.full(len(xy), lm[8, 1])
    return {
        name: np.asarray(value, dtype=np.float32 if value.dtype.kind == "f" else value.dtype)
        for name, value in out.items()
    }


def _line_profile(distance: np.ndarray, width: float) -> np.ndarray:
    """A crease's darkness across it: a Gaussian of the distance to its centre line."""
    return np.exp(-(distance**2) / (2 * width**2))


def _wrinkle_fields(xy: np.ndarray, lm: np.ndarray) -> dict[str, np.ndarray]:
    """Crease-line maps (0..1) on the mean face for each WRINKLE_DRIVERS channel, placed from the
    landmarks: forehead lines follow the brow arch, furrows sit between the brows' inner ends,
    the nasolabial fold runs from beside the nose wing to below the mouth corner, crow's feet fan
    out from the outer eye corners."""
    x, y = xy[:, 0], xy[:, 1]
    out: dict[str, np.ndarray] = {}
    brows = lm[17:27, :2][np.argsort(lm[17:27, 0])]
    above_brow = y - np.interp(x, brows[:, 0], brows[:, 1])
    lines = sum(
        _line_profile(above_brow - (1.3 + 0.7 * k) - 0.12 * np.sin(1.3 * x + 2.1 * k), 0.07) * (1 - 0.15 * k)
        for k in range(4)
    )
    lines = lines * (1 - _smoothstep(4.5, 5.5, np.abs(x))) * (1 - _smoothstep(3.6, 4.4, above_brow))
    out["forehead_inner"] = lines * np.exp(-(x**2) / (2 * 1.8**2))
    out["forehead_L"] = lines * _smoothstep(0.5, 3.0, x)
    out["forehead_R"] = lines * _smoothstep(0.5, 3.0, -x)
    inner_y = lm[[21, 22], 1].mean()
    furrow_height = _smoothstep(inner_y - 1.4, inner_y - 0.9, y) * (1 - _smoothstep(inner_y + 0.5, inner_y + 1.1, y))
    out["glabella"] = furrow_height * np.maximum(
        _line_profile(np.abs(x) - 0.45, 0.07), 0.5 * _line_profile(np.abs(x) - 0.9, 0.06)
    ) + 0.5 * _line_profile(y - (lm[27, 1] + 0.5), 0.06) * (1 - _smoothstep(0.5, 0.9, np.abs(x)))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        own = sign * x > 0
        flipped = np.c_[sign * x, y]  # work on the subject's left, mirror for the right
        bridge = np.zeros(len(xy))
        for k, height in enumerate(lm[27, 1] - np.array([0.35, 0.75, 1.15])):
            segment = np.array([[0.25, height + 0.12], [1.35, height - 0.3]])
            bridge = np.maximum(
                bridge, _line_profile(_polyline_distance(flipped, segment, 0.5)[0], 0.06) * (1 - 0.2 * k)
            )
        out[f"nose_{side}"] = bridge * own
        wing, corner = lm[35, :2], lm[54, :2]
        start, control, end = wing + [0.5, 0.55], wing + [1.85, -0.75], corner + [0.65, -0.8]
        t = np.linspace(0, 1, 24)[:, None]
        curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
        distance, along = _polyline_distance(flipped, curve, 0.8)
        out[f"nasolabial_{side}"] = _line_profile(distance, 0.13) * (1 - 0.6 * along) * own
        origin = lm[45, :2] + [0.45, 0.0]
        crows = np.zeros(len(xy))
        for angle in np.radians([28, 5, -20, -45]):
            segment = np.array(
                [
                    origin + 0.2 * np.array([np.cos(angle), np.sin(angle)]),
                    origin + 1.3 * np.array([np.cos(angle), np.sin(angle)]),
                ]
            )
            distance, along = _polyline_distance(flipped, segment, 0.5)
            crows = np.maximum(crows, _line_profile(distance, 0.06) * (1 - 0.7 * along))
        lower_lid = lm[[45, 46, 47, 42], :2]
        lid_distance, _ = _polyline_distance(flipped, lower_lid, 1.2)
        lid_fold = _line_profile(lid_distance - 0.55, 0.08) * (flipped[:, 1] < lm[42:48, 1].mean())
        out[f"crows_{side}"] = np.maximum(crows, 0.7 * lid_fold) * own
    return {name: out[name] for name in WRINKLE_NAMES}


def _eye_fields(pos: np.ndarray, eye: EyeFrame) -> dict[str, np.ndarray]:
    """Eye-local polar coordinates: distance from the optical axis, height along it, angle round it."""
    local = pos - eye.centre
    height = local @ eye.axis
    radial = local - np.outer(height, eye.axis)
    side = np.cross(eye.axis, [0.0, 1.0, 0.0])
    side /= np.linalg.norm(side)
    up = np.cross(side, eye.axis)
    return {
        "radial": np.linalg.norm(radial, axis=1).astype(np.float32),
        "height": height.astype(np.float32),
        "angle": np.arctan2(radial @ up, radial @ side).astype(np.float32),
    }


def _in_range(vertex: np.ndarray, name: str) -> np.ndarray:
    low, high = VERTEX_RANGES[name]
    return (vertex >= low) & (vertex < high)


def _eye_frame(neutral: np.ndarray) -> EyeFrame:
    """Left eyeball centre (least-squares sphere through the sclera) and optical axis."""
    sclera = neutral[21451:22221]  # sclera left, see VERTEX_RANGES' eyeballs
    design = np.c_[2 * sclera, np.ones(len(sclera))]
    centre = np.linalg.lstsq(design, (sclera**2).sum(axis=1), rcond=None)[0][:3]
    # the optical axis through the cornea's apex (the sclera shell's farthest part), without its
    # sideways tilt: both eyes share their uvs, so a tilt would turn one eye in and the other out
    distance = np.linalg.norm(sclera - centre, axis=1)
    axis = sclera[distance > np.percentile(distance, 97)].mean(axis=0) - centre
    axis[0] = 0.0
    return EyeFrame(centre=centre, axis=axis / np.linalg.norm(axis))


def _nearest_covered(covered: np.ndarray) -> np.ndarray:
    """For every texel the flat index of the nearest covered one, to pad UV islands (no seams)."""
    flat_covered = np.flatnonzero(covered)
    if len(flat_covered) == 0:
        return np.arange(covered.size)
    _, labels = cv2.distanceTransformWithLabels(
        (~covered).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    labels = labels.reshape(-1)
    lookup = np.zeros(labels.max() + 1, dtype=np.int64)
    lookup[labels[flat_covered]] = flat_covered
    return lookup[labels]


def _polyline_distance(points: np.ndarray, line: np.ndarray, margin: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Distance from 2D points (n, 2) to a polyline (m, 2), and the arc-length fraction (0..1) of
    the closest point along it. Points farther than `margin` from the line's box get inf."""
    best = np.full(len(points), np.inf)
    where = np.zeros(len(points))
    near = np.all((points > line.min(axis=0) - margin) & (points < line.max(axis=0) + margin), axis=1)
    subset = points[near]
    sub_best = np.full(len(subset), np.inf)
    sub_where = np.zeros(len(subset))
    lengths = np.linalg.norm(np.diff(line, axis=0), axis=1)
    starts = np.concatenate([[0.0], np.cumsum(lengths)])
    for index in range(len(line) - 1):
        a, b = line[index], line[index + 1]
        ab = b - a
        t = np.clip(((subset - a) @ ab) / max(ab @ ab, 1e-12), 0, 1)
        distance = np.linalg.norm(subset - (a + t[:, None] * ab), axis=1)
        closer = distance < sub_best
        sub_best[closer] = distance[closer]
        sub_where[closer] = (starts[index] + t[closer] * lengths[index]) / starts[-1]
    best[near], where[near] = sub_best, sub_where
    return best, where


def _polygon_signed_distance(points: np.ndarray, polygon: np.ndarray, margin: float = np.inf) -> np.ndarray:
    """Signed distance from 2D points to a closed polygon: negative inside (inf beyond `margin`)."""
    closed = np.vstack([polygon, polygon[:1]])
    distance, _ = _polyline_distance(points, closed, margin)
    inside = np.zeros(len(points), dtype=bool)
    for index in range(len(polygon)):
        (x0, y0), (x1, y1) = closed[index], closed[index + 1]
        crosses = (y0 > points[:, 1]) != (y1 > points[:, 1])
        x_at = x0 + (points[:, 1] - y0) * (x1 - x0) / (y1 - y0 if y1 != y0 else 1e-12)
        inside ^= crosses & (points[:, 0] < x_at)
    return np.where(inside, -distance, distance)


# --------------------------------------------------------------------------------------------
# painting


def paint_atlas(layout: UVLayout, look: Appearance) -> np.ndarray:
    """The identity's atlas, (T, tiles * T, 4) float32: sRGB albedo in 0..1 and a specular scale
    (1 = the material's own; less on hair and brows, more on the lips). Deterministic for
    `look.noise_seed`."""
    rng = np.random.default_rng(look.noise_seed)
    size = layout.size
    ones = np.ones(size * size, np.float32)
    tiles = [
        _paint_skin(layout, look, rng, 0),
        _paint_skin(layout, look, rng, 1),
        (_paint_gums(layout, rng), ones),
        (_paint_teeth(layout, rng), ones),
        (_paint_eye(layout, look, rng, 4), ones),
        (_paint_eye(layout, look, rng, 5), ones),
    ]
    padded = []
    for index, (colour, specular) in enumerate(tiles):
        rgba = np.concatenate([np.clip(colour, 0, 1), specular[:, None]], axis=1)
        padded.append(rgba[layout.nearest[index]].reshape(size, size, 4))
    return np.concatenate(padded, axis=1).astype(np.float32)


def paint_wrinkles(layout: UVLayout, look: Appearance) -> np.ndarray:
    """The identity's expression-wrinkle maps over the face tile, (K, T, T) float32 in 0..1 in
    WRINKLE_NAMES order: the crease lines scaled by skin age and broken up by noise."""
    rng = np.random.default_rng(look.noise_seed + 1)
    size = layout.size
    maps = []
    for name in WRINKLE_NAMES:
        profile = layout.fields[0][f"wrinkle/{name}"]
        breakup = np.clip(0.65 + 0.45 * texel_noise(size, rng, 5), 0, 1)
        painted = np.clip(profile * breakup * look.wrinkle_depth, 0, 1)
        maps.append(painted[layout.nearest[0]].reshape(size, size))
    return np.stack(maps).astype(np.float32)


def fourier_noise(points: np.ndarray, rng: np.random.Generator, frequency: float, waves: int = 12) -> np.ndarray:
    """Smooth band-limited noise (about unit variance) at `points` (n, d): a sum of random plane waves."""
    directions = rng.normal(size=(waves, points.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    phases = rng.uniform(0, 2 * np.pi, waves)
    scales = frequency * rng.uniform(0.7, 1.3, waves)
    return np.cos(points @ (directions * scales[:, None]).T + phases).sum(axis=1) * np.sqrt(2.0 / waves)


def texel_noise(size: int, rng: np.random.Generator, sigma: float, stretch: float = 1.0) -> np.ndarray:
    """Blurred white noise over a T x T tile (about unit variance), flat (T * T,).

    `sigma` in texels; `stretch` > 1 elongates the grains horizontally (hairs of a brow), < 1
    vertically (hair on the head). Large blurs are made at a lower resolution and upsampled.
    """
    factor = max(1, int(sigma // 4))
    small = size // factor
    noise = rng.normal(size=(small, small)).astype(np.float32)
    sx = sigma / factor * (stretch if stretch > 1 else 1.0)
    sy = sigma / factor * (1.0 / stretch if stretch < 1 else 1.0)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=sx, sigmaY=sy)
    if factor > 1:
        noise = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    return (noise / max(float(noise.std()), 1e-6)).reshape(-1)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _blend(base: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return base * (1 - alpha[..., None]) + np.asarray(colour) * alpha[..., None]


def _paint_skin(layout: UVLayout, look: Appearance, rng: np.random.Generator, tile: int) -> np.ndarray:
    """Skin (face or back-head tile): tone, mottling, tints, lips, brows, lash lines, beard, hair."""
    size = layout.size
    f = layout.fields[tile]
    low, mid, fine = texel_noise(size, rng, 40), texel_noise(size, rng, 8), texel_noise(size, rng, 0.8)
    skin = np.tile(look.skin.astype(np.float32), (size * size, 1))
    skin *= (1 + 0.03 * low + 0.015 * mid + 0.02 * fine)[:, None]
    specular = np.clip(1 + 0.25 * mid + 0.2 * fine, 0.3, 2).astype(np.float32)  # oilier and drier patches
    skin *= 1 + f["redness"][:, None] * np.array([0.03, -0.05, -0.04]) * (1 + 0.4 * mid[:, None])
    skin *= 1 - 0.1 * f["orbit"][:, None] * np.array([0.9, 1.0, 0.85])
    front = f["front"]
    if tile == 0:
        skin, lips = _paint_lips(skin, f, look, front, fine)
        specular = specular * (1 + 1.5 * lips)
        skin, lashes = _paint_lids(skin, f, front)
        specular = specular * (1 - 0.6 * lashes)
        skin, brows = _paint_brows(skin, f, look, rng, front, size)
        specular = specular * (1 - 0.8 * brows)
        if look.stubble > 0:
            grain = np.clip(0.5 + 0.5 * fine, 0, 1)
            skin = _blend(skin, look.hair * 0.8 + 0.04, look.stubble * 0.35 * f["beard"] * grain)
    else:
        mucosa = np.array([0.55, 0.2, 0.2]) * (0.9 + 0.06 * mid[:, None])
        skin[f["mouth_socket"]] = mucosa[f["mouth_socket"]]
        skin[f["eye_socket"]] = np.array([0.72, 0.42, 0.4]) * float(np.mean(look.skin)) / 0.7
        specular[f["mouth_socket"] | f["eye_socket"]] = 2.0
    if look.has_hair:
        skin, hair = _paint_hair(skin, f, look, rng, size)
        specular = specular * (1 - 0.7 * hair)
    return skin, specular


def _paint_lips(skin, f, look: Appearance, front, fine) -> np.ndarray:
    """Lip colour inside the outer-lip contour (48-59), a soft vermilion border, fine lines."""
    distance = f["lip_distance"]
    alpha = (1 - _smoothstep(-0.1, 0.05, distance)) * front
    towards_slit = _smoothstep(-0.05, -0.35, distance)  # darker and redder towards the mouth slit
    lips = look.lips * (1 + 0.04 * fine)[:, None] * (1 - 0.1 * towards_slit)[:, None]
    return _blend(skin, lips, alpha), alpha


def _paint_lids(skin, f, front) -> np.ndarray:
    """Lash lines on the lid margins (the upper one darker and flicked at the outer corner),
    and a soft crease shadow above the upper lid."""
    lash = 0.85 * (1 - _smoothstep(0.04, 0.2, f["upper_lid"])) + 0.35 * (1 - _smoothstep(0.02, 0.1, f["lower_lid"]))
    lash = np.maximum(lash, 0.45 * (1 - _smoothstep(0.05, 0.2, f["eye_corner"])))
    alpha = np.clip(lash, 0, 0.85) * front
    skin = _blend(skin, np.array([0.05, 0.04, 0.035]), alpha)
    crease = 0.1 * np.exp(-((f["upper_lid"] - 0.6) ** 2) / (2 * 0.15**2)) * f["above_eyes"] * front
    return skin * (1 - crease)[:, None], alpha


def _paint_brows(skin, f, look: Appearance, rng, front, size: int) -> np.ndarray:
    """Brows: a band widest at the head and tapering to the tail, of fine horizontal hairs."""
    along = f["brow_along"]
    half_width = look.brow_thickness * (0.58 - 0.3 * along)
    band = 1 - _smoothstep(half_width * 0.5, half_width, f["brow_distance"])
    hairs = texel_noise(size, rng, 0.7, stretch=5.0)
    density = np.clip(0.9 + 0.15 * hairs, 0, 1) * (1 - 0.35 * along)
    alpha = np.clip(band * density * look.brow_opacity, 0, 1) * front
    return _blend(skin, look.hair * 0.8, alpha), alpha


def _paint_hair(skin, f, look: Appearance, rng, size: int) -> np.ndarray:
    """Short hair above a hairline that runs over the forehead, down the temples, above the ears
    and round the back of the head to the nape."""
    brow = f["brow_top"][0]
    nape = f["chin_y"][0] - 1.0
    front_line = brow + look.hairline
    temple = brow + 1.0
    hairline = np.interp(
        f["hair_angle"],
        [0.0, 0.55, 1.05, 1.45, 1.75, 2.2, np.pi],
        [front_line, front_line - 0.6, temple + 1.2, temple + 0.6, temple + 0.8, nape + 4.0, nape],
    )
    edge = hairline + 0.3 * texel_noise(size, rng, 6)
    alpha = _smoothstep(edge - 0.1, edge + 0.6, f["y"])
    strands = texel_noise(size, rng, 1.5, stretch=0.3)
    hair = np.clip(look.hair * (1 + 0.15 * strands)[:, None], 0, 1)
    alpha = alpha * 0.97
    return _blend(skin, hair, alpha), alpha


def _paint_gums(layout: UVLayout, rng: np.random.Generator) -> np.ndarray:
    """Gums at the front, a darker, redder tongue and throat further back."""
    pos = layout.fields[2]["position"]
    depth = np.clip((layout.landmarks[51, 2] - pos[:, 2]) / 4.0, 0, 1)[:, None]
    colour = np.array([0.78, 0.42, 0.42]) * (1 - depth) + np.array([0.68, 0.32, 0.32]) * depth
    return colour * (1 + 0.05 * texel_noise(layout.size, rng, 4))[:, None]


def _paint_teeth(layout: UVLayout, rng: np.random.Generator) -> np.ndarray:
    """Ivory enamel, darker towards the roots (away from the biting edges)."""
    pos = layout.fields[3]["position"]
    base = np.array([0.86, 0.83, 0.74]) * rng.uniform(0.88, 1.0)
    mouth_y = layout.landmarks[[62, 66], 1].mean()
    root = np.clip((np.abs(pos[:, 1] - mouth_y) - 0.6) / 0.8, 0, 1)[:, None]
    return base * (1 - 0.25 * root) * (1 + 0.03 * texel_noise(layout.size, rng, 3))[:, None]


def _paint_eye(layout: UVLayout, look: Appearance, rng: np.random.Generator, tile: int) -> np.ndarray:
    """Rings round the optical axis: pupil, iris (radial fibres, dark limbal ring), sclera."""
    f = layout.fields[tile]
    radial, angle = f["radial"], f["angle"]
    iris_r, pupil_r = 0.72, 0.26
    fibres = sum(rng.normal() * np.cos(k * angle + rng.uniform(0, 2 * np.pi)) for k in rng.integers(6, 60, 10))
    fibres = fibres / np.sqrt(10)
    iris = look.eyes * (1 + 0.2 * fibres[:, None]) * (0.8 + 0.4 * np.clip(radial / iris_r, 0, 1))[:, None]
    iris = iris * (1 - 0.5 * _smoothstep(iris_r * 0.8, iris_r, radial))[:, None]  # limbal ring
    sclera = np.array([0.86, 0.83, 0.8]) * (1 - 0.1 * _smoothstep(1.0, 1.5, radial))[:, None]
    sclera = sclera + np.array([0.04, -0.03, -0.03]) * _smoothstep(0.9, 1.5, radial)[:, None]
    colour = _blend(sclera, iris, 1 - _smoothstep(iris_r - 0.02, iris_r + 0.04, radial))
    colour = _blend(colour, np.array([0.02, 0.02, 0.025]), 1 - _smoothstep(pupil_r - 0.02, pupil_r + 0.03, radial))
    colour[f["height"] < 0] *= 0.3  # the back of the eyeball never shows; keep it dark
    return colour
