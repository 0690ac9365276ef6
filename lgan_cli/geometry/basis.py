"""The face model cut down to its 68 landmark vertices, computed once per model.

The fit and the transfer only ever need the 68 landmark rows of the mean shape, of the
identity modes and of the expression blendshapes (68x3 per mode): ~70 KB instead of the full
26,719-vertex model, so each face costs a few small matrix products and never touches a mesh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lgan_cli.geometry.cache import cached_cut, check_arrays
from lgan_cli.geometry.conventions import DEFAULT_CONVENTION, point_offset
from lgan_cli.synth.facemodel import FaceModel, shared_face_model
from lgan_cli.synth.recipes import AU_BLENDSHAPES


@dataclass(frozen=True)
class LandmarkBasis:
    """Landmark rows of the ICT model, float64.

    `expression` holds every model blendshape plus the region-restricted variants the AU table
    uses ('noseSneer_L@upper'), indexed by `expression_index`.
    """

    mean: np.ndarray  # (68, 3) neutral mesh at the landmark vertices
    identity: np.ndarray  # (K, 68, 3) identity modes
    expression: np.ndarray  # (E, 68, 3) blendshape offsets
    expression_names: tuple[str, ...]
    source: str  # where the model came from (for messages)

    @property
    def expression_index(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.expression_names)}

    def expression_rows(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """(len(names), 68, 3) offsets of the named blendshapes; unknown names are an error."""
        index = self.expression_index
        missing = [name for name in names if name not in index]
        if missing:
            raise ValueError(f"the face model has no blendshape named {', '.join(map(repr, missing))}")
        return self.expression[[index[name] for name in names]]

    def with_mean_offset(self, offset: np.ndarray | None) -> "LandmarkBasis":
        """The same basis with (68, 3) `offset` added to the mean shape (a landmark convention,
        see conventions.py); the modes are shared, not copied."""
        if offset is None:
            return self
        offset = np.asarray(offset, dtype=np.float64)
        if offset.shape != (68, 3):
            raise ValueError(f"a landmark offset is (68, 3), got {offset.shape}")
        return LandmarkBasis(self.mean + offset, self.identity, self.expression, self.expression_names, self.source)

    def shape(self, identity: np.ndarray, expression: dict[str, float] | None = None) -> np.ndarray:
        """(68, 3) landmark vertices of identity weights (the first len(identity) modes) plus
        named blendshape weights."""
        identity = np.asarray(identity, dtype=np.float64)
        out = self.mean + np.tensordot(identity, self.identity[: len(identity)], axes=1)
        if expression:
            names = [name for name, value in expression.items() if value]
            if names:
                weights = np.array([expression[name] for name in names], dtype=np.float64)
                out = out + np.tensordot(weights, self.expression_rows(names), axes=1)
        return out


def build_landmark_basis(model: FaceModel) -> LandmarkBasis:
    """Cut `model` down to its landmark rows (reads the full identity modes once, ~0.4 s)."""
    vertices = model.landmark_vertices
    if vertices.shape != (68,):
        raise ValueError(f"the face model has {vertices.shape} landmark vertices; need the 68 iBUG points")
    names = list(model.expression_names)
    names += sorted({name for shapes in AU_BLENDSHAPES.values() for name in shapes if "@" in name})
    expression = np.stack([model.expression_delta(name)[vertices] for name in names]).astype(np.float64)
    return LandmarkBasis(
        mean=model.neutral[vertices].astype(np.float64),
        identity=model.identity_deltas[:, vertices].astype(np.float64),
        expression=expression,
        expression_names=tuple(names),
        source=str(model.source_path),
    )


def _cached_landmark_basis(model: FaceModel) -> LandmarkBasis:
    """`build_landmark_basis`, kept on disk between runs (geometry/cache.py)."""

    def build() -> dict[str, np.ndarray]:
        basis = build_landmark_basis(model)
        names = np.array(basis.expression_names)
        return {"mean": basis.mean, "identity": basis.identity, "expression": basis.expression, "names": names}

    def check(arrays: dict[str, np.ndarray]) -> None:
        check_arrays(arrays, {"mean": (68, 3), "identity": ("K", 68, 3), "expression": ("E", 68, 3), "names": ("E",)})
        if arrays["names"].dtype.kind != "U":
            raise ValueError("expression names must be text")

    arrays = cached_cut("landmark-basis", model.source_path, build, check)
    return LandmarkBasis(
        mean=arrays["mean"].astype(np.float64),
        identity=arrays["identity"].astype(np.float64),
        expression=arrays["expression"].astype(np.float64),
        expression_names=tuple(str(name) for name in arrays["names"]),
        source=str(model.source_path),
    )


_CACHE: dict[tuple[str, str], LandmarkBasis] = {}
_LOCK = threading.Lock()


def landmark_basis(model: FaceModel | str | Path | None = None, points: str = DEFAULT_CONVENTION) -> LandmarkBasis:
    """The landmark basis of a model (a FaceModel, a path, or None for the default model) for
    points of the given convention ('mediapipe': this project's detector, 'ict': the model's
    own landmark vertices, e.g. synthetic faces); built on first use and cached per model file
    and convention: the only state this package keeps."""
    offset = point_offset(points)  # checks the name before any loading
    if not isinstance(model, FaceModel):
        model = shared_face_model(None if model is None else str(model))
    key = (str(model.source_path), points)
    with _LOCK:
        if key not in _CACHE:
            plain = _CACHE.get((key[0], "ict")) or _cached_landmark_basis(model)
            _CACHE[(key[0], "ict")] = plain
            _CACHE[key] = plain.with_mean_offset(offset)
        return _CACHE[key]
