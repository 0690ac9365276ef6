"""Stage I's points anchored on the face's own (`target_points: anchored`).

G_l's reading of a face it never saw is off by about a pixel even where the expression moves
nothing; anchored, only G_l's motion moves the photo, from the face's neutral.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lgan_cli.models.anchoring import EXPRESSIVE_MOTION, anchored_points

from conftest import edit_with_landmarks, run_cli

SIZE = 128


def test_anchoring_keeps_g_ls_motion_on_the_faces_neutral_and_its_reading_only_of_expressive_lips():
    rng = np.random.default_rng(0)
    detected = torch.from_numpy(rng.uniform(20, 100, size=(1, 68, 2)).astype(np.float32))
    motion = torch.zeros_like(detected)
    motion[0, 48:68, 1] = -3.0  # the request lifts the mouth
    error = torch.from_numpy(rng.normal(0, 1.0, size=(1, 68, 2)).astype(np.float32))
    generated, own_neutral = detected + motion + error, detected + error
    neutral_face = anchored_points(generated, own_neutral, detected.clone(), detected, SIZE)
    assert torch.allclose(neutral_face, detected + motion, atol=1e-5)  # the error is gone, the motion kept

    # a smiling face: the fit's neutral moves its lips by 2 px, so there G_l's neutral reading is the
    # edit; elsewhere (here the jaw line, 2 px too) the face's neutral is the fit's, never G_l's reading
    fitted_neutral = detected.clone()
    fitted_neutral[0, 48:68, 1] += 2.0
    fitted_neutral[0, 0:17, 0] += 2.0
    smiling = anchored_points(generated, own_neutral, fitted_neutral, detected, SIZE)
    assert torch.allclose(smiling[0, 48:68], generated[0, 48:68])
    assert torch.allclose(smiling[0, :48], fitted_neutral[0, :48] + motion[0, :48], atol=1e-5)

    # in between, the lips' share of G_l's reading grows linearly with the neutralisation's motion
    fitted_neutral[0, 48:68, 1] = detected[0, 48:68, 1] + 0.25 * EXPRESSIVE_MOTION * SIZE
    partial = anchored_points(generated, own_neutral, fitted_neutral, detected, SIZE)
    expected = 0.25 * generated + 0.75 * (fitted_neutral + motion)
    assert torch.allclose(partial[0, 48:68], expected[0, 48:68], atol=1e-5)


@pytest.fixture(scope="module")
def shipped(example_photos, detector, london_root):
    """The bundled neutral <-> happy model and the example neutral photo's aligned face. (The fit
    needs ICT-FaceKit from ../shared, as the London data does.)"""
    from lgan_cli.editing import find_faces
    from lgan_cli.faces.decode import load_image
    from lgan_cli.models.load import load_editor

    editor = load_editor("london-warp-128", torch.device("cpu"), offline=True)
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    face = find_faces(detector, load_image(photo), editor.resolution, "largest", "photo")[0]
    crop = torch.from_numpy(face.crop.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return editor, crop, torch.from_numpy(face.points)[None]


def test_the_shipped_model_asked_for_the_neutral_a_neutral_photo_shows_leaves_its_points(shipped):
    from lgan_cli.models.editor import LandmarkGANEditor

    editor, crop, points = shipped
    assert editor.target_points == "anchored"
    generated = LandmarkGANEditor(editor.model, editor.name, target_points="generated")
    with torch.no_grad():
        anchored_neutral = editor.edit(crop, points, ["neutral"], [None]).points68
        generated_neutral = generated.edit(crop, points, ["neutral"], [None]).points68
        anchored_happy = editor.edit(crop, points, ["happy"], [None]).points68
        generated_happy = generated.edit(crop, points, ["happy"], [None]).points68
    # G_l's own reading is off by about a pixel; anchored, the neutral face stays where it was detected,
    # except where the fit reads expression in it (this person's high brows and pursed mouth)
    off = lambda p: (p - points)[0].norm(dim=-1)  # noqa: E731
    assert off(generated_neutral).mean() > 1.0  # 1.6 px
    assert off(anchored_neutral).mean() < 0.6 * off(generated_neutral).mean()  # 0.7 px
    nose = slice(27, 36)
    assert off(anchored_neutral)[nose].mean() < 0.3 * off(generated_neutral)[nose].mean()  # 0.19 vs 1.29 px
    # the smile is G_l's as before: the mouth corners rise and part as much
    corners = [48, 54]
    lift = lambda p: float((points[0, corners, 1] - p[0, corners, 1]).mean())  # noqa: E731
    assert lift(anchored_happy) > 1.0 and lift(anchored_happy) == pytest.approx(lift(generated_happy), abs=0.75)
    # while the brows, nose and eyes, which a London smile hardly moves, move less than G_l's reading did
    still = slice(27, 48)  # the nose and eyes: 0.53 px vs 1.13
    assert off(anchored_happy)[still].mean() < 0.6 * off(generated_happy)[still].mean()


def test_anchoring_needs_the_neutral_label():
    from lgan_cli.models.config import ModelConfig

    with pytest.raises(ValueError, match="neutral"):
        ModelConfig(expressions=("happy", "sad"), target_points="anchored")
    with pytest.raises(ValueError, match="target_points"):
        ModelConfig(target_points="fitted")


def test_edit_points_option_picks_the_points_and_refuses_what_it_cannot_do(
    tmp_path, example_photos, detector, capsys, monkeypatch
):
    """`lgan edit --points generated` gives G_l's points as they come (the paper's); the default
    (anchored) keeps a neutral photo asked for neutral where it was detected."""
    from lgan_cli.faces.decode import load_image

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    detected = detector.detect(load_image(photo))[0].points68
    args = ["--model", "london-warp-128", "--expr", "neutral"]
    _, anchored = edit_with_landmarks(photo, args, tmp_path, capsys, name="anchored")
    _, generated = edit_with_landmarks(photo, [*args, "--points", "generated"], tmp_path, capsys, name="generated")
    moved = lambda points: np.linalg.norm(points - detected, axis=1).mean()  # noqa: E731
    assert moved(anchored) < 0.6 * moved(generated)

    code, _, err = run_cli(["edit", photo, *args, "--points", "fitted", "--out", tmp_path / "x.png"], capsys)
    assert code == 1 and "--points must be one of generated, anchored" in err
    code, _, err = run_cli(
        ["edit", photo, "--model", "geometry", "--expr", "happy", "--points", "generated", "--out", tmp_path / "y.png"],
        capsys,
    )
    assert code == 1 and "needs a LandmarkGAN model" in err and "Traceback" not in err


def test_eval_points_option_scores_a_model_anchored_beside_its_own_points(
    tmp_path, example_photos, capsys, monkeypatch
):
    """`lgan eval --photos P --points anchored` on a model that ships its points as generated: the
    model anchored (its comparison rows too) and, beside it, the model as shipped."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    out = tmp_path / "eval.json"
    args = ["eval", "--model", "london-all-warp-128", "--photos", photo, "--expr", "sad", "--intensity", "4"]
    code, _, err = run_cli([*args, "--points", "anchored", "--json", out, "--device", "cpu"], capsys)
    assert code == 0, err
    methods = json.loads(out.read_text())["methods"]
    assert list(methods) == [
        "london-all-warp-128 (anchored points)",
        "london-all-warp-128 (prior warp only) (anchored points)",
        "london-all-warp-128 (learned mouth) (anchored points)",
        "london-all-warp-128",
    ]
    identity = {name: m["medians"]["identity_distance"] for name, m in methods.items()}
    assert identity["london-all-warp-128 (anchored points)"] != identity["london-all-warp-128"]
