"""Editing photos with a warp-renderer model: the photo is moved, not re-rendered.

A tiny untrained 64 px warp model is enough to check the plumbing at the photo's resolution:
intensity 0 gives the photo back bit for bit, and no edit reaches beyond the face.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lgan_cli.editing import compose, edit_crops, find_faces
from lgan_cli.eval.photos import changed_far_from_face
from lgan_cli.faces.decode import load_image
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.editor import LandmarkGANEditor
from lgan_cli.models.generators import LandmarkGAN
from lgan_cli.models.pdm import fit_pdm

SIZE = 64


@pytest.fixture(scope="module")
def scene(example_photos, detector):
    photo = load_image(example_photos[0])
    face = find_faces(detector, photo, SIZE, "largest", "example")[0]
    return photo, face


@pytest.fixture(scope="module")
def warp_editor(scene):
    """An untrained warp model whose G_l moves the mouth (a random head on a real PDM)."""
    torch.manual_seed(0)
    _, face = scene
    model = LandmarkGAN(
        ModelConfig(resolution=SIZE, expressions=("neutral", "happy"), generator_width=8, discriminator_width=8)
    )
    shapes = face.points[None] + np.random.default_rng(0).normal(0, 1.5, size=(40, 68, 2))
    model.g_l.pdm.set_model(fit_pdm(shapes, model.config.pdm_components))
    torch.nn.init.normal_(model.g_l.head[-1].weight, std=0.02)
    return LandmarkGANEditor(model.eval(), "tiny-warp")


def test_intensity_zero_returns_the_photo_bit_for_bit(scene, warp_editor):
    photo, face = scene
    edit = edit_crops(warp_editor, [(face, "happy", 0.0)], torch.device("cpu"))[0]
    assert np.abs(edit.flow).max() == 0 and edit.mask.max() == 0
    assert np.array_equal(compose(photo, [edit]), photo)


def test_a_full_edit_moves_the_face_and_nothing_far_from_it(scene, warp_editor):
    photo, face = scene
    edit = edit_crops(warp_editor, [(face, "happy", None)], torch.device("cpu"))[0]
    assert edit.flow is not None and np.abs(edit.flow).max() > 0.1
    result = compose(photo, [edit])
    assert result.shape == photo.shape and result.dtype == np.uint8
    assert (result != photo).any()
    assert changed_far_from_face(photo, result, face.face.points68, edit.points_in_photo()) == 0
    # the corners of the photo (background) are the input's exactly
    for y, x in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert np.array_equal(result[y, x], photo[y, x])


def test_intensity_scales_the_flow(scene, warp_editor):
    photo, face = scene
    half, full = edit_crops(warp_editor, [(face, "happy", 0.5), (face, "happy", 1.0)], torch.device("cpu"))
    assert 0 < np.abs(half.flow).max() < np.abs(full.flow).max()


def test_the_bundled_default_model_leaves_a_face_alone_when_its_points_stay(example_photos, detector, monkeypatch):
    """An identity request to the shipped warp model (target points = the source's own, the
    neutral label for a neutral photo): its learned residual flow leaves the face alone, within
    one grey level on average. (It ships with synthesis off; the mask regulariser's own test is
    in test_training.py.)"""
    from lgan_cli.models.flow import prior_flow
    from lgan_cli.models.load import load_editor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    editor = load_editor(None, torch.device("cpu"), offline=True)
    model = editor.model
    assert model.config.renderer == "warp" and not model.config.synthesis
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    face = find_faces(detector, load_image(photo), model.config.resolution, "largest", "photo")[0]
    crop = torch.from_numpy(face.crop.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    points = torch.from_numpy(face.points)[None]
    with torch.no_grad():
        _, rendering = model.render(crop, points, model.encode_labels(["neutral"]), points)
    _, window = prior_flow(points, points, model.config.resolution)
    face_area = window[0] > 0.5
    change = ((rendering["image"][0] - crop[0]).abs() * 127.5).mean(dim=0)[face_area].mean()
    assert change <= 1.0, float(change)
    assert float(rendering["mask"].abs().max()) == 0.0


def test_the_geometry_baseline_lifts_the_mouth_corners_for_happy_and_leaves_level_zero_alone(scene, detector):
    """`--model geometry`: the 3D face model's smile moved into the photo, no learning."""
    from lgan_cli.models.geometry_editor import GeometryEditor

    photo, _ = scene
    editor = GeometryEditor()
    face = find_faces(detector, photo, editor.resolution, "largest", "example")[0]
    happy, nothing = edit_crops(editor, [(face, "happy", None), (face, "happy", 0.0)], torch.device("cpu"))
    corners = [48, 54]
    rise = face.points[corners, 1] - happy.points[corners, 1]  # image y grows downwards
    assert (rise > 0.5).all(), rise
    assert np.array_equal(compose(photo, [nothing]), photo)
    result = compose(photo, [happy])
    assert changed_far_from_face(photo, result, face.face.points68, happy.points_in_photo()) == 0


def test_the_photo_judge_scores_the_edited_face_not_the_largest(example_photos):
    """In a photo of two people, an edit that makes its face the smaller one (disgust narrows a
    face) must still be judged on that face: judged by size, the other person was scored, at an
    identity distance of 0.85."""
    import cv2

    from lgan_cli.eval.photos import PhotoJudges

    photo = load_image(next(p for p in example_photos if p.name == "london_042_neutral.jpg"))
    canvas = np.full((900, 1500, 3), 200, np.uint8)
    big = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small = cv2.resize(photo, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)
    canvas[100 : 100 + big.shape[0], 50 : 50 + big.shape[1]] = big
    canvas[120 : 120 + small.shape[0], 800 : 800 + small.shape[1]] = small
    judges = PhotoJudges(torch.device("cpu"))
    try:
        faces = sorted(judges.detector.detect(canvas), key=lambda f: f.area)
        assert len(faces) == 2
        smaller, larger = faces
        assert judges.face_at(canvas, smaller.points68 + 5) is not None
        assert np.array_equal(judges.face_at(canvas, smaller.points68 + 5).points68, smaller.points68)
        assert np.array_equal(judges.face_at(canvas, larger.points68).points68, larger.points68)
        assert judges.face_at(np.full((300, 300, 3), 128, np.uint8), smaller.points68) is None
    finally:
        judges.close()
