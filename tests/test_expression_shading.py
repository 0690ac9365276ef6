"""The skin's change of light under a new expression (`faces/expression_shading.py`): where it
darkens, where it may not touch, how it scales, and `--shading` on the models and the CLI.

Uses the bundled face model and real MediaPipe points of an example photo; the CLI and crop
tests also the bundled default model.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_geometry import ICT_NPZ, SKIP_ICT

from conftest import edit_with_landmarks, run_cli


@pytest.fixture(scope="module")
def face(example_photos, detector):
    """(rgb, detected 68 points) of a neutral example photo."""
    from lgan_cli.faces.decode import load_image

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    rgb = load_image(next(p for p in example_photos if p.name == "london_042_neutral.jpg"))
    return rgb, detector.detect(rgb)[0].points68


def smile(points: np.ndarray, level: int) -> np.ndarray:
    from lgan_cli.geometry import fit_face, transfer

    return transfer(fit_face(points), "happy", level)


def inside(shape, polygon: np.ndarray, grow: int = 0) -> np.ndarray:
    from lgan_cli.faces.mouth_interior import polygon_mask

    mask = (polygon_mask(shape, polygon) > 0).astype(np.uint8)
    return (cv2.dilate(mask, np.ones((2 * grow + 1,) * 2, np.uint8)) if grow else mask).astype(bool)


def test_a_smile_darkens_the_folds_beside_the_mouth_and_nothing_outside_the_face(face):
    from lgan_cli.faces.expression_shading import shade_expression
    from lgan_cli.faces.mouth_interior import inner_lip_outline

    rgb, points = face
    target = smile(points, 4)
    shaded = shade_expression(rgb, points, target)
    changed = (shaded != rgb).any(axis=2)
    outline = inside(rgb.shape[:2], cv2.convexHull(target.astype(np.float32)).reshape(-1, 2), grow=1)
    assert changed.sum() > 5000
    assert not (changed & ~outline).any()  # nothing outside the target face's outline
    assert not (changed & inside(rgb.shape[:2], inner_lip_outline(target))).any()  # the drawn mouth's place
    luminance = lambda image: image.astype(np.float64).mean(axis=2)  # noqa: E731
    darker = luminance(rgb) - luminance(shaded)
    for wing, jaw in ((31, 2), (35, 14)):  # the raised cheek's underside, above the fold beside the nose
        x, y = np.round((target[wing] + target[jaw]) / 2).astype(int)
        assert darker[y - 6 : y + 7, x - 6 : x + 7].mean() > 0.5


def test_no_change_of_expression_no_change_of_a_pixel(face):
    from lgan_cli.faces.expression_shading import shade_expression, shading_ratio

    rgb, points = face
    assert shade_expression(rgb, points, points) is rgb  # an identity request, intensity 0
    assert shade_expression(rgb, points, smile(points, 4), gains=(0.0, 0.0, 0.0)) is rgb
    assert shading_ratio(points, points + 1e-5, rgb.shape[:2]) is None


def test_the_change_of_light_grows_with_the_level_and_the_gain_up_to_a_limit(face):
    from lgan_cli.faces.expression_shading import LOG_LIMIT, channel_log_ratios, shading_ratio

    rgb, points = face
    strength = {}
    for level in (1, 2, 4):
        _, log_ratio = shading_ratio(points, smile(points, level), rgb.shape[:2])
        strength[level] = np.abs(log_ratio).mean()
    assert 0 < strength[1] < strength[2] < strength[4]
    _, log_ratio = shading_ratio(points, smile(points, 4), rgb.shape[:2])
    half, quarter = (channel_log_ratios(log_ratio, (gain,) * 3) for gain in (0.5, 0.25))
    assert np.abs(half).max() < LOG_LIMIT  # within the limit the gain scales the log-ratio
    assert np.abs(quarter).mean() == pytest.approx(np.abs(half).mean() / 2, rel=1e-4)
    assert np.abs(channel_log_ratios(log_ratio, (50.0,) * 3)).max() <= LOG_LIMIT  # a fold, never a glare


def test_folds_stay_warm_red_light_changes_least(face):
    """Real smiles' folds change red light least (skin scatters it): with the fitted gains, where
    the skin darkens, its red falls by a smaller share than its blue."""
    from lgan_cli.faces.expression_shading import SHADING_GAINS, shade_expression

    rgb, points = face
    assert SHADING_GAINS[0] < SHADING_GAINS[1] <= SHADING_GAINS[2]
    shaded = shade_expression(rgb, points, smile(points, 4)).astype(np.float64)
    before = rgb.astype(np.float64)
    darker = (shaded.sum(axis=2) < before.sum(axis=2) - 6) & (before.min(axis=2) > 40)
    assert darker.sum() > 500
    share = 1 - shaded[darker].sum(axis=0) / before[darker].sum(axis=0)  # per channel: light lost
    assert 0 < share[0] < share[2]


def test_a_face_without_colour_gets_one_gain_for_every_channel():
    from lgan_cli.faces.expression_shading import SHADING_GAINS, face_gains

    grey = np.repeat(np.linspace(30, 220, 500)[:, None], 3, axis=1).astype(np.uint8)
    skin = np.tile(np.array([[205, 150, 120]], np.uint8), (500, 1))
    muted = np.tile(np.array([[170, 160, 155]], np.uint8), (500, 1))  # chroma 0.09: a washed-out photo
    assert np.ptp(face_gains(grey)) == 0  # a greyscale photo stays grey
    assert np.allclose(face_gains(skin), SHADING_GAINS)
    assert 0 < np.ptp(face_gains(muted)) < np.ptp(SHADING_GAINS)
    assert np.all(face_gains(grey, (0.0, 0.0, 0.0)) == 0)


def test_shading_is_a_checked_setting():
    from lgan_cli.models.config import ModelConfig
    from lgan_cli.models.editor import CopyEditor
    from lgan_cli.models.load import with_inference_settings

    assert ModelConfig().shading == "none"
    with pytest.raises(ValueError, match="shading must be one of"):
        ModelConfig(shading="ray-traced")
    with pytest.raises(ValueError, match="--shading must be one of"):
        with_inference_settings(CopyEditor(), shading="ray-traced")
    with pytest.raises(ValueError, match="--shading needs a warp model"):
        with_inference_settings(CopyEditor(), shading="none")


def test_edit_shading_option_changes_only_the_skin_inside_the_face(tmp_path, example_photos, capsys, monkeypatch):
    """The default model shades the moved skin; `--shading none` leaves the moved pixels as they are.
    The two photos differ only inside the target face's outline, never in the mouth's opening,
    and the shaded one is darker beside the mouth's corners."""
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.mouth_interior import inner_lip_outline

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    shaded_path, target = edit_with_landmarks(photo, ["--expr", "happy"], tmp_path, capsys, "shaded")
    plain_path, same = edit_with_landmarks(photo, ["--expr", "happy", "--shading", "none"], tmp_path, capsys, "plain")
    assert np.array_equal(target, same)
    shaded, plain = load_image(shaded_path), load_image(plain_path)
    changed = (shaded != plain).any(axis=2)
    outline = inside(shaded.shape[:2], cv2.convexHull(target.astype(np.float32)).reshape(-1, 2), grow=1)
    assert changed.sum() > 2000 and not (changed & ~outline).any()
    assert not (changed & inside(shaded.shape[:2], inner_lip_outline(target))).any()
    code, _, stderr = run_cli(
        ["edit", photo, "--expr", "happy", "--shading", "gouraud", "--out", tmp_path / "x.png"], capsys
    )
    assert code != 0 and "--shading must be one of" in stderr


