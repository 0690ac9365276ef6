"""Rendering one face: camera, head pose, lighting, background, shading, and the 68 landmarks.

A scene (`IdentityScene`) holds everything that is fixed for one synthetic person: identity
shape weights, painted texture atlas, a small head-pose jitter, camera distance, lights and
background; only the expression changes between that person's images, as in a posed
expression database (RaFD, BU-3DFE).

The image is rendered straight into the aligned crop that `lgan prepare` would cut from a
photo: the 68 landmark vertices are projected into a virtual photo (perspective camera),
`align_face` turns those points into the crop's similarity transform, exactly as for detected
points on a real photo, and the rasterizer draws in crop pixels through that transform (at
`supersample` times the size, then area-averaged), so no second resampling blurs the crop.
A landmark is the projection of its vertex; it is marked visible when the z-buffer at its
pixel holds that vertex's surface (not something in front of it).

Shading, in linear light: albedo from the atlas (bilinear), interpolated vertex normals, a
key light with a per-vertex shadow map, a fill light, a sky/ground ambient term scaled by
per-vertex ambient occlusion (shadow maps from 10 directions, recomputed per expression so an
open mouth lets light onto the teeth), wrap lighting on skin (red scatters further: a cheap
stand-in for subsurface scattering) and Blinn-Phong specular per material scaled by the
atlas's specular map; expression wrinkles (crease maps driven by the blendshape weights, see
texture.WRINKLE_DRIVERS) darken the shading, and the eyeballs darken next to the lids (a
screen-space stand-in for the model's eye-occlusion overlay); then gamma, a little sensor noise
and 8-bit output.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from lgan_cli.faces.align import Alignment, align_face
from lgan_cli.synth.facemodel import FaceModel
from lgan_cli.synth.raster import Fragments, rasterize, vertex_visibility
from lgan_cli.synth.texture import (
    MATERIAL_TILES,
    RENDERED_MATERIALS,
    TILE_NAMES,
    Appearance,
    UVLayout,
    build_uv_layout,
    fourier_noise,
    paint_atlas,
    paint_wrinkles,
    sample_appearance,
    vertex_normals,
    wrinkle_activations,
)

PHOTO_SIZE = 1024  # the virtual photo the landmarks are projected into (px)
PHOTO_PX_PER_CM = 40.0  # its scale at the face
GAMMA = 2.2

#: Per material: (specular strength, Blinn-Phong exponent, wrap-lighting amount).
MATERIAL_SHADING: dict[str, tuple[float, float, float]] = {
    "M_Face": (0.06, 18.0, 1.0),
    "M_BackHead": (0.04, 12.0, 1.0),
    "M_GumsTongue": (0.25, 40.0, 0.6),
    "M_Teeth": (0.3, 60.0, 0.3),
    "M_ScleraLeft": (0.9, 400.0, 0.0),
    "M_ScleraRight": (0.9, 400.0, 0.0),
    "M_IrisLeft": (0.9, 400.0, 0.0),
    "M_IrisRight": (0.9, 400.0, 0.0),
}
WRAP_RGB = np.array([0.45, 0.25, 0.18])  # how far each channel's diffuse light wraps past the terminator on skin
WRINKLE_DARKNESS = 0.45  # shading lost at the bottom of a fully active crease


def _ao_directions(count: int = 10) -> np.ndarray:
    """Fixed directions over the upper-front of the sphere (Fibonacci spiral), camera space."""
    golden = np.pi * (3 - np.sqrt(5))
    k = np.arange(count) + 0.5
    z = 1 - k / count * 1.15  # from straight ahead to a little behind the side
    radius = np.sqrt(np.clip(1 - z**2, 0, 1))
    directions = np.stack([radius * np.cos(golden * k), radius * np.sin(golden * k), z], axis=1)
    directions[:, 1] = np.abs(directions[:, 1]) * 0.8 + 0.1 * np.sign(directions[:, 1] + 1e-9)
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


AO_DIRECTIONS = _ao_directions()


@dataclass(frozen=True)
class Light:
    direction: np.ndarray  # unit vector from the face towards the light, camera space
    colour: np.ndarray  # linear RGB intensity


@dataclass(frozen=True)
class Lighting:
    key: Light
    fill: Light
    sky: np.ndarray  # ambient from above (linear RGB)
    ground: np.ndarray  # ambient from below
    exposure: float


BACKDROP_SIZE = 128  # the backdrop is smooth: painted once per person at this size over the virtual photo


def paint_backdrop(rng: np.random.Generator) -> np.ndarray:
    """A studio backdrop over the virtual photo: a colour, a vertical gradient, soft blotches and
    a vignette; (B, B, 3) float32 sRGB, warped into each crop so all of a person's crops agree."""
    palette = np.array(
        [
            [0.95, 0.95, 0.95],
            [0.80, 0.80, 0.80],
            [0.60, 0.60, 0.62],
            [0.35, 0.36, 0.38],
            [0.55, 0.63, 0.72],
            [0.78, 0.72, 0.62],
            [0.20, 0.22, 0.25],
            [0.62, 0.70, 0.62],
        ]
    )
    colour = np.clip(palette[rng.integers(len(palette))] * rng.uniform(0.85, 1.1) + rng.normal(0, 0.02, 3), 0, 1)
    gradient, vignette = rng.uniform(-0.15, 0.15), rng.uniform(0.0, 0.3)
    grid = (np.mgrid[0:BACKDROP_SIZE, 0:BACKDROP_SIZE].astype(np.float64) + 0.5) / BACKDROP_SIZE - 0.5
    q = np.stack([grid[1], grid[0]], axis=-1).reshape(-1, 2)  # (x, y) in -0.5 .. 0.5
    blotches = fourier_noise(q, rng, 4.0, waves=8)
    shade = 1 + gradient * q[:, 1] * 2 + 0.025 * blotches - vignette * np.sum(q**2, axis=1) * 2
    image = np.clip(colour * shade[:, None], 0, 1)
    return image.reshape(BACKDROP_SIZE, BACKDROP_SIZE, 3).astype(np.float32)


