"""The inside of the mouth from the 3D face model: teeth, gums, tongue and the mouth socket.

A warp can only move the photo's own pixels; when an expression opens a closed mouth, what
appears between the lips was never photographed. The ICT model has that geometry (teeth,
gums and tongue, the socket behind them), attached to the skull and the jaw and moved by the
same blendshapes as the lips. Fitted to the edited face's target points, it says where the
upper and lower teeth sit in the opening and how deep each pixel of the cavity is, at any
resolution (see lgan_cli/faces/mouth_interior.py for the pixels).

Only the ~9,400 interior vertices are kept (the mean, the fit's identity modes and its
blendshapes, float32, ~5 MB), cut once per model file and cached like the landmark basis.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

import numpy as np

from lgan_cli.geometry.cache import cached_cut, check_arrays
from lgan_cli.geometry.fit import FIT_BLENDSHAPES, FaceFit, FitConfig
from lgan_cli.synth.facemodel import VERTEX_RANGES, FaceModel, shared_face_model

#: Part ids of MouthMesh.part, back to front.
SOCKET, GUMS_TONGUE, TEETH = 0, 1, 2
PART_RANGES = {SOCKET: "mouth_socket", GUMS_TONGUE: "gums_tongue", TEETH: "teeth"}
UPPER_INNER_LIP, LOWER_INNER_LIP = (61, 62, 63), (65, 66, 67)  # iBUG points that carry each jaw's teeth


@dataclass(frozen=True)
class MouthMesh:
    """The mouth's interior cut out of the ICT model (float32, model units: cm, +y up, +z out)."""

    mean: np.ndarray  # (V, 3)
    identity: np.ndarray  # (K, V, 3) the first K identity modes
    expression: np.ndarray  # (E, V, 3) the fit's blendshapes, in FIT_BLENDSHAPES order
    triangles: np.ndarray  # (T, 3) indices into the V vertices
    part: np.ndarray  # (T,) SOCKET, GUMS_TONGUE or TEETH
    jaw: np.ndarray  # (V,) 0 for a vertex fixed to the skull .. 1 for one that follows the jaw
    lip_mean: np.ndarray  # (68, 3) the model's own landmark vertices (the 'ict' convention)
    lip_identity: np.ndarray  # (K, 68, 3)
    lip_expression: np.ndarray  # (E, 68, 3)

    def pose(self, fit: FaceFit, shift: float = 0.0) -> PosedMouth:
        """The interior of `fit`'s face (its identity, expression and pose) in its pixel frame.

        The model's inner-lip vertices and a detector's inner-lip points differ by a few
        pixels; each jaw's teeth are shifted by the mean difference of its lip's three inner
        points, so the upper teeth hang from the photo's upper lip and the lower teeth rise
        from its lower lip. `shift` moves the whole interior down (px; negative: up).
        """
        k = len(fit.identity)
        if k > len(self.identity) or tuple(fit.expression_names) != FIT_BLENDSHAPES:
            raise ValueError("the fit must use the default FitConfig's identity modes and blendshapes")
        a = fit.identity.astype(np.float32)
        e = fit.expression.astype(np.float32)
        mesh = self.mean + np.tensordot(a, self.identity[:k], axes=1) + np.tensordot(e, self.expression, axes=1)
        lips = (
            self.lip_mean
            + np.tensordot(a, self.lip_identity[:k], axes=1)
            + np.tensordot(e, self.lip_expression, axes=1)
        )
        projected_lips = fit.pose.project(lips)
        upper = (fit.points[list(UPPER_INNER_LIP)] - projected_lips[list(UPPER_INNER_LIP)]).mean(axis=0)
        lower = (fit.points[list(LOWER_INNER_LIP)] - projected_lips[list(LOWER_INNER_LIP)]).mean(axis=0)
        upper[1] += shift
        lower[1] += shift
        xy = fit.pose.project(mesh) + (1 - self.jaw)[:, None] * upper + self.jaw[:, None] * lower
        camera = mesh @ fit.pose.rotation.T.astype(np.float32)
        # depth in pixels, away from the viewer, 0 at the inner lips (the opening's plane)
        lip_depth = -(lips[60:68] @ fit.pose.rotation.T)[:, 2].mean()
        depth = (-camera[:, 2] - lip_depth) * fit.pose.scale
        return PosedMouth(xy=xy, depth=depth, normals=vertex_normals(camera, self.triangles), mesh=self)


