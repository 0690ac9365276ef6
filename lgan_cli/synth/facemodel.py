"""The ICT-FaceKit light morphable face model: loading it and building meshes.

A mesh is `neutral + sum_i a_i * identity_deltas[i] + sum_j e_j * expression_deltas[j]`
(identity weights a_i ~ N(0, 1), expression weights e_j in [0, 1], ARKit blendshape names).

Two sources give the same model: the packed `ict_face_model_light.npz` (see
../shared/datasets/ict_facekit/README.md and `scripts/pack_ict_facekit.py`), or an
ICT-FaceKit checkout's `FaceXModel/` folder, read directly: `generic_neutral_mesh.obj`
(vertices, uvs, polygons, `usemtl` groups), `identityNNN.obj` and one OBJ per expression
blendshape (full meshes on the same topology; a mode is its mesh minus the neutral one), and
`vertex_indices.json` (`expressions`: the blendshape names in order; `idx_to_landmark_verts`:
the 68 landmark vertices). Arrays are read on first use only: a folder's expression OBJs
one by one as a recipe asks for them, so rendering a few expressions never parses all 154
OBJ files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from lgan_cli.assets import find_verified
from lgan_cli.errors import LganError

NPZ_NAME = "ict_face_model_light.npz"
NPZ_SHA256 = (
    "25d55b3f37b18664353d77e9ac7e2466ad27f8e103cb8aadd9665fe174202fad"  # the bundled copy (weights/manifest.json)
)
FOLDER_NEUTRAL = "generic_neutral_mesh.obj"
FOLDER_INDICES = "vertex_indices.json"
ENV_VAR = "LGAN_ICT_FACEKIT"

#: Vertex ranges of the ICT topology (ICT-FaceKit documentation; see the dataset README).
VERTEX_RANGES: dict[str, tuple[int, int]] = {
    "face": (0, 9409),
    "head_neck": (9409, 11248),
    "mouth_socket": (11248, 13294),
    "eye_sockets": (13294, 14062),
    "gums_tongue": (14062, 17039),
    "teeth": (17039, 21451),
    "eyeballs": (21451, 24591),
    "eye_extras": (24591, 25351),  # lacrimal fluid, eye blend and occlusion meshes
    "eyelashes": (25351, 26719),
}


class FaceModelError(LganError):
    """The face model files are missing or malformed."""


def default_model_path() -> Path:
    """$LGAN_ICT_FACEKIT, else the bundled copy in weights/ (sha256-checked; every edit needs the
    model: the fit behind the geometry, the mouth's interior), else
    ../shared/datasets/ict_facekit next to the project checkout."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    bundled = find_verified(NPZ_NAME, NPZ_SHA256, f"git checkout weights/{NPZ_NAME}")
    if bundled is not None:
        return bundled
    return Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "ict_facekit" / NPZ_NAME


# --------------------------------------------------------------------------------------------
# OBJ reading (shared with scripts/pack_ict_facekit.py)


@dataclass(frozen=True)
class ObjMesh:
    """The parts of an OBJ file the face model uses; polygons padded to 4 corners with -1."""

    vertices: np.ndarray  # (V, 3) float64
    uv: np.ndarray  # (U, 2) float64
    faces: np.ndarray  # (F, 4) int32, 0-based, -1 in the last slot for a triangle
    face_uv: np.ndarray  # (F, 4) int32, same layout (-1 where a corner has no uv)
    face_material: np.ndarray  # (F,) int16 index into material_names
    material_names: tuple[str, ...]


def read_obj_vertices(path: Path) -> np.ndarray:
    """Only the `v` lines of an OBJ file, (V, 3) float64: all a blendshape target needs."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise FaceModelError(f"cannot read {path}: {exc}") from None
    rows = [line[2:] for line in text.splitlines() if line.startswith("v ")]
    try:
        values = np.array(" ".join(rows).split(), dtype=np.float64)
        return values.reshape(len(rows), -1)[:, :3]
    except ValueError as exc:
        raise FaceModelError(f"{path}: malformed vertex lines ({exc})") from None


def read_obj(path: Path) -> ObjMesh:
    """Vertices, texture coordinates, polygons (3 or 4 corners) and `usemtl` groups of an OBJ."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise FaceModelError(f"cannot read {path}: {exc}") from None
    vertices, uvs, faces, face_uv, materials = [], [], [], [], []
    names: dict[str, int] = {}
    current = -1  # no usemtl seen yet
    for number, line in enumerate(lines, 1):
        if line.startswith("v "):
            vertices.append(line[2:].split()[:3])
        elif line.startswith("vt "):
            uvs.append(line[3:].split()[:2])
        elif line.startswith("usemtl"):
            name = line.split(maxsplit=1)[1].strip() if len(line.split()) > 1 else "default"
            current = names.setdefault(name, len(names))
        elif line.startswith("f "):
            corners = line[2:].split()
            if not 3 <= len(corners) <= 4:
                raise FaceModelError(f"{path}:{number}: polygons must have 3 or 4 corners, got {len(corners)}")
            v_ids, t_ids = [-1] * 4, [-1] * 4
            for slot, corner in enumerate(corners):
                parts = corner.split("/")
                v_ids[slot] = _obj_index(parts[0], len(vertices), path, number)
                if len(parts) > 1 and parts[1]:
                    t_ids[slot] = _obj_index(parts[1], len(uvs), path, number)
            if current < 0:
                current = names.setdefault("default", len(names))
            faces.append(v_ids)
            face_uv.append(t_ids)
            materials.append(current)
    if not vertices or not faces:
        raise FaceModelError(f"{path} holds no mesh (no vertices or no faces)")
    return ObjMesh(
        vertices=np.array(vertices, dtype=np.float64),
        uv=np.array(uvs, dtype=np.float64).reshape(-1, 2),
        faces=np.array(faces, dtype=np.int32),
        face_uv=np.array(face_uv, dtype=np.int32),
        face_material=np.array(materials, dtype=np.int16),
        material_names=tuple(sorted(names, key=names.get)),
    )


def _obj_index(text: str, count: int, path: Path, number: int) -> int:
    """OBJ indices are 1-based; negative ones count back from the last element read so far."""
    try:
        value = int(text)
    except ValueError:
        raise FaceModelError(f"{path}:{number}: bad index {text!r}") from None
    return value - 1 if value > 0 else count + value


# --------------------------------------------------------------------------------------------
# model sources


class _NpzSource:
    """The packed model: every array under its README name, read from the archive on first use."""

    def __init__(self, path: Path):
        try:
            self._archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise FaceModelError(f"cannot read face model {path}: {exc}") from None
        required = {
            "neutral",
            "identity_deltas",
            "expression_deltas",
            "expression_names",
            "landmark_vertices",
            "faces",
            "uv",
            "face_uv",
            "face_material",
            "material_names",
        }
        missing = sorted(required - set(self._archive.files))
        if missing:
            raise FaceModelError(f"{path} is not a packed ICT face model (missing {', '.join(missing)})")

    def array(self, name: str) -> np.ndarray:
        return self._archive[name]

    def expression_names(self) -> tuple[str, ...]:
        return tuple(str(name) for name in self._archive["expression_names"])

    def expression_delta(self, index: int, name: str, neutral: np.ndarray) -> np.ndarray:
        return self._all_expressions[index]

    @cached_property
    def _all_expressions(self) -> np.ndarray:
        return self._archive["expression_deltas"]

    def identity_deltas(self, neutral: np.ndarray) -> np.ndarray:
        return self._archive["identity_deltas"]


class _FolderSource:
    """An ICT-FaceKit `FaceXModel/` folder, parsed lazily (one OBJ per blendshape)."""

    def __init__(self, folder: Path):
        self.folder = folder
        neutral_path = folder / FOLDER_NEUTRAL
        if not neutral_path.is_file():
            raise FaceModelError(f"{folder} is not an ICT-FaceKit FaceXModel folder (no {FOLDER_NEUTRAL})")
        self._mesh = read_obj(neutral_path)
        try:
            self._indices = json.loads((folder / FOLDER_INDICES).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise FaceModelError(f"cannot read {folder / FOLDER_INDICES}: {exc}") from None
        for key in ("expressions", "idx_to_landmark_verts"):
            if key not in self._indices:
                raise FaceModelError(f"{folder / FOLDER_INDICES} has no '{key}' entry")

    def array(self, name: str) -> np.ndarray:
        mesh = self._mesh
        if name == "neutral":
            return mesh.vertices.astype(np.float32)
        if name == "landmark_vertices":
            return np.asarray(self._indices["idx_to_landmark_verts"], dtype=np.int32)
        if name == "material_names":
            return np.asarray(mesh.material_names)
        if name in ("faces", "face_uv", "face_material"):
            return getattr(mesh, name)
        if name == "uv":
            return mesh.uv.astype(np.float32)
        raise KeyError(name)

    def expression_names(self) -> tuple[str, ...]:
        return tuple(self._indices["expressions"])

    def expression_delta(self, index: int, name: str, neutral: np.ndarray) -> np.ndarray:
        return self._delta(self.folder / f"{name}.obj", neutral)

    def identity_deltas(self, neutral: np.ndarray) -> np.ndarray:
        paths = []
        while (self.folder / f"identity{len(paths):03d}.obj").is_file():
            paths.append(self.folder / f"identity{len(paths):03d}.obj")
        if not paths:
            raise FaceModelError(f"{self.folder} has no identity000.obj")
        return np.stack([self._delta(path, neutral) for path in paths])

    def _delta(self, path: Path, neutral: np.ndarray) -> np.ndarray:
        vertices = read_obj_vertices(path)
        if vertices.shape != neutral.shape:
            raise FaceModelError(f"{path} has {len(vertices)} vertices, the neutral mesh {len(neutral)}")
        return (vertices - neutral).astype(np.float32)


# --------------------------------------------------------------------------------------------


@dataclass
class FaceModel:
    """The ICT light model; arrays load on first use. Meshes are (V, 3) float32, cm-like units,
    +y up, +z towards the viewer."""

    source_path: Path
    _source: object = field(repr=False)
    _expressions: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @cached_property
    def neutral(self) -> np.ndarray:
        return np.asarray(self._source.array("neutral"), dtype=np.float32)

    @cached_property
    def identity_deltas(self) -> np.ndarray:
        """(K, V, 3) float32 identity modes (read and converted once, ~32 MB)."""
        return np.asarray(self._source.identity_deltas(self.neutral.astype(np.float64)), dtype=np.float32)

    @cached_property
    def expression_names(self) -> tuple[str, ...]:
        return self._source.expression_names()

    @cached_property
    def landmark_vertices(self) -> np.ndarray:
        return np.asarray(self._source.array("landmark_vertices"), dtype=np.int64)

    @cached_property
    def faces(self) -> np.ndarray:
        return np.asarray(self._source.array("faces"), dtype=np.int64)

    @cached_property
    def uv(self) -> np.ndarray:
        return np.asarray(self._source.array("uv"), dtype=np.float32)

    @cached_property
    def face_uv(self) -> np.ndarray:
        return np.asarray(self._source.array("face_uv"), dtype=np.int64)

    @cached_property
    def face_material(self) -> np.ndarray:
        return np.asarray(self._source.array("face_material"), dtype=np.int64)

    @cached_property
    def material_names(self) -> tuple[str, ...]:
        return tuple(str(name) for name in self._source.array("material_names"))

    @property
    def num_identity_modes(self) -> int:
        return int(self.identity_deltas.shape[0])

    def expression_delta(self, name: str) -> np.ndarray:
        """One blendshape's (V, 3) vertex offsets, by ARKit name (e.g. 'mouthSmile_L').

        `name@region` restricts a blendshape to one part of the face (see `region_weights`),
        e.g. 'noseSneer_L@upper' is the sneer's brow and nose-root part without its lip raise.
        """
        if name not in self._expressions:
            base, _, region = name.partition("@")
            try:
                index = self.expression_names.index(base)
            except ValueError:
                raise FaceModelError(f"the face model has no blendshape named {base!r}") from None
            delta = np.asarray(self._source.expression_delta(index, base, self.neutral.astype(np.float64)), np.float32)
            if region:
                delta = delta * self.region_weights(region)[:, None]
            self._expressions[name] = delta
        return self._expressions[name]

    def region_weights(self, region: str) -> np.ndarray:
        """(V,) weights in 0..1 of a face region on the mean face: 'upper' (from the eyes up, a
        soft edge just above the eye centres) or 'lower' (its complement)."""
        if region not in ("upper", "lower"):
            raise FaceModelError(f"unknown face region {region!r}; known: upper, lower")
        eye_y = float(self.neutral[self.landmark_vertices[36:48], 1].mean())
        t = np.clip((self.neutral[:, 1] - (eye_y - 0.2)) / 0.9, 0.0, 1.0)
        upper = (t * t * (3 - 2 * t)).astype(np.float32)
        return upper if region == "upper" else 1 - upper

    def identity_shape(self, identity_weights: np.ndarray) -> np.ndarray:
        """The neutral-expression mesh of one identity: neutral + sum_i a_i * identity_deltas[i]."""
        weights = np.asarray(identity_weights, dtype=np.float32)
        modes = self.identity_deltas
        if weights.shape != (modes.shape[0],):
            raise ValueError(f"need {modes.shape[0]} identity weights, got shape {weights.shape}")
        return self.neutral + np.tensordot(weights, modes, axes=1)

    def apply_expression(self, shape: np.ndarray, expression_weights: dict[str, float]) -> np.ndarray:
        """`shape` + sum_j e_j * expression_deltas[j] for the named, non-zero weights."""
        out = np.array(shape, dtype=np.float32, copy=True)
        for name, weight in sorted(expression_weights.items()):
            if weight:
                out += np.float32(weight) * self.expression_delta(name)
        return out

    def mesh(self, identity_weights: np.ndarray, expression_weights: dict[str, float] | None = None) -> np.ndarray:
        return self.apply_expression(self.identity_shape(identity_weights), expression_weights or {})

    def material_index(self, name: str) -> int:
        try:
            return self.material_names.index(name)
        except ValueError:
            raise FaceModelError(f"the face model has no material {name!r}") from None

    def triangles(self, materials: tuple[str, ...] | None = None) -> Triangles:
        """The polygons of the chosen materials (all when None), split into triangles."""
        chosen = np.ones(len(self.faces), dtype=bool)
        if materials is not None:
            chosen = np.isin(self.face_material, [self.material_index(name) for name in materials])
        return triangulate(self.faces[chosen], self.face_uv[chosen], self.face_material[chosen], np.nonzero(chosen)[0])


@dataclass(frozen=True)
class Triangles:
    """Triangles with their uv corners, material and the polygon each came from."""

    vertices: np.ndarray  # (T, 3) vertex ids
    uv: np.ndarray  # (T, 3) uv ids
    material: np.ndarray  # (T,)
    polygon: np.ndarray  # (T,) index into the model's polygons


def triangulate(faces: np.ndarray, face_uv: np.ndarray, material: np.ndarray, polygon: np.ndarray) -> Triangles:
    """Quads (a, b, c, d) -> (a, b, c) + (a, c, d); triangles (d = -1) stay as they are.

    The split keeps each quad's winding, so front faces stay front faces.
    """
    quad = faces[:, 3] >= 0
    first = (faces[:, [0, 1, 2]], face_uv[:, [0, 1, 2]], material, polygon)
    second = (faces[quad][:, [0, 2, 3]], face_uv[quad][:, [0, 2, 3]], material[quad], polygon[quad])
    return Triangles(*(np.concatenate([a, b]) for a, b in zip(first, second)))


def shared_face_model(path: str | os.PathLike[str] | None = None) -> FaceModel:
    """One FaceModel per file for the edit-time users (the landmark basis, the mouth's interior),
    so the model's large arrays are read from disk once per process."""
    return _cached_face_model(str(Path(path).expanduser() if path is not None else default_model_path()))


@lru_cache(maxsize=4)
def _cached_face_model(path: str) -> FaceModel:
    return load_face_model(path)


def load_face_model(path: str | os.PathLike[str] | None = None) -> FaceModel:
    """The ICT model from the packed .npz, a FaceXModel/ folder, or a folder holding the .npz."""
    path = Path(path).expanduser() if path is not None else default_model_path()
    if path.is_dir() and (path / NPZ_NAME).is_file() and not (path / FOLDER_NEUTRAL).is_file():
        path = path / NPZ_NAME
    if path.is_dir():
        return FaceModel(source_path=path, _source=_FolderSource(path))
    if path.is_file():
        return FaceModel(source_path=path, _source=_NpzSource(path))
    raise FaceModelError(
        f"ICT-FaceKit model not found at {path}; point ${ENV_VAR} (or `lgan synth --ict`) at the packed "
        f"{NPZ_NAME} or a FaceXModel/ folder (a checkout bundles it in weights/)"
    )