@dataclass(frozen=True)
class IdentityScene:
    """Everything that stays fixed across one synthetic person's images."""

    identity_weights: np.ndarray
    shape: np.ndarray = field(repr=False)  # (V, 3) the person's neutral mesh (identity applied once)
    rest_weights: dict[str, float]  # blendshapes of the person's resting face (lid aperture), under every expression
    appearance: Appearance
    atlas: np.ndarray = field(repr=False)  # (T, tiles * T, 4): albedo + specular scale
    wrinkles: np.ndarray = field(repr=False)  # (K, T, T) expression-wrinkle maps of the face tile
    yaw: float  # degrees; positive turns the face towards the image's right
    pitch: float  # degrees; positive tilts the face up
    roll: float  # degrees
    camera_distance: float  # cm
    lighting: Lighting
    backdrop: np.ndarray = field(repr=False)  # (B, B, 3) over the virtual photo, see paint_backdrop
    noise_seed: int = 0


@dataclass(frozen=True)
class Rendering:
    image: np.ndarray  # (S, S, 3) uint8 RGB, the aligned crop
    points68: np.ndarray  # (68, 2) float32 crop pixels (pixel centres at integers)
    visible68: np.ndarray  # (68,) bool
    alignment: Alignment  # virtual photo -> crop
    photo_points68: np.ndarray  # (68, 2) float64 in the virtual photo (what align_face was given)
    fragments: Fragments | None = field(default=None, repr=False)  # at the render size (S * supersample)


def sample_identity_scene(renderer: FaceRenderer, rng: np.random.Generator) -> IdentityScene:
    """A random person, look, pose jitter, camera, lighting and backdrop (all from `rng`)."""
    identity = rng.normal(size=renderer.model.num_identity_modes).astype(np.float32)
    lids = float(rng.uniform(0.1, 0.35))  # the model's open lids read as staring; people rest a little lower
    look = sample_appearance(rng)
    return IdentityScene(
        identity_weights=identity,
        shape=renderer.model.identity_shape(identity),
        rest_weights={"eyeBlink_L": lids, "eyeBlink_R": lids},
        appearance=look,
        atlas=paint_atlas(renderer.layout, look),
        wrinkles=paint_wrinkles(renderer.layout, look),
        yaw=float(rng.normal(0, 4.0)),
        pitch=float(rng.normal(0, 3.0)),
        roll=float(rng.normal(0, 2.0)),
        camera_distance=float(rng.uniform(70, 150)),
        lighting=_sample_lighting(rng),
        backdrop=paint_backdrop(rng),
        noise_seed=int(rng.integers(2**31)),
    )


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def _sample_lighting(rng: np.random.Generator) -> Lighting:
    """Soft frontal studio light half the time, a directional key light the other half."""
    soft = rng.random() < 0.5
    azimuth = np.radians(rng.uniform(-15, 15) if soft else rng.choice([-1, 1]) * rng.uniform(15, 55))
    elevation = np.radians(rng.uniform(5, 35))
    key_dir = _unit([np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation)])
    fill_dir = _unit([-key_dir[0] * 1.5, 0.1, 1.0])
    warmth = rng.normal(0, 0.04)
    tint = np.array([1 + warmth, 1.0, 1 - warmth])
    key = (0.55 if soft else 0.85) * rng.uniform(0.9, 1.1)
    fill = (0.35 if soft else 0.18) * rng.uniform(0.8, 1.2)
    sky = (0.55 if soft else 0.35) * rng.uniform(0.85, 1.15)
    return Lighting(
        key=Light(key_dir, key * tint),
        fill=Light(fill_dir, fill * tint),
        sky=sky * tint,
        ground=0.45 * sky * tint * np.array([1.0, 0.95, 0.9]),
        exposure=float(rng.uniform(0.95, 1.15)),
    )


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head rotation (degrees): yaw about +y, pitch about +x (positive looks up), roll about +z."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