def test_the_default_models_crops_carry_the_shading_the_photo_gets(example_photos, detector):
    """Crop-level evaluation scores the crops as delivered: with "face-model" shading they carry the
    skin's change of light drawn at the crop's resolution, and the batch grid's crops are the same."""
    import torch

    from lgan_cli.editing import edit_crops, find_faces
    from lgan_cli.faces.decode import load_image
    from lgan_cli.models.editor import LandmarkGANEditor, crops_as_delivered
    from lgan_cli.models.load import load_editor
    from lgan_cli.pixels import to_pictures, to_tensor

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    editor = load_editor("london-warp-128", torch.device("cpu"), offline=True)
    assert editor.shading == "face-model"
    plain_editor = LandmarkGANEditor(editor.model, editor.name, shading="none")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    found = find_faces(detector, load_image(photo), editor.resolution, "largest", "photo")[0]
    crop, points = to_tensor(found.crop), torch.from_numpy(found.points)[None].float()
    with torch.no_grad():
        result = editor.edit(crop, points, ["happy"], [None])
    shaded = to_pictures(crops_as_delivered(editor, result, crop, points))[0]
    plain = to_pictures(crops_as_delivered(plain_editor, result, crop, points))[0]
    target = result.points68[0].numpy()
    changed = (shaded != plain).any(axis=2)
    outline = inside(shaded.shape[:2], cv2.convexHull(target.astype(np.float32)).reshape(-1, 2), grow=1)
    assert changed.sum() > 50 and not (changed & ~outline).any()
    (edit,) = edit_crops(editor, [(found, "happy", None)], torch.device("cpu"))
    assert edit.shading == "face-model"
    assert np.abs(edit.delivered_crop().astype(int) - shaded).max() <= 1


def test_faces_cut_by_the_border_or_tiny_are_shaded_without_error(face):
    """A face running off the photo's edge (chin or half the face cut) and faces a few pixels wide:
    the skin is shaded where it is in the photo, nothing else."""
    from lgan_cli.faces.expression_shading import shade_expression

    rgb, points = face
    target = smile(points, 4)
    for cut in (rgb[:, : int(points[:, 0].mean())], rgb[: int(points[57, 1]) - 5]):
        cut = np.ascontiguousarray(cut)
        assert (shade_expression(cut, points, target) != cut).any()
    centre = points.mean(axis=0)
    for scale in (0.01, 0.03, 0.1):  # faces about 3, 10 and 30 px wide in a 60 px image
        flat = np.full((60, 60, 3), 128, np.uint8)
        shaded = shade_expression(flat, (points - centre) * scale + 30, (target - centre) * scale + 30)
        assert shaded.shape == flat.shape
