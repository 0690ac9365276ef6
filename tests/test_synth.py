"""`lgan synth`: recipes, the CPU rasterizer, rendering, landmark projection, the generated set,
and the FaceXModel packing script.

The ICT-FaceKit model is the bundled weights/ict_face_model_light.npz (the tests skip if it was
removed). They render small (64-256 px, small textures) to stay fast.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from test_geometry import ICT_NPZ, SKIP_ICT

from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.synth.raster import rasterize, vertex_visibility
from lgan_cli.synth.recipes import AU_BLENDSHAPES, INTENSITY_LEVELS, INTENSITY_SCALE, RECIPES, blendshape_weights

from conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
needs_ict = pytest.mark.skipif(not ICT_NPZ.is_file(), reason=SKIP_ICT)


@pytest.fixture(scope="module")
def model():
    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    from lgan_cli.synth.facemodel import load_face_model

    return load_face_model(ICT_NPZ)


@pytest.fixture(scope="module")
def renderer(model):
    from lgan_cli.synth.render import FaceRenderer

    return FaceRenderer(model, texture_size=64, supersample=1)


def _scene(renderer, seed: int = 0):
    from lgan_cli.synth.render import sample_identity_scene

    return sample_identity_scene(renderer, np.random.default_rng(seed))


# ---------------------------------------------------------------------------------------------
# recipes


def test_recipe_table_covers_every_expression_with_known_action_units():
    assert set(RECIPES) == set(RAFD_EXPRESSIONS)
    assert RECIPES["neutral"] == {}
    for expression, recipe in RECIPES.items():
        for au, weight in recipe.items():
            assert 0 < weight <= 1, (expression, au)
            number = au if au in AU_BLENDSHAPES else int(str(au)[1:])
            assert number in AU_BLENDSHAPES, (expression, au)
        if expression != "neutral":
            assert blendshape_weights(expression), expression


def test_intensity_levels_scale_the_apex_recipe():
    assert INTENSITY_LEVELS == (1, 2, 3, 4)
    for expression in RAFD_EXPRESSIONS:
        apex = blendshape_weights(expression, 4)
        assert apex == blendshape_weights(expression)
        for level in INTENSITY_LEVELS:
            scaled = blendshape_weights(expression, level)
            assert scaled.keys() == apex.keys()
            for name, value in apex.items():
                assert scaled[name] == pytest.approx(value * INTENSITY_SCALE[level])
    contempt = blendshape_weights("contemptuous")
    assert all(name.endswith("_R") for name in contempt), "contempt is one-sided"


def test_recipe_blendshapes_exist_in_the_model(model):
    for expression in RAFD_EXPRESSIONS:
        for name in blendshape_weights(expression):
            assert model.expression_delta(name).shape == model.neutral.shape, name


# ---------------------------------------------------------------------------------------------
# rasterizer (no model needed)


def test_rasterizer_nearest_triangle_wins_and_covers_without_cracks():
    # a full-screen quad (two triangles) at depth 2, and a smaller triangle in front at depth 1
    xy = np.array([[-1, -1], [16, -1], [16, 16], [-1, 16], [2, 2], [12, 2], [2, 12]], dtype=float)
    depth = np.array([2, 2, 2, 2, 1, 1, 1], dtype=float)
    tris = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    fragments = rasterize(xy, depth, tris, (16, 16), cull_back=False)
    assert fragments.mask.all(), "no cracks between the quad's two triangles"
    assert fragments.triangle[4, 4] == 2 and fragments.depth[4, 4] == pytest.approx(1.0)
    assert fragments.triangle[14, 14] in (0, 1) and fragments.depth[14, 14] == pytest.approx(2.0)
    np.testing.assert_allclose(fragments.bary.sum(axis=-1), 1.0, atol=1e-5)


def test_rasterizer_barycentrics_are_perspective_correct():
    # a triangle whose corners lie at depths 1, 4, 4: 1/w is linear on screen, w is not
    xy = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 40.0]])
    depth = np.array([1.0, 4.0, 4.0])
    fragments = rasterize(xy, depth, np.array([[0, 1, 2]]), (41, 41), cull_back=False)
    x, y = 10, 10
    l1, l2 = x / 40, y / 40
    l0 = 1 - l1 - l2
    inv_w = l0 / 1 + l1 / 4 + l2 / 4
    assert fragments.depth[y, x] == pytest.approx(1 / inv_w, rel=1e-5)
    np.testing.assert_allclose(fragments.bary[y, x], [l0 / 1 / inv_w, l1 / 4 / inv_w, l2 / 4 / inv_w], rtol=1e-5)


def test_rasterizer_culls_back_faces_and_is_deterministic():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 32, (60, 2))
    depth = rng.uniform(1, 5, 60)
    tris = rng.integers(0, 60, (80, 3))
    first = rasterize(xy, depth, tris, (32, 32), cull_back=False)
    second = rasterize(xy, depth, tris, (32, 32), cull_back=False)
    np.testing.assert_array_equal(first.triangle, second.triangle)
    np.testing.assert_array_equal(first.bary, second.bary)
    one = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])  # clockwise as displayed: a back face
    assert not rasterize(one, np.ones(3), np.array([[0, 1, 2]]), (24, 24)).mask.any()
    assert rasterize(one, np.ones(3), np.array([[0, 2, 1]]), (24, 24)).mask.any()


def test_vertex_visibility_sees_occluders():
    # a big square facing +z at z=1 hides a point at z=0 behind it, not one beside it
    square = np.array([[-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], dtype=float)
    points = np.vstack([square, [[0, 0, 0], [3, 0, 0], [3, 0.5, 0], [3.5, 0, 0]]])
    tris = np.array([[0, 1, 2], [0, 2, 3], [5, 6, 7]])
    visible = vertex_visibility(points, tris, np.array([0.0, 0.0, 1.0]), resolution=64, bias=0.05)
    assert visible[4] == 0.0  # behind the square
    assert visible[5] == 1.0 and visible[0] == 1.0


# ---------------------------------------------------------------------------------------------
# rendering


def test_render_is_deterministic_for_a_seed(renderer):
    weights = blendshape_weights("happy", 3)
    first = renderer.render(_scene(renderer, 5), weights, 64)
    second = renderer.render(_scene(renderer, 5), weights, 64)
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.points68, second.points68)
    other = renderer.render(_scene(renderer, 6), weights, 64)
    assert np.abs(other.image.astype(int) - first.image.astype(int)).mean() > 5, "another seed, another person"
    assert first.image.shape == (64, 64, 3) and first.image.dtype == np.uint8


def test_rendered_landmarks_sit_on_their_vertices(renderer, model):
    """At a projected landmark's pixel the z-buffer shows a triangle of that landmark's vertex.

    Checked on the points inside the skin surface (brows, nose, outer lip without its corners);
    the jaw, eye and inner-lip points lie on contours, where the pixel may as well show the
    surface beyond. A 3 x 3 neighbourhood absorbs the rounding to the pixel grid.
    """
    interior = [*range(17, 36), *range(49, 54), *range(55, 60)]
    scene = _scene(renderer, 1)
    hits, total = 0, 0
    for expression in ("neutral", "happy", "surprised", "angry"):
        weights = blendshape_weights(expression) if expression != "neutral" else {}
        out = renderer.render(scene, weights, 256, keep_fragments=True)
        pixel = np.rint(out.points68).astype(int)
        triangles = out.fragments.triangle
        for index in interior:
            if not out.visible68[index]:
                continue
            x, y = pixel[index]
            window = triangles[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].reshape(-1)
            window = window[window >= 0]
            total += 1
            hits += bool((renderer.triangles.vertices[window] == model.landmark_vertices[index]).any())
    assert total >= 100
    assert hits / total >= 0.97, f"{hits}/{total} landmarks on their own vertex"


def test_landmark_visibility_follows_the_head_turn(renderer):
    scene = dataclasses.replace(_scene(renderer, 0), yaw=35.0, pitch=0.0, roll=0.0)
    out = renderer.render(scene, {}, 128)
    assert out.visible68[27:36].all(), "the nose faces the camera"
    turned_away = out.visible68[[12, 13, 14, 15, 16]]
    facing = out.visible68[[0, 1, 2, 3, 4]]
    assert facing.all() and not turned_away.all()
    mirrored = renderer.render(dataclasses.replace(scene, yaw=-35.0), {}, 128)
    assert mirrored.visible68[[12, 13, 14, 15, 16]].all() and not mirrored.visible68[[0, 1, 2, 3, 4]].all()


def test_crop_is_aligned_like_a_prepared_photo(renderer):
    from lgan_cli.faces.align import align_face

    out = renderer.render(_scene(renderer, 2), blendshape_weights("sad", 4), 128)
    expected = align_face(out.photo_points68, 128)
    np.testing.assert_allclose(out.alignment.matrix, expected.matrix)
    np.testing.assert_allclose(out.points68, expected.to_crop(out.photo_points68), atol=1e-4)


# ---------------------------------------------------------------------------------------------
# the generated set


@needs_ict
def test_tiny_set_generates_loads_and_batches(tmp_path, capsys):
    from lgan_cli.data.prepare import read_index
    from lgan_cli.data.prepared import PreparedDataset
    from lgan_cli.train.data import PairData

    out = tmp_path / "synth"
    code, _, err = run_cli(["synth", "--out", out, "--identities", 2, "--resolution", 64, "--seed", 3], capsys)
    assert code == 0, err
    document = read_index(out)
    assert document["config"]["dataset"] == "ict-synth" and document["config"]["resolution"] == 64
    dataset = PreparedDataset.load(out)
    assert len(dataset.items) == 2 * 29
    assert {item.identity for item in dataset.items} == {"synth0000", "synth0001"}
    assert set(dataset.expressions) == set(RAFD_EXPRESSIONS)
    assert sorted({item.split for item in dataset.items}) == ["test", "train"]
    neutral = [item for item in dataset.items if item.expression == "neutral"]
    assert len(neutral) == 2 and all(item.intensity is None for item in neutral)
    happy = sorted(
        item.intensity for item in dataset.items if item.expression == "happy" and item.identity == "synth0000"
    )
    assert happy == [1, 2, 3, 4]
    crop = dataset.items[0].load_crop()
    assert crop.shape == (64, 64, 3)
    points = np.stack([item.points68 for item in dataset.items])
    assert points.shape == (58, 68, 2) and (points > -5).all() and (points < 69).all()

    pairs = PairData(dataset, "train")
    assert len(pairs) == 29 * 28
    batch = pairs.batch([0, 1, 2])
    assert batch["source"].shape == (3, 3, 64, 64) and batch["target_points"].shape == (3, 68, 2)
    assert float(batch["source"].min()) >= -1 and float(batch["source"].max()) <= 1

    # only the pairs through neutral: neutral -> 7 expressions x 4 levels, and back
    through_neutral = PairData(dataset, "train", mode="neutral")
    assert len(through_neutral) == 28 + 28  # the one training person

    # lgan eval breaks the scores down by target intensity; copying the neutral input misses
    # the target's landmarks by more the stronger the target expression is
    report_path = tmp_path / "eval.json"
    code, stdout, err = run_cli(
        [
            "eval",
            "--model",
            "copy",
            "--dataset",
            "ict-synth",
            "--prepared",
            out,
            "--pairs",
            "neutral",
            "--json",
            report_path,
            "--device",
            "cpu",
        ],
        capsys,
    )
    assert code == 0, err
    assert "intensity 4" in stdout
    report = json.loads(report_path.read_text())
    assert report["pairs"] == 56
    by_level = report["methods"]["copy"]["per_target_intensity"]
    assert sorted(by_level) == ["1", "2", "3", "4"] and all(by_level[k]["pairs"] == 7 for k in by_level)
    assert by_level["4"]["landmark_distance"] > by_level["1"]["landmark_distance"]
    assert by_level["4"]["psnr"] < by_level["1"]["psnr"]
    # the source's own points vs the target's: the recipes move the landmarks more at every level
    moved = [by_level[k]["generated_landmark_distance"] for k in ("1", "2", "3", "4")]
    assert moved == sorted(moved) and moved[0] > 0 and moved[3] > 2 * moved[0]

    # a repeat run reuses every image and rewrites the same index
    before = json.loads((out / "index.json").read_text())
    code, _, err = run_cli(["synth", "--out", out, "--identities", 2, "--resolution", 64, "--seed", 3], capsys)
    assert code == 0, err
    assert json.loads((out / "index.json").read_text()) == before
    code, _, err = run_cli(["synth", "--out", out, "--identities", 2, "--resolution", 128, "--seed", 3], capsys)
    assert code == 1 and "use another --out" in err


def test_missing_model_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["synth", "--out", tmp_path / "x", "--ict", tmp_path / "nowhere.npz"], capsys)
    assert code == 1 and "ICT-FaceKit model not found" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# FaceXModel folder reading and packing


def _write_obj(path: Path, vertices, uv=None, faces=None, face_uv=None, materials=None, names=None) -> None:
    lines = ["# written by tests/test_synth.py", *(f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices)]
    if uv is not None:
        lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
        current = None
        for polygon, corners_uv, material in zip(faces, face_uv, materials):
            if material != current:
                lines.append(f"usemtl {names[material]}")
                current = material
            corners = [f"{v + 1}/{t + 1}" for v, t in zip(polygon, corners_uv) if v >= 0]
            lines.append("f " + " ".join(corners))
    path.write_text("\n".join(lines) + "\n")


def test_pack_script_round_trips_a_facexmodel_folder(model, tmp_path):
    """A FaceXModel-style folder written from a patch of the packed model packs back to it."""
    from lgan_cli.synth.facemodel import load_face_model

    # a patch: 35 face quads, 5 triangles (wherever the model has them), 20 teeth polygons, renumbered
    face_ids = np.nonzero(model.face_material == model.material_index("M_Face"))[0]
    teeth_ids = np.nonzero(model.face_material == model.material_index("M_Teeth"))[0]
    triangles = np.nonzero(model.faces[:, 3] < 0)[0][:5]
    chosen = np.concatenate([face_ids[:35], triangles, teeth_ids[:20]])
    polygons = model.faces[chosen]
    used = np.unique(polygons[polygons >= 0])
    remap = np.full(len(model.neutral), -1)
    remap[used] = np.arange(len(used))
    faces = np.where(polygons >= 0, remap[np.maximum(polygons, 0)], -1)
    uv_polys = model.face_uv[chosen]
    used_uv = np.unique(uv_polys[uv_polys >= 0])
    remap_uv = np.full(len(model.uv), -1)
    remap_uv[used_uv] = np.arange(len(used_uv))
    face_uv = np.where(uv_polys >= 0, remap_uv[np.maximum(uv_polys, 0)], -1)
    source_materials = model.face_material[chosen]
    first_use = list(dict.fromkeys(source_materials.tolist()))
    names = tuple(model.material_names[index] for index in first_use)
    materials = np.array([first_use.index(index) for index in source_materials])

    folder = tmp_path / "FaceXModel"
    folder.mkdir()
    neutral = model.neutral[used].astype(np.float64)
    _write_obj(folder / "generic_neutral_mesh.obj", neutral, model.uv[used_uv], faces, face_uv, materials, names)
    identities = model.identity_deltas[:2, used].astype(np.float64)
    for index, delta in enumerate(identities):
        _write_obj(folder / f"identity{index:03d}.obj", neutral + delta)
    expression_names = ["jawOpen", "mouthSmile_L", "browDown_R"]
    for name in expression_names:
        _write_obj(folder / f"{name}.obj", neutral + model.expression_delta(name)[used])
    landmarks = list(range(68))
    (folder / "vertex_indices.json").write_text(
        json.dumps({"expressions": expression_names, "idx_to_landmark_verts": landmarks})
    )

    spec = importlib.util.spec_from_file_location("pack_ict_facekit", REPO / "scripts" / "pack_ict_facekit.py")
    pack_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pack_module)
    out = tmp_path / "packed.npz"
    shapes = pack_module.pack(folder, out)
    assert shapes["identity_deltas"] == (2, len(used), 3) and shapes["faces"] == (60, 4)

    packed = np.load(out)
    np.testing.assert_allclose(packed["neutral"], neutral, atol=1e-5)
    np.testing.assert_allclose(packed["identity_deltas"].astype(np.float32), identities, atol=2e-3)
    for index, name in enumerate(expression_names):
        np.testing.assert_allclose(
            packed["expression_deltas"][index].astype(np.float32), model.expression_delta(name)[used], atol=2e-3
        )
    assert list(packed["expression_names"]) == expression_names
    np.testing.assert_array_equal(packed["faces"], faces)
    np.testing.assert_array_equal(packed["face_uv"], face_uv)
    np.testing.assert_allclose(packed["uv"], model.uv[used_uv], atol=1e-6)
    np.testing.assert_array_equal(packed["face_material"], materials)
    assert list(packed["material_names"]) == list(names)
    assert (packed["faces"][:, 3] == -1).sum() == (model.faces[chosen, 3] == -1).sum() >= 5

    # the folder and the packed file are the same model to the renderer's loader
    from_folder, from_npz = load_face_model(folder), load_face_model(out)
    weights = np.linspace(-1, 1, 2)
    np.testing.assert_allclose(
        from_folder.mesh(weights, {"jawOpen": 0.5}), from_npz.mesh(weights, {"jawOpen": 0.5}), atol=5e-3
    )
    quads = int((faces[:, 3] >= 0).sum())
    assert from_folder.triangles().vertices.shape == (2 * quads + (60 - quads), 3)