class FaceRenderer:
    """Renders the ICT model's faces; holds the per-model geometry (triangles, UV layout)."""

    def __init__(self, model: FaceModel, texture_size: int = 512, supersample: int = 2, ao_resolution: int = 96):
        self.model = model
        self.supersample = supersample
        self.ao_resolution = ao_resolution
        self.layout: UVLayout = build_uv_layout(model, texture_size)
        self.triangles = model.triangles(RENDERED_MATERIALS)
        names = model.material_names
        materials = [names[index] for index in self.triangles.material]
        offsets = np.array([MATERIAL_TILES[name][1] for name in materials], dtype=np.float32)
        corner_uv = model.uv[self.triangles.uv].copy()  # (T, 3, 2)
        corner_uv[..., 0] += offsets[:, None]
        tiles = len(TILE_NAMES)
        size = texture_size
        # atlas pixel coordinates (pixel centres at integers) of every triangle corner
        self.corner_texel = np.stack(
            [corner_uv[..., 0] / tiles * (tiles * size) - 0.5, (1 - corner_uv[..., 1]) * size - 0.5], axis=-1
        ).astype(np.float32)
        shading = np.array([MATERIAL_SHADING[name] for name in materials], dtype=np.float32)
        self.tri_specular, self.tri_shininess, self.tri_wrap = shading[:, 0], shading[:, 1], shading[:, 2]
        self.tri_is_eye = np.array([name.startswith(("M_Sclera", "M_Iris")) for name in materials])
        self.used_vertices = np.unique(self.triangles.vertices)
        landmarks = model.landmark_vertices
        self._face_centre_ids = landmarks[[36, 39, 42, 45, 48, 54]]
        neutral = model.neutral
        self._pivot = np.array([0.0, neutral[landmarks, 1].mean(), neutral[landmarks[[0, 16]], 2].mean() - 4.0])
        self.tri_is_face = self.triangles.material == names.index("M_Face")

    # ----------------------------------------------------------------------------------------

    def render(
        self,
        scene: IdentityScene,
        expression_weights: dict[str, float],
        size: int,
        keep_fragments: bool = False,
    ) -> Rendering:
        """Render one expression of a scene into an aligned S x S crop with its 68 points.

        `expression_weights` are ICT blendshape weights (see recipes.blendshape_weights); they are
        added to the scene's resting-face weights. Deterministic: the same scene and weights give
        the same pixels.
        """
        weights = dict(scene.rest_weights)
        for name, value in expression_weights.items():
            weights[name] = weights.get(name, 0.0) + value
        mesh = self.model.apply_expression(scene.shape, weights)
        camera = self._to_camera(mesh, scene)
        photo = self._project_to_photo(camera, scene)
        landmarks = self.model.landmark_vertices
        alignment = align_face(photo[landmarks], size)
        k = self.supersample
        to_render = np.vstack([alignment.matrix * k, [0, 0, 1]])
        to_render[:2, 2] += (k - 1) / 2  # pixel centres: x_k = k * (x + 0.5) - 0.5
        screen = photo @ to_render[:2, :2].T + to_render[:2, 2]
        depth = -camera[:, 2]
        render_size = size * k
        fragments = rasterize(screen, depth, self.triangles.vertices, (render_size, render_size))

        image = self._background(scene, to_render, render_size)
        self._shade(image, fragments, camera, scene, expression_weights)
        if k > 1:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        image = self._finish(image, _noise_seed(scene.noise_seed, expression_weights))
        points = alignment.to_crop(photo[landmarks]).astype(np.float32)
        visible = self._landmark_visibility(fragments, screen[landmarks], depth[landmarks], landmarks)
        return Rendering(
            image=image,
            points68=points,
            visible68=visible,
            alignment=alignment,
            photo_points68=photo[landmarks],
            fragments=fragments if keep_fragments else None,
        )

    def _to_camera(self, mesh: np.ndarray, scene: IdentityScene) -> np.ndarray:
        """Model -> camera space: rotate about the head's pivot, put the face centre on the axis."""
        rotation = rotation_matrix(scene.yaw, scene.pitch, scene.roll)
        rotated = (mesh - self._pivot) @ rotation.T
        centre = rotated[self._face_centre_ids].mean(axis=0)
        return rotated - [centre[0], centre[1], 0.0] - [0.0, 0.0, scene.camera_distance + centre[2]]

    def _project_to_photo(self, camera: np.ndarray, scene: IdentityScene) -> np.ndarray:
        focal = PHOTO_PX_PER_CM * scene.camera_distance
        w = -camera[:, 2]
        centre = (PHOTO_SIZE - 1) / 2
        return np.stack([centre + focal * camera[:, 0] / w, centre - focal * camera[:, 1] / w], axis=1)

    def _landmark_visibility(
        self, fragments: Fragments, screen: np.ndarray, depth: np.ndarray, landmarks: np.ndarray
    ) -> np.ndarray:
        """A landmark is visible when the surface drawn at its pixel is its own (or within 0.3 cm)."""
        height, width = fragments.triangle.shape
        col = np.rint(screen[:, 0]).astype(np.int64)
        row = np.rint(screen[:, 1]).astype(np.int64)
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        col, row = np.clip(col, 0, width - 1), np.clip(row, 0, height - 1)
        seen_depth = fragments.depth[row, col]
        tri = fragments.triangle[row, col]
        own = (tri >= 0) & (self.triangles.vertices[np.maximum(tri, 0)] == landmarks[:, None]).any(axis=1)
        return inside & (own | (depth <= seen_depth + 0.3))

    # ----------------------------------------------------------------------------------------

    def _occlusion(self, camera: np.ndarray, key_direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-vertex ambient occlusion (mean visibility over AO_DIRECTIONS, cosine-weighted by the
        normal) and key-light visibility."""
        tris = self.triangles.vertices
        normals = vertex_normals(camera, tris)
        weights_sum = np.zeros(len(camera), np.float32)
        visible_sum = np.zeros(len(camera), np.float32)
        for direction in AO_DIRECTIONS:
            cosine = np.clip(normals @ direction, 0, None).astype(np.float32)
            visible = vertex_visibility(camera, tris, direction, self.ao_resolution, 0.12, self.used_vertices)
            weights_sum += cosine
            visible_sum += cosine * visible
        ao = np.where(weights_sum > 1e-6, visible_sum / np.maximum(weights_sum, 1e-6), 1.0)
        shadow = vertex_visibility(camera, tris, key_direction, self.ao_resolution * 2, 0.12, self.used_vertices)
        return ao.astype(np.float32), shadow

    def _shade(
        self,
        image: np.ndarray,
        fragments: Fragments,
        camera: np.ndarray,
        scene: IdentityScene,
        expression_weights: dict[str, float],
    ) -> None:
        """Linear-light shading of the covered pixels, written into `image` (float32 sRGB 0..1)."""
        light = scene.lighting
        tris = self.triangles.vertices
        normals = vertex_normals(camera, tris)
        ao, shadow = self._occlusion(camera, light.key.direction)
        covered = fragments.mask
        tri = fragments.triangle[covered]
        bary = fragments.bary[covered]

        def interp(values: np.ndarray) -> np.ndarray:
            corners = tris[tri]
            return (
                bary[:, 0:1] * values[corners[:, 0]]
                + bary[:, 1:2] * values[corners[:, 1]]
                + bary[:, 2:3] * values[corners[:, 2]]
            )

        normal = interp(normals)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        position = interp(camera.astype(np.float32))
        view = -position / np.maximum(np.linalg.norm(position, axis=1, keepdims=True), 1e-9)
        occlusion = interp(np.stack([ao, shadow], axis=1))
        ambient_occ, key_vis = occlusion[:, 0:1], occlusion[:, 1:2]
        texel = np.einsum("nk,nkc->nc", bary, self.corner_texel[tri])
        rgba = _bilinear(scene.atlas, texel)
        albedo, specular_scale = rgba[:, :3] ** GAMMA, rgba[:, 3]
        crease = np.zeros((len(tri), 1), np.float32)
        activation = wrinkle_activations(expression_weights)
        if activation.any():
            on_face = self.tri_is_face[tri]
            # a plain sum over the active channels: no BLAS call (its threads spin on a busy machine)
            combined = sum(value * scene.wrinkles[index] for index, value in enumerate(activation) if value > 0)
            crease[on_face, 0] = _bilinear(combined[..., None], texel[on_face])[:, 0]
        creased = 1 - WRINKLE_DARKNESS * np.clip(crease, 0, 1)

        wrap = self.tri_wrap[tri][:, None] * WRAP_RGB
        n_dot_key = normal @ light.key.direction
        diffuse_key = np.clip((n_dot_key[:, None] + wrap) / (1 + wrap), 0, None) * key_vis
        n_dot_fill = np.clip(normal @ light.fill.direction, 0, None)[:, None]
        up = 0.5 + 0.5 * normal[:, 1:2]
        ambient = (light.ground * (1 - up) + light.sky * up) * ambient_occ
        irradiance = (
            light.key.colour * diffuse_key + light.fill.colour * n_dot_fill * (0.4 + 0.6 * ambient_occ) + ambient
        )
        irradiance = irradiance * creased

        specular_strength = self.tri_specular[tri] * specular_scale * creased[:, 0]
        shininess = self.tri_shininess[tri]
        half = light.key.direction + view
        half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-9)
        n_dot_half = np.clip(np.sum(normal * half, axis=1), 0, 1)
        fresnel = 1 + 2 * (1 - np.clip(np.sum(normal * view, axis=1), 0, 1)) ** 5
        specular = (specular_strength * fresnel * n_dot_half**shininess * (n_dot_key > 0))[:, None]
        specular = specular * key_vis * light.key.colour + specular * 0.3 * ambient_occ * light.sky
        colour = (albedo * irradiance + specular) * light.exposure
        colour *= self._eye_contact_shadow(fragments, tri)
        face = np.clip(colour, 0, 1) ** (1 / GAMMA)

        image[covered] = face

    def _eye_contact_shadow(self, fragments: Fragments, tri: np.ndarray) -> np.ndarray:
        """Darkening of the eyeballs near the lids, (n, 1) per covered pixel.

        The model's eye-occlusion mesh (a transparency overlay, not rendered) is what shades the
        eyeball where the lids meet it; without it the sclera looks pasted on and the eyes stare.
        A screen-space stand-in: blur the eyeball pixels' mask; where little eyeball surrounds a
        pixel, it is close to a lid and gets darker.
        """
        is_eye = self.tri_is_eye[tri]
        factor = np.ones((len(tri), 1), np.float32)
        if not is_eye.any():
            return factor
        mask = np.zeros(fragments.triangle.shape, np.float32)
        mask[fragments.mask] = is_eye
        sigma = max(1.0, fragments.triangle.shape[0] / 110)
        around = cv2.GaussianBlur(mask, (0, 0), sigma)[fragments.mask][is_eye]
        factor[is_eye, 0] = 0.35 + 0.65 * np.clip((around - 0.25) / 0.55, 0, 1)
        return factor

    def _background(self, scene: IdentityScene, to_render: np.ndarray, size: int) -> np.ndarray:
        """The person's backdrop warped from the virtual photo into the render's pixels."""
        pixels_per_texel = PHOTO_SIZE / BACKDROP_SIZE
        # backdrop texel b -> photo pixel (b + 0.5) * P / B - 0.5 -> render pixel
        texel_to_photo = np.array(
            [
                [pixels_per_texel, 0, 0.5 * pixels_per_texel - 0.5],
                [0, pixels_per_texel, 0.5 * pixels_per_texel - 0.5],
                [0, 0, 1],
            ]
        )
        matrix = (to_render @ texel_to_photo)[:2]
        return cv2.warpAffine(
            scene.backdrop, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    def _finish(self, image: np.ndarray, seed: int) -> np.ndarray:
        """Sensor noise and 8-bit quantisation (deterministic for `seed`)."""
        rng = np.random.default_rng(seed)
        noisy = image + rng.normal(0, 0.008, image.shape).astype(np.float32)
        return np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)


def _noise_seed(scene_seed: int, expression_weights: dict[str, float]) -> int:
    """A per-image seed: the scene's, mixed with the expression (so each image has its own grain)."""
    text = ",".join(f"{name}={value:.6f}" for name, value in sorted(expression_weights.items()))
    return (scene_seed * 1_000_003 + zlib.crc32(text.encode())) % 2**63


def _bilinear(texture: np.ndarray, texel: np.ndarray) -> np.ndarray:
    """Bilinear lookup of (n, 2) texel coordinates (x, y; pixel centres at integers), clamped."""
    height, width = texture.shape[:2]
    x = np.clip(texel[:, 0], 0, width - 1)
    y = np.clip(texel[:, 1], 0, height - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x0 + 1] * fx
    bottom = texture[y0 + 1, x0] * (1 - fx) + texture[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy
