"""The inside of an opened mouth from the 3D face model: the mesh cut, its pose in a photo, the
painting at the photo's resolution, the measure of its detail, and `lgan edit --mouth`.

Synthetic faces are the ICT model's own landmark vertices projected with a known pose (the 'ict'
convention, so the model's inner lips and the points agree exactly). Uses the bundled face
model; the CLI test also the bundled expression model.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_geometry import ICT_NPZ, SKIP_ICT

from conftest import edit_with_landmarks, run_cli

FACE_SCALE = 12.0  # px per cm: a face about 180 px wide in a 256 px photo


@pytest.fixture(scope="module")
def ict():
    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    from lgan_cli.geometry.basis import landmark_basis
    from lgan_cli.geometry.mouth import mouth_mesh
    from lgan_cli.synth.facemodel import load_face_model

    model = load_face_model(ICT_NPZ)
    return landmark_basis(model, points="ict"), mouth_mesh(model)


def exact_fit(basis, expression: dict[str, float], points_shift: np.ndarray | None = None):
    """A FaceFit of the mean person, frontal, with `expression`; its points are the model's own
    landmarks projected (plus `points_shift`, (68, 2), when given)."""
    from lgan_cli.geometry.fit import FIT_BLENDSHAPES, FaceFit
    from lgan_cli.geometry.pose import Pose

    identity = np.zeros(40)
    pose = Pose.from_angles(0, 0, 0, FACE_SCALE, (128.0, 120.0))
    points = pose.project(basis.shape(identity, expression))
    if points_shift is not None:
        points = points + points_shift
    weights = np.array([expression.get(name, 0.0) for name in FIT_BLENDSHAPES])
    return FaceFit(points, identity, weights, FIT_BLENDSHAPES, pose, 0.0, 0, basis)


def test_the_lower_teeth_follow_the_jaw_and_each_row_hangs_from_its_lip(ict):
    from lgan_cli.geometry.mouth import GUMS_TONGUE, SOCKET, TEETH

    basis, mesh = ict
    assert {SOCKET, GUMS_TONGUE, TEETH} == set(np.unique(mesh.part))
    assert mesh.jaw.min() == 0.0 and mesh.jaw.max() == pytest.approx(1.0)
    teeth = np.zeros(len(mesh.mean), bool)
    teeth[mesh.triangles[mesh.part == TEETH].ravel()] = True
    upper, lower = teeth & (mesh.jaw < 0.1), teeth & (mesh.jaw > 0.5)
    assert upper.sum() > 500 and lower.sum() > 500

    closed = mesh.pose(exact_fit(basis, {}))
    fit = exact_fit(basis, {"jawOpen": 0.6})
    opened = mesh.pose(fit)
    drop = np.linalg.norm(fit.points[66] - fit.points[62]) - np.linalg.norm(
        exact_fit(basis, {}).points[66] - exact_fit(basis, {}).points[62]
    )
    assert drop > 10  # px: the lips part
    lower_drop = (opened.xy[lower, 1] - closed.xy[lower, 1]).mean()
    upper_drop = (opened.xy[upper, 1] - closed.xy[upper, 1]).mean()
    assert lower_drop > 0.5 * drop and abs(upper_drop) < 0.1 * drop
    # the teeth sit between the mouth corners, the upper row above the lower
    corners = fit.points[[48, 54], 0]
    assert corners[0] < np.median(opened.xy[upper, 0]) < corners[1]
    assert np.median(opened.xy[upper, 1]) < np.median(opened.xy[lower, 1])

    # a detector's upper inner lip 3 px higher than the model's: what hangs from the skull follows
    # it, what the jaw carries stays, in proportion in between
    shift = np.zeros((68, 2))
    shift[[61, 62, 63], 1] = -3.0
    moved = mesh.pose(exact_fit(basis, {"jawOpen": 0.6}, shift))
    assert np.allclose(moved.xy[:, 1] - opened.xy[:, 1], -3.0 * (1 - mesh.jaw), atol=1e-3)
    assert np.allclose(moved.xy[:, 0], opened.xy[:, 0], atol=1e-3)


def painted_photo(basis, source: np.ndarray, size: int = 256) -> np.ndarray:
    """A flat synthetic face: skin, white eyes, red lips closed at `source` points, a little noise."""
    from lgan_cli.faces.mouth_interior import polygon_mask

    photo = np.empty((size, size, 3), np.float32)
    photo[:] = (190, 140, 115)
    for part, colour in (
        (slice(36, 42), (235, 232, 228)),
        (slice(42, 48), (235, 232, 228)),
        (slice(48, 60), (170, 80, 80)),
    ):
        alpha = polygon_mask((size, size), source[part])[..., None]
        photo = photo * (1 - alpha) + np.array(colour, np.float32) * alpha
    photo += np.random.default_rng(3).normal(0, 2.0, photo.shape)
    return np.clip(np.round(photo), 0, 255).astype(np.uint8)


def test_painting_fills_only_the_opening_with_teeth_and_a_dark_cavity(ict):
    from lgan_cli.faces.mouth_interior import inner_lip_outline, paint_mouth_interior, polygon_mask

    basis, _ = ict
    source = exact_fit(basis, {}).points
    target = exact_fit(basis, {"jawOpen": 0.5, "mouthUpperUp_L": 0.5, "mouthUpperUp_R": 0.5}).points
    photo = painted_photo(basis, source)
    # a closed target mouth changes nothing, nor does an open one that stays as open as it was
    assert np.array_equal(paint_mouth_interior(photo, photo, source, source), photo)
    assert np.array_equal(paint_mouth_interior(photo, photo, target, target), photo)

    out = paint_mouth_interior(photo, photo, source, target)
    opening = polygon_mask(photo.shape[:2], inner_lip_outline(target))
    changed = (out != photo).any(axis=2)
    near_opening = cv2.dilate((opening > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 1
    assert changed.sum() > 100 and not (changed & ~near_opening).any()
    inside = out[opening >= 1].astype(np.float32) @ [0.299, 0.587, 0.114]
    lips = 0.299 * 170 + 0.587 * 80 + 0.114 * 80
    assert (inside > 1.3 * lips).mean() > 0.05  # teeth, lit like the eyes' white
    assert (inside < 0.5 * lips).mean() > 0.2  # the cavity behind them


def test_teeth_colour_comes_from_the_eyes_and_the_cavity_from_the_lips(ict):
    from lgan_cli.faces.mouth_interior import FRONT_TEETH_LIGHT, sample_mouth_colours, to_linear

    basis, _ = ict
    source = exact_fit(basis, {}).points
    photo = painted_photo(basis, source)
    colours = sample_mouth_colours(photo, source)
    white, lip = to_linear(np.array([235, 232, 228])), to_linear(np.array([170, 80, 80]))
    # the front teeth, as lit, show the eyes' white a little warmer and darker
    assert np.allclose(colours.teeth * FRONT_TEETH_LIGHT / white, [0.95, 0.9, 0.78], atol=0.06)
    assert np.all(colours.cavity < 0.5 * lip) and colours.gums[0] == pytest.approx(lip[0], rel=0.1)
    assert 0.5 < colours.grain < 6  # the photo's noise (sigma 2 grey levels), not its edges


def test_detail_measure_tells_a_magnified_interior_from_a_sharp_one(ict):
    from lgan_cli.eval.photos import mouth_interior_detail
    from lgan_cli.faces.mouth_interior import inner_lip_outline, paint_mouth_interior, polygon_mask

    basis, _ = ict
    source = exact_fit(basis, {}).points
    target = exact_fit(basis, {"jawOpen": 0.5, "mouthUpperUp_L": 0.5, "mouthUpperUp_R": 0.5}).points
    photo = painted_photo(basis, source)
    sharp = paint_mouth_interior(photo, photo, source, target)
    # the same interior as a 128 px renderer would give it: 1/8 of the resolution, magnified back
    small = cv2.resize(sharp, (32, 32), interpolation=cv2.INTER_AREA)
    magnified = cv2.resize(small, (256, 256), interpolation=cv2.INTER_CUBIC)
    alpha = polygon_mask(photo.shape[:2], inner_lip_outline(target))[..., None]
    soft = np.round(sharp * (1 - alpha) + magnified * alpha).astype(np.uint8)
    assert mouth_interior_detail(sharp, target) > 2 * mouth_interior_detail(soft, target)
    assert mouth_interior_detail(photo, source) is None  # a closed mouth has no interior


def test_edit_mouth_option_changes_only_the_opening(tmp_path, example_photos, capsys, monkeypatch):
    """The bundled all-expression model draws the 3D model's interior by default; `--mouth learned`
    gives G_e's magnified colours instead. The two photos differ only inside the target lips, and
    the default's interior holds the photo's fine detail."""
    from lgan_cli.eval.photos import mouth_interior_detail
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.mouth_interior import inner_lip_outline, polygon_mask

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    outputs = {}
    for mouth in ("face-model", "learned"):
        out, points = tmp_path / f"{mouth}.png", tmp_path / f"{mouth}.json"
        args = ["edit", photo, "--model", "london-all-warp-128", "--expr", "angry", "--mouth", mouth]
        code, _, stderr = run_cli([*args, "--out", out, "--save-landmarks", points, "--device", "cpu"], capsys)
        assert code == 0, stderr
        outputs[mouth] = (load_image(out), np.array(json.loads(points.read_text())["faces"][0]["points68"]))
    (drawn, target), (learned, same_target) = outputs["face-model"], outputs["learned"]
    assert np.array_equal(target, same_target)
    opening = polygon_mask(drawn.shape[:2], inner_lip_outline(target)) > 0
    near = cv2.dilate(opening.astype(np.uint8), np.ones((3, 3), np.uint8)) == 1
    differs = (drawn != learned).any(axis=2)
    assert differs.sum() > 500 and not (differs & ~near).any()
    assert mouth_interior_detail(drawn, target) > 2 * mouth_interior_detail(learned, target)


def test_a_models_crops_carry_the_mouth_the_photo_gets(example_photos, detector):
    """Crop-level evaluation scores the crops as delivered: with the "face-model" mouth they hold the
    3D model's interior drawn at the crop's resolution, and differ from the rendering (G_e's
    colours) only in the target's opening."""
    import torch

    from lgan_cli.editing import edit_crops, find_faces
    from lgan_cli.eval.photos import mouth_interior_detail
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.mouth_interior import inner_lip_outline, polygon_mask
    from lgan_cli.models.editor import LandmarkGANEditor, crops_as_delivered
    from lgan_cli.models.load import load_editor
    from lgan_cli.pixels import to_pictures, to_tensor

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    editor = load_editor("london-all-warp-128", torch.device("cpu"), offline=True)
    assert editor.mouth_interior == "face-model"
    learned = LandmarkGANEditor(editor.model, editor.name, mouth_interior="learned")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    face = find_faces(detector, load_image(photo), editor.resolution, "largest", "photo")[0]
    crop, points = to_tensor(face.crop), torch.from_numpy(face.points)[None].float()
    with torch.no_grad():
        ours, theirs = (e.edit(crop, points, ["fearful"], [4]) for e in (editor, learned))
    assert torch.equal(ours.points68, theirs.points68) and torch.equal(ours.images, theirs.images)
    target = ours.points68[0].numpy()
    drawn = to_pictures(crops_as_delivered(editor, ours, crop, points))[0]
    plain = to_pictures(crops_as_delivered(learned, theirs, crop, points))[0]
    assert np.array_equal(plain, to_pictures(theirs.images)[0])
    opening = polygon_mask(drawn.shape[:2], inner_lip_outline(target)) > 0
    near = cv2.dilate(opening.astype(np.uint8), np.ones((3, 3), np.uint8)) == 1
    differs = (drawn != plain).any(axis=2)
    assert differs.sum() > 20 and not (differs & ~near).any()
    assert mouth_interior_detail(drawn, target) > mouth_interior_detail(plain, target)
    # `lgan batch --grid` tiles: the photo path's edits give the same crops
    (edit,) = edit_crops(editor, [(face, "fearful", 4)], torch.device("cpu"))
    assert np.abs(edit.delivered_crop().astype(int) - drawn).max() <= 1


def test_drawn_teeth_stand_out_from_the_cheeks_as_real_teeth_do(tmp_path, example_photos, capsys, monkeypatch):
    """The teeth's colour is how the front teeth should look; drawn with that as their albedo, the
    frontal light made them 0.87 times as bright, grey beside real smiles. The brightest quarter of
    a smile's opening over the cheeks: real London smiles 1.90 (median; lower quartile 1.66), the
    drawn teeth 1.43 before, on this photo."""
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.mouth_interior import CHEEKS_AND_NOSE, LUMINANCE, inner_lip_outline, polygon_mask, to_linear

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_001_neutral.jpg")
    args = ["--model", "london-all-warp-128", "--expr", "happy"]
    out, target = edit_with_landmarks(photo, args, tmp_path, capsys)
    luminance = to_linear(load_image(out)) @ LUMINANCE
    opening = luminance[polygon_mask(luminance.shape, inner_lip_outline(target)) >= 1]
    teeth = opening[opening >= np.percentile(opening, 75)].mean()
    cheeks = np.median(luminance[polygon_mask(luminance.shape, target[CHEEKS_AND_NOSE]) >= 1])
    assert teeth / cheeks > 1.55


def test_bared_gums_are_covered_by_lifting_the_teeth_to_the_upper_lip(ict):
    """The photo presets push the upper-lip raise past ICT's apex, which bares a band of gum over
    the teeth; the teeth are lifted until they start right under the lip, and stay clenched."""
    from lgan_cli.faces.mouth_interior import paint_mouth_interior, teeth_shift

    basis, mesh = ict
    source = exact_fit(basis, {}).points
    snarl = {"mouthUpperUp_L": 1.25, "mouthUpperUp_R": 1.25, "mouthShrugUpper": 1.0}
    snarl |= {"mouthLowerDown_L": 0.8, "mouthLowerDown_R": 0.8}
    fit = exact_fit(basis, snarl)
    target = fit.points
    x0, y0 = np.floor(target[60:68].min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(target[60:68].max(axis=0)).astype(int) + 3
    lift = teeth_shift(mesh.pose(fit), target, (x0, y0, x1, y1))
    assert lift < -3.0  # px, of a 24 px lip gap
    lifted, plain = mesh.pose(fit, shift=lift), mesh.pose(fit)
    assert np.allclose(lifted.xy - plain.xy, [0.0, lift], atol=1e-3)  # both rows, and the socket, together

    photo = painted_photo(basis, source)
    out = paint_mouth_interior(photo, photo, source, target)
    x, y = np.round(target[62]).astype(int)
    under_the_lip = out[y + 2 : y + 5, x - 3 : x + 4].astype(np.float32) @ [0.299, 0.587, 0.114]
    assert under_the_lip.mean() > 1.3 * (0.299 * 170 + 0.587 * 80 + 0.114 * 80)  # teeth, not gum


FEAR_MOUTH = {"jawOpen": 0.75, "mouthStretch_L": 1.0, "mouthStretch_R": 1.0, "mouthFrown_L": 0.55, "mouthFrown_R": 0.55}
"""Fear's opened, stretched mouth as the presets fit it: the model's jaw drop and lip stretch pull
its upper lip down over the incisors."""


def test_incisors_the_upper_lip_hides_are_lowered_to_show_under_it(ict):
    """An opened fearful mouth showed side teeth at its corners and none in front ("fangs"): the
    interior moves down until the upper incisors' edge shows under the upper lip."""
    from lgan_cli.faces.mouth_interior import (
        INCISOR_SHOW,
        bounding_box,
        inner_lip_outline,
        paint_mouth_interior,
        teeth_shift,
    )

    basis, mesh = ict
    source = exact_fit(basis, {}).points
    fit = exact_fit(basis, FEAR_MOUTH)
    target = fit.points
    width = np.linalg.norm(target[54] - target[48])
    box = bounding_box(inner_lip_outline(target), (256, 256), pad=2)
    drop = teeth_shift(mesh.pose(fit), target, box)
    assert drop > 0.5 * INCISOR_SHOW * width  # px: the model's own incisors hide behind its lip
    # once moved, nothing more to do
    assert abs(teeth_shift(mesh.pose(fit, shift=drop), target, box)) < 1.0

    photo = painted_photo(basis, source)
    out = paint_mouth_interior(photo, photo, source, target)
    x, y = np.round(target[62]).astype(int)
    under_the_lip = out[y + 1 : y + 3, x - 3 : x + 4].astype(np.float32) @ [0.299, 0.587, 0.114]
    assert under_the_lip.mean() > 1.3 * (0.299 * 170 + 0.587 * 80 + 0.114 * 80)  # teeth, not the cavity


def test_the_back_teeth_are_shaded_darker_than_the_front_ones(ict):
    """The cheeks shade the teeth at an opened mouth's corners; drawn as white as the incisors they
    looked like fangs."""
    from lgan_cli.faces.mouth_interior import (
        LUMINANCE,
        MouthColours,
        bounding_box,
        shade_interior,
    )
    from lgan_cli.geometry.mouth import TEETH
    from lgan_cli.synth.raster import rasterize

    basis, mesh = ict
    fit = exact_fit(basis, FEAR_MOUTH)
    target = fit.points
    posed = mesh.pose(fit)
    box = bounding_box(target[48:60], (256, 256), pad=2)
    x0, y0, x1, y1 = box
    white = np.full(3, 0.8, np.float32)
    colours = MouthColours(teeth=white, gums=white, cavity=white, grain=0.0)
    width = float(np.linalg.norm(target[54] - target[48]))
    rgb, _ = shade_interior(posed, colours, box, width)
    fragments = rasterize(
        posed.xy - (x0, y0), posed.depth - posed.depth.min() + 1.0, mesh.triangles, (y1 - y0, x1 - x0), cull_back=False
    )
    teeth = np.zeros((y1 - y0, x1 - x0), bool)
    teeth[fragments.mask] = mesh.part[fragments.triangle[fragments.mask]] == TEETH
    teeth = cv2.erode(teeth.astype(np.uint8), np.ones((3, 3), np.uint8)) == 1  # no mixed edge pixels
    across = (np.arange(x0, x1) - target[[62, 66], 0].mean()) / width
    front, back = teeth & (np.abs(across) < 0.1), teeth & (np.abs(across) > 0.35)
    assert front.sum() > 20 and back.sum() > 20
    light = rgb @ LUMINANCE
    assert np.median(light[back]) < 0.75 * np.median(light[front])


def test_in_front_of_the_lower_teeth_the_socket_is_the_lips_lining(tmp_path, example_photos, capsys, monkeypatch):
    """A snarl's teeth, lifted to its raised upper lip, left the mouth's socket showing under the
    lower row, drawn as the black cavity: the teeth floated over a dark crescent. In front of the
    lower teeth the socket is the lower lip's lining, lip-coloured; a fearful mouth's cavity,
    behind the teeth, stays dark. Share of the opening darker than a quarter of the lips'
    luminance on this photo: angry 0.25 with the cavity, 0.06 with the lining (0.13 with the fitted
    3D model's angry points, whose opening is wider at the corners); fearful 0.68."""
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.mouth_interior import (
        INNER_LIPS,
        LUMINANCE,
        OUTER_LIPS,
        inner_lip_outline,
        polygon_mask,
        to_linear,
    )

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_001_neutral.jpg")

    def dark_share(expression: str) -> float:
        args = ["--model", "london-all-warp-128", "--expr", expression]
        out, target = edit_with_landmarks(photo, args, tmp_path, capsys, name=expression)
        luminance = to_linear(load_image(out)) @ LUMINANCE
        lips = polygon_mask(luminance.shape, target[OUTER_LIPS]) - polygon_mask(luminance.shape, target[INNER_LIPS])
        opening = luminance[polygon_mask(luminance.shape, inner_lip_outline(target)) >= 1]
        return float((opening < 0.25 * np.median(luminance[lips >= 1])).mean())

    assert dark_share("angry") < 0.16
    assert dark_share("fearful") > 0.4


def test_the_interior_fades_in_as_the_mouth_opens(ict):
    """An animation sweeping the intensity must not pop the interior in: just past the threshold
    it is faint, a little further it is whole."""
    from lgan_cli.faces.mouth_interior import FADE_IN, MIN_OPENING, lip_gap, paint_mouth_interior

    basis, _ = ict
    source = exact_fit(basis, {}).points
    opened = exact_fit(basis, {"jawOpen": 0.5}).points
    photo = painted_photo(basis, source)
    width = np.linalg.norm(opened[54] - opened[48])
    full_growth = (lip_gap(opened) - lip_gap(source)) / width

    def change_at(growth: float) -> float:
        target = source + growth / full_growth * (opened - source)
        return float(np.abs(paint_mouth_interior(photo, photo, source, target).astype(float) - photo).sum())

    below, faint, whole = (
        change_at(g) for g in (0.9 * MIN_OPENING, MIN_OPENING + 0.5 * FADE_IN, MIN_OPENING + 2 * FADE_IN)
    )
    assert below == 0 and 0 < faint < 0.7 * whole
