"""The face's skin from the 3D face model, and how an expression turns it towards the light.

A warp moves the photo's pixels to where an expression puts them, but a smile also folds the
skin: the cheeks bulge and the fold from the nose to the mouth's corners deepens, and the photo
shows that as shading, which no warp can add. The ICT model's blendshapes carry those shapes.
Fitted to the face (identity, pose) and posed with the source's and the target's expression,
the ratio of the two surfaces' light, vertex by vertex, says how much darker or brighter each
bit of skin gets (lgan_cli/faces/expression_shading.py puts it into the photo's pixels): an
expression ratio image (Liu, Shan and Zhang, "Expressive expression mapping with ratio
images", SIGGRAPH 2001), from the model instead of a second photo.

Only the skin's ~9,400 vertices are kept (material M_Face: face, scalp, ears and neck; the mean,
the fit's identity modes and its blendshapes, float32, ~5 MB), cut once per model file and
cached like the mouth's interior.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

import numpy as np

from lgan_cli.geometry.cache import cached_cut, check_arrays
from lgan_cli.geometry.fit import FIT_BLENDSHAPES, FaceFit, FitConfig
from lgan_cli.geometry.mouth import vertex_normals
from lgan_cli.synth.facemodel import FaceModel, shared_face_model

SKIN_MATERIAL = "M_Face"


@dataclass(frozen=True)
class SkinMesh:
    """The skin cut out of the ICT model (float32, model units: cm, +y up, +z out)."""

    mean: np.ndarray  # (V, 3)
    identity: np.ndarray  # (K, V, 3) the first K identity modes
    expression: np.ndarray  # (E, V, 3) the fit's blendshapes, in FIT_BLENDSHAPES order
    triangles: np.ndarray  # (T, 3) indices into the V vertices

    def vertices(self, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """(V, 3) the skin of a face with these identity and FIT_BLENDSHAPES weights (model frame)."""
        a = np.asarray(identity, dtype=np.float32)
        e = np.asarray(expression, dtype=np.float32)
        if len(a) > len(self.identity) or e.shape != (len(self.expression),):
            raise ValueError(
                f"need at most {len(self.identity)} identity weights and {len(self.expression)} blendshape weights"
            )
        return self.mean + np.tensordot(a, self.identity[: len(a)], axes=1) + np.tensordot(e, self.expression, axes=1)

    def posed(self, fit: FaceFit, expression: np.ndarray | None = None) -> PosedSkin:
        """The skin of `fit`'s face (its identity and pose) with `expression` (None: the fit's own)
        in the fit's pixel frame."""
        if tuple(fit.expression_names) != FIT_BLENDSHAPES:
            raise ValueError("the fit must use the default FitConfig's blendshapes")
        weights = fit.expression if expression is None else expression
        model = self.vertices(fit.identity, weights)
        camera = model @ fit.pose.rotation.T
        return PosedSkin(
            xy=fit.pose.project(model),
            depth=-camera[:, 2] * fit.pose.scale,
            normals=vertex_normals(camera, self.triangles),
            mesh=self,
        )


@dataclass(frozen=True)
class PosedSkin:
    """A fitted skin in a photo: per vertex pixel position, depth (px, away from the viewer) and
    camera-space unit normal (+z towards the viewer)."""

    xy: np.ndarray  # (V, 2)
    depth: np.ndarray  # (V,)
    normals: np.ndarray  # (V, 3)
    mesh: SkinMesh


def cut_skin_mesh(model: FaceModel, identity_modes: int = FitConfig().identity_modes) -> SkinMesh:
    """Cut the skin's vertices, triangles and modes out of `model` (~0.3 s)."""
    triangles = model.triangles((SKIN_MATERIAL,)).vertices
    used = np.unique(triangles)
    local = np.full(model.neutral.shape[0], -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    deltas = np.stack([model.expression_delta(name)[used] for name in FIT_BLENDSHAPES]).astype(np.float32)
    return SkinMesh(
        mean=model.neutral[used].astype(np.float32),
        identity=model.identity_deltas[:identity_modes, used].astype(np.float32),
        expression=deltas,
        triangles=local[triangles],
    )


def _cached_skin_mesh(model: FaceModel) -> SkinMesh:
    """`cut_skin_mesh`, kept on disk between runs (geometry/cache.py)."""

    def check(arrays: dict[str, np.ndarray]) -> None:
        check_arrays(
            arrays,
            {
                "mean": ("V", 3),
                "identity": ("K", "V", 3),
                "expression": (len(FIT_BLENDSHAPES), "V", 3),
                "triangles": ("T", 3),
            },
        )
        triangles = arrays["triangles"]
        if triangles.min() < 0 or triangles.max() >= len(arrays["mean"]):
            raise ValueError("triangles out of range")

    return SkinMesh(**cached_cut("skin", model.source_path, lambda: asdict(cut_skin_mesh(model)), check))


_CACHE: dict[str, SkinMesh] = {}
_LOCK = threading.Lock()


def skin_mesh(model: FaceModel | None = None) -> SkinMesh:
    """The skin of the default (or given) face model, cut on first use and cached per file."""
    model = model if model is not None else shared_face_model()
    key = str(model.source_path)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _cached_skin_mesh(model)
        return _CACHE[key]
