"""Pack an ICT-FaceKit checkout's `FaceXModel/` folder into one `ict_face_model_light.npz`.

The packed layout is the one ../shared/datasets/ict_facekit/README.md describes and that
`lgan synth --ict` and `lgan_cli.synth.facemodel` read:

    neutral            (V, 3) float32   generic_neutral_mesh.obj's vertices
    identity_deltas    (K, V, 3) float16  identityNNN.obj - neutral, NNN = 000, 001, ... (all present)
    expression_deltas  (E, V, 3) float16  <name>.obj - neutral, names from vertex_indices.json "expressions"
    expression_names   (E,) str
    landmark_vertices  (68,) int32      vertex_indices.json "idx_to_landmark_verts"
    faces, face_uv     (F, 4) int32     polygons' vertex / uv indices, 0-based, -1 pads triangles
    uv                 (U, 2) float32   the neutral OBJ's `vt`
    face_material      (F,) int16       index into material_names (`usemtl` groups, first-use order)
    material_names     (M,) str

How FaceXModel stores the model (ICT-FaceKit's Scripts/face_model_io.py reads it the same way):
every shape is a full OBJ on the neutral mesh's topology, and a mode is that mesh minus the
neutral one; the expression list and the 68 landmark vertices come from vertex_indices.json.

What was verified: the real checkout cannot be downloaded here, so this script was tested
(tests/test_synth.py) on a small FaceXModel-style folder written from the packed model itself
(a patch of polygons with two materials, triangles and quads, 2 identity and 3 expression
OBJs, a vertex_indices.json); packing it back reproduced those arrays (deltas to float16
precision). The OBJ reader handles `v`, `vt`, `usemtl` and `f` with v, v/vt, v/vt/vn and v//vn
corners and negative indices; that the real files use only these (they were written by
OpenMesh / Maya) is from reading ICT-FaceKit's loader and a sample of generic_neutral_mesh.obj,
not from packing the full checkout and comparing with the shared .npz.

    python scripts/pack_ict_facekit.py ~/src/ICT-FaceKit/FaceXModel --out ict_face_model_light.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lgan_cli.synth.facemodel import FOLDER_NEUTRAL, FaceModelError, load_face_model  # noqa: E402


def pack(folder: Path, out: Path) -> dict[str, tuple[int, ...]]:
    """Read a FaceXModel folder and write the packed .npz; returns the shapes written."""
    folder = Path(folder)
    if not (folder / FOLDER_NEUTRAL).is_file():
        raise FaceModelError(f"{folder} is not an ICT-FaceKit FaceXModel folder (no {FOLDER_NEUTRAL})")
    model = load_face_model(folder)
    arrays = {
        "neutral": model.neutral.astype(np.float32),
        "identity_deltas": model.identity_deltas.astype(np.float16),
        "expression_deltas": np.stack([model.expression_delta(name) for name in model.expression_names]).astype(
            np.float16
        ),
        "expression_names": np.array(model.expression_names),
        "landmark_vertices": model.landmark_vertices.astype(np.int32),
        "faces": model.faces.astype(np.int32),
        "uv": model.uv.astype(np.float32),
        "face_uv": model.face_uv.astype(np.int32),
        "face_material": model.face_material.astype(np.int16),
        "material_names": np.array(model.material_names),
    }
    if len(arrays["landmark_vertices"]) != 68:
        raise FaceModelError(f"vertex_indices.json lists {len(arrays['landmark_vertices'])} landmarks, not 68")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(out.name + ".partial.npz")
    np.savez_compressed(temp, **arrays)
    temp.replace(out)
    return {name: tuple(array.shape) for name, array in arrays.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the checkout's FaceXModel/ folder")
    parser.add_argument("--out", type=Path, default=Path("ict_face_model_light.npz"))
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        shapes = pack(args.folder, args.out)
    except FaceModelError as exc:
        sys.exit(f"error: {exc}")
    for name, shape in shapes.items():
        print(f"{name:18s} {shape}")
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
