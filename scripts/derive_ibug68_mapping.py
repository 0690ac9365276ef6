"""Derive (and check) the MediaPipe-mesh -> iBUG-68 vertex table against dlib's 68-point predictor.

Method
  1. Run MediaPipe's Face Landmarker (478-vertex mesh) and dlib's 68-point shape predictor on
     every London photo (neutral_front/NNN_03.jpg and smiling_front/NNN_08.jpg). dlib's face
     box comes from its HOG detector on a 4x downscaled copy (mapped back to full size) or, if
     that misses, from the mesh extent. Results are cached in a .npz (`--cache`), so re-runs
     only do the arithmetic below.
  2. Split the people by id: odd ids FIT, even ids VALIDATION; both expressions of a person
     stay on the same side (mouth vertices move differently when smiling, so fitting on both
     expressions keeps the choice from favouring one).
  3. For each iBUG point i, pick the mesh vertex v minimising the mean over FIT photos of
     ||mesh[v].xy - dlib[i]|| / iod, with iod = dlib's outer-eye-corner distance (36-45).
     The choice is made mirror-symmetric: the FIT set is taken together with its horizontal
     mirror, i.e. the left/right pair (i, j = FLIP_PERMUTATION[i]) gets the vertices (v, m[v])
     minimising cost_i[v] + cost_j[m[v]], where m is the mesh's own left/right vertex mirror
     (found from the mean 3D mesh). Without this, near-ties (e.g. the inner mouth corners)
     can pick vertices that are not each other's mirror, and FLIP_PERMUTATION would stop matching
     a detection on the flipped photo. The jaw is a contour that slides with head pose, so no
     vertex matches it exactly; its residual error is expected.
  4. Report the NME (mean over photos of the mean over points of ||p - q|| / iod) on the
     VALIDATION photos for the current and the derived tables: all 68, inner 51 (17-67),
     and per region; list the indices that changed.

`--write` rewrites MESH_TO_IBUG68 in lgan_cli/faces/ibug68.py in place (same lines and
comments), and only when the derived table lowers the inner-51 validation NME.

Run:
    . .venv/bin/activate
    python scripts/derive_ibug68_mapping.py            # report only
    python scripts/derive_ibug68_mapping.py --write    # also update ibug68.py if better
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lgan_cli.faces import ibug68  # noqa: E402

IBUG68_PY = REPO / "lgan_cli" / "faces" / "ibug68.py"
DEFAULT_LONDON = REPO.parent / "shared" / "datasets" / "london"
EXPRESSIONS = (("neutral_front", "03"), ("smiling_front", "08"))
REGIONS = {
    "jaw": range(0, 17),
    "brows": range(17, 27),
    "nose": range(27, 36),
    "eyes": range(36, 48),
    "outer lips": range(48, 60),
    "inner lips": range(60, 68),
}
DOWNSCALE = 4  # dlib's HOG detector runs on a 1/4-size copy for speed


def dlib_models():
    import dlib

    root = importlib.util.find_spec("face_recognition_models").submodule_search_locations[0]
    predictor = dlib.shape_predictor(f"{root}/models/shape_predictor_68_face_landmarks.dat")
    return dlib, dlib.get_frontal_face_detector(), predictor


def dlib_points(rgb: np.ndarray, mesh_xy: np.ndarray, dlib, detector, predictor) -> tuple[np.ndarray, bool]:
    """dlib's 68 points for the largest face; the bool says whether dlib's own detector found the box."""
    h, w = rgb.shape[:2]
    small = np.asarray(Image.fromarray(rgb).resize((w // DOWNSCALE, h // DOWNSCALE), Image.BILINEAR))
    rects = detector(small, 1)
    if rects:
        r = max(rects, key=lambda r: r.area())
        box = [round(v * DOWNSCALE) for v in (r.left(), r.top(), r.right(), r.bottom())]
    else:  # fall back to the mesh extent (square, a bit below the brows, like dlib's boxes)
        (x0, y0), (x1, y1) = mesh_xy.min(0), mesh_xy.max(0)
        side = max(x1 - x0, y1 - y0) * 0.85
        cx, cy = (x0 + x1) / 2, y0 + (y1 - y0) * 0.58
        box = [round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)]
    shape = predictor(rgb, dlib.rectangle(*box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32), bool(rects)


def collect(london: Path) -> dict[str, np.ndarray]:
    """Run both detectors on every photo; photos where MediaPipe finds no face are skipped."""
    from lgan_cli.faces.detect import FaceDetector

    dlib, detector, predictor = dlib_models()
    ids, expr, meshes, dlib68, dlib_box = [], [], [], [], []
    with FaceDetector() as mp_detector:
        for e, (folder, suffix) in enumerate(EXPRESSIONS):
            for path in sorted((london / folder).glob(f"*_{suffix}.jpg")):
                rgb = np.asarray(Image.open(path).convert("RGB"))
                faces = mp_detector.detect(rgb)
                if not faces:
                    print(f"  no MediaPipe face in {path.name}; skipped")
                    continue
                pts, found = dlib_points(rgb, faces[0].mesh[:, :2], dlib, detector, predictor)
                ids.append(int(path.name.split("_")[0]))
                expr.append(e)
                meshes.append(faces[0].mesh)
                dlib68.append(pts)
                dlib_box.append(found)
    return {
        "ids": np.array(ids),
        "expr": np.array(expr),
        "mesh": np.array(meshes, np.float32),
        "dlib": np.array(dlib68, np.float32),
        "dlib_box": np.array(dlib_box),
    }


def nme(pred: np.ndarray, ref: np.ndarray, points=range(68)) -> float:
    """Mean over photos of the mean over `points` of ||pred - ref|| / iod(ref)."""
    iod = np.linalg.norm(ref[:, 36] - ref[:, 45], axis=-1)
    err = np.linalg.norm(pred - ref, axis=-1) / iod[:, None]
    return float(err[:, list(points)].mean())


def mesh_mirror(meshes: np.ndarray) -> np.ndarray:
    """m[v] = the vertex mirroring v: nearest neighbours between the mean 3D mesh and its
    reflection, after a rigid fit of the reflection (the mean face is only nearly upright)."""
    centred = meshes - meshes.mean(1, keepdims=True)
    shape = (centred / np.sqrt((centred**2).sum(-1).mean(-1))[:, None, None]).mean(0)
    mirrored = shape * np.array([-1.0, 1.0, 1.0])
    for _ in range(3):
        m = np.linalg.norm(mirrored[:, None] - shape[None], axis=-1).argmin(1)
        a, b = mirrored - mirrored.mean(0), shape[m] - shape[m].mean(0)
        u, _, vt = np.linalg.svd(a.T @ b)
        u[:, -1] *= np.sign(np.linalg.det(u @ vt))  # a rotation, not another reflection
        mirrored = a @ u @ vt + shape[m].mean(0)
    m = np.linalg.norm(mirrored[:, None] - shape[None], axis=-1).argmin(1)
    assert (m[m] == np.arange(len(m))).all(), "mesh mirror is not an involution"
    return m


def derive(mesh: np.ndarray, ref: np.ndarray, mirror: np.ndarray | None = None) -> tuple[int, ...]:
    """Per iBUG point, the mesh vertex with the lowest mean iod-normalised distance to dlib;
    with `mirror`, left/right pairs are chosen jointly as mirror vertices (see the docstring)."""
    iod = np.linalg.norm(ref[:, 36] - ref[:, 45], axis=-1)
    cost = np.stack(
        [(np.linalg.norm(mesh - ref[:, i : i + 1], axis=-1) / iod[:, None]).mean(0) for i in range(68)]
    )  # (68, 478)
    if mirror is not None:
        cost = cost + cost[list(ibug68.FLIP_PERMUTATION)][:, mirror]
    return tuple(int(v) for v in cost.argmin(1))


def write_table(table: tuple[int, ...]) -> None:
    """Replace the numbers in MESH_TO_IBUG68's data lines, keeping its lines and comments."""
    text = IBUG68_PY.read_text()
    block = re.search(r"MESH_TO_IBUG68: tuple\[int, \.\.\.\] = \(\n(.*?)\n\)\n", text, re.S)
    values = iter(table)
    lines = []
    for line in block.group(1).split("\n"):
        if not line.strip().startswith("#"):
            indent = line[: len(line) - len(line.lstrip())]
            count = len(re.findall(r"\d+", line))
            line = indent + ", ".join(str(next(values)) for _ in range(count)) + ","
        lines.append(line)
    assert next(values, None) is None, "table layout in ibug68.py does not have 68 entries"
    IBUG68_PY.write_text(text[: block.start(1)] + "\n".join(lines) + text[block.end(1) :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--london", type=Path, default=DEFAULT_LONDON)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lgan_mapping_cache.npz"))
    parser.add_argument("--refresh", action="store_true", help="ignore the cache and re-run both detectors")
    parser.add_argument("--write", action="store_true", help="update ibug68.py if the inner-51 NME improves")
    args = parser.parse_args()

    if args.cache.exists() and not args.refresh:
        data = dict(np.load(args.cache))
        print(f"loaded {len(data['ids'])} photos from {args.cache}")
    else:
        start = time.time()
        data = collect(args.london)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.cache, **data)
        print(f"ran both detectors on {len(data['ids'])} photos in {time.time() - start:.1f} s -> {args.cache}")
    print(f"dlib detector missed {int((~data['dlib_box']).sum())} photo(s) (mesh-extent box used)")

    fit = data["ids"] % 2 == 1
    val = ~fit
    print(f"FIT: {fit.sum()} photos (odd ids), VALIDATION: {val.sum()} photos (even ids)")
    mirror = mesh_mirror(data["mesh"])
    mesh = data["mesh"][..., :2]
    current = tuple(ibug68.MESH_TO_IBUG68)
    derived = derive(mesh[fit], data["dlib"][fit], mirror)
    unconstrained = derive(mesh[fit], data["dlib"][fit])
    for name, t in (("current", current), ("derived", derived), ("unconstrained", unconstrained)):
        flips = [i for i in range(68) if mirror[t[ibug68.FLIP_PERMUTATION[i]]] != t[i]]
        print(f"{name} table mirror-symmetric: {'yes' if not flips else f'no, points {flips}'}")
    ref = data["dlib"][val]
    tables = {"current": current, "derived": derived}
    scores = {
        name: {
            "all 68": nme(mesh[val][:, list(t)], ref),
            "inner 51": nme(mesh[val][:, list(t)], ref, ibug68.INNER_51),
            **{r: nme(mesh[val][:, list(t)], ref, pts) for r, pts in REGIONS.items()},
        }
        for name, t in tables.items()
    }

    print("\nvalidation NME (/ dlib inter-ocular distance)")
    print(f"  {'':12s}{'current':>10s}{'derived':>10s}")
    for key in scores["current"]:
        print(f"  {key:12s}{scores['current'][key]:10.4f}{scores['derived'][key]:10.4f}")
    changed = [i for i in range(68) if current[i] != derived[i]]
    print(
        f"\nchanged indices ({len(changed)}): "
        + (", ".join(f"{i}: {current[i]}->{derived[i]}" for i in changed) or "none")
    )

    if args.write:
        if scores["derived"]["inner 51"] < scores["current"]["inner 51"]:
            write_table(derived)
            print(f"wrote the derived table to {IBUG68_PY}")
        else:
            print("derived table does not improve the inner-51 NME; ibug68.py left unchanged")


if __name__ == "__main__":
    main()