@dataclass(frozen=True)
class PosedMouth:
    """A fitted interior in a photo: per vertex pixel position, depth (px behind the lips) and
    camera-space normal."""

    xy: np.ndarray  # (V, 2)
    depth: np.ndarray  # (V,)
    normals: np.ndarray  # (V, 3) unit, camera space, +z towards the viewer
    mesh: MouthMesh


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, unit length (outward for the model's winding)."""
    p0, p1, p2 = (vertices[triangles[:, i]] for i in range(3))
    face = np.cross(p1 - p0, p2 - p0)
    normals = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(normals, triangles[:, i], face)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)


def cut_mouth_mesh(model: FaceModel, identity_modes: int = FitConfig().identity_modes) -> MouthMesh:
    """Cut the interior's vertices, triangles and modes out of `model` (~0.3 s)."""
    triangles = model.triangles()
    part = np.full(len(triangles.vertices), -1)
    for part_id, region in PART_RANGES.items():
        lo, hi = VERTEX_RANGES[region]
        part[np.all((triangles.vertices >= lo) & (triangles.vertices < hi), axis=1)] = part_id
    chosen = part >= 0
    used = np.unique(triangles.vertices[chosen])
    local = np.full(model.neutral.shape[0], -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    deltas = np.stack([model.expression_delta(name) for name in FIT_BLENDSHAPES]).astype(np.float32)
    jaw = np.linalg.norm(model.expression_delta("jawOpen")[used], axis=1)
    landmarks = model.landmark_vertices
    return MouthMesh(
        mean=model.neutral[used].astype(np.float32),
        identity=model.identity_deltas[:identity_modes, used].astype(np.float32),
        expression=deltas[:, used],
        triangles=local[triangles.vertices[chosen]],
        part=part[chosen],
        jaw=(jaw / max(float(jaw.max()), 1e-9)).astype(np.float32),
        lip_mean=model.neutral[landmarks].astype(np.float32),
        lip_identity=model.identity_deltas[:identity_modes, landmarks].astype(np.float32),
        lip_expression=deltas[:, landmarks],
    )


def _cached_mouth_mesh(model: FaceModel) -> MouthMesh:
    """`cut_mouth_mesh`, kept on disk between runs (geometry/cache.py)."""

    def check(arrays: dict[str, np.ndarray]) -> None:
        check_arrays(
            arrays,
            {
                "mean": ("V", 3),
                "identity": ("K", "V", 3),
                "expression": (len(FIT_BLENDSHAPES), "V", 3),
                "triangles": ("T", 3),
                "part": ("T",),
                "jaw": ("V",),
                "lip_mean": (68, 3),
                "lip_identity": ("K", 68, 3),
                "lip_expression": (len(FIT_BLENDSHAPES), 68, 3),
            },
        )
        triangles = arrays["triangles"]
        if (
            triangles.min() < 0
            or triangles.max() >= len(arrays["mean"])
            or not set(np.unique(arrays["part"]))
            <= {
                SOCKET,
                GUMS_TONGUE,
                TEETH,
            }
        ):
            raise ValueError("triangles or parts out of range")

    arrays = cached_cut("mouth", model.source_path, lambda: asdict(cut_mouth_mesh(model)), check)
    return MouthMesh(**arrays)


_CACHE: dict[str, MouthMesh] = {}
_LOCK = threading.Lock()


def mouth_mesh(model: FaceModel | None = None) -> MouthMesh:
    """The interior of the default (or given) face model, cut on first use and cached per file."""
    model = model if model is not None else shared_face_model()
    key = str(model.source_path)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _cached_mouth_mesh(model)
        return _CACHE[key]
