"""Edits of photos that already show an expression (a smile with teeth, squinting eyes), where a
warp alone fails: eyes asked to open far beyond what the photo shows, a learned flow that
magnifies the lashes, teeth drawn grey from squinting eyes, and a smile's teeth squeezed between
lips that should meet. The ICT tests use the bundled face model; the photo test also the bundled
expression model.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from test_geometry import ICT_NPZ, SKIP_ICT
from test_mouth_interior import exact_fit, ict, painted_photo  # noqa: F401 (ict: a fixture)

from conftest import edit_with_landmarks

TEETH = (250, 247, 240)


def eye_points(gap_right: float, gap_left: float) -> torch.Tensor:
    """(1, 68, 2) points whose eyes have the given lid gaps (everything else spread out)."""
    points = torch.arange(136, dtype=torch.float32).reshape(1, 68, 2)
    for corner_l, upper, lower, corner_r, x, gap in (
        (36, (37, 38), (41, 40), 39, 40.0, gap_right),
        (42, (43, 44), (47, 46), 45, 80.0, gap_left),
    ):
        points[0, corner_l] = torch.tensor([x - 12, 50.0])
        points[0, corner_r] = torch.tensor([x + 12, 50.0])
        for k, (u, lo) in enumerate(zip(upper, lower)):
            points[0, u] = torch.tensor([x - 4 + 8 * k, 50.0 - gap / 2])
            points[0, lo] = torch.tensor([x - 4 + 8 * k, 50.0 + gap / 2])
    return points


def test_an_eye_opens_at_most_the_limit_times_the_photos_own():
    from lgan_cli.models.warpable import EYE_OPENING_LIMIT, lid_gaps, limit_eye_opening

    source = eye_points(4.0, 0.0)  # the left eye closed in the photo
    within = eye_points(4.0 * 1.3, 0.0)
    assert limit_eye_opening(source, within) is within  # nothing to limit: the very same points
    asked = eye_points(4.0 * 2.2, 3.0)
    asked[0, 30] += 5.0  # a point that is not a lid moves as asked
    limited = limit_eye_opening(source, asked)
    gaps = lid_gaps(limited)[0]
    assert gaps[0].item() == pytest.approx(EYE_OPENING_LIMIT * 4.0, abs=1e-4)
    assert gaps[1].item() == pytest.approx(0.0, abs=1e-5)  # a closed eye stays closed
    lids = [37, 38, 40, 41, 43, 44, 46, 47]
    others = [i for i in range(68) if i not in lids]
    assert torch.equal(limited[0, others], asked[0, others])  # corners, brows, the rest: as asked
    middle = lambda p: (p[0, [37, 38]] + p[0, [41, 40]]) / 2  # noqa: E731
    assert torch.allclose(middle(limited), middle(asked))  # the lids close about their midline


def mouth_points(gaps: tuple[float, float, float], angle: float = 0.0) -> torch.Tensor:
    """(1, 68, 2) points whose inner-lip pairs (61/67, 62/66, 63/65) are `gaps` apart (negative:
    the lower lip above the upper), the face turned by `angle` radians about (64, 64)."""
    points = torch.arange(136, dtype=torch.float32).reshape(1, 68, 2) * 0.5 + 20
    points[0, 48], points[0, 54] = torch.tensor([40.0, 90.0]), torch.tensor([88.0, 90.0])
    points[0, 60], points[0, 64] = torch.tensor([46.0, 90.0]), torch.tensor([82.0, 90.0])
    for k, ((upper, lower), gap) in enumerate(zip(((61, 67), (62, 66), (63, 65)), gaps)):
        x = 54.0 + 10 * k + 0.5 * k * k  # the lower point a little off the upper, as detected
        points[0, upper] = torch.tensor([x, 90.0 - gap / 2])
        points[0, lower] = torch.tensor([x + 0.7, 90.0 + gap / 2])
    turn = torch.tensor([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=torch.float32)
    return (points - 64) @ turn.T + 64


@pytest.mark.parametrize("angle", [0.0, 0.5, np.pi])  # upright, a tilted head, upside down
def test_crossed_lips_meet_at_their_seam(angle):
    """Sadness's chin raiser pushes the 3D model's lower lip up through the upper one: those
    crossed pairs are moved apart about their midpoint until they meet; parted and just-closed
    pairs stay exactly as asked, and a crossing the photo's own points show is kept."""
    from lgan_cli.faces.mouth_interior import lip_gap
    from lgan_cli.models.warpable import lip_separations, lips_meet

    closed = mouth_points((0.0, 0.0, 0.0), angle)
    parted = mouth_points((3.0, 4.0, 0.0), angle)
    assert lips_meet(closed, parted) is parted
    crossed = mouth_points((-2.0, -3.0, 2.0), angle)
    met = lips_meet(closed, crossed)
    assert torch.allclose(lip_separations(met)[0], torch.tensor([0.0, 0.0, 2.0]), atol=1e-5)
    for upper, lower in ((61, 67), (62, 66)):
        assert torch.allclose(met[0, upper] + met[0, lower], crossed[0, upper] + crossed[0, lower], atol=1e-5)
    others = [i for i in range(68) if i not in (61, 67, 62, 66)]
    assert torch.equal(met[0, others], crossed[0, others])
    # the photo's own crossed detection: an identity request stays exact, a deeper crossing stops there
    pressed = mouth_points((-1.0, -1.0, -1.0), angle)
    assert lips_meet(pressed, pressed) is pressed
    deeper = lips_meet(pressed, mouth_points((-3.0, -1.0, 0.0), angle))
    assert torch.allclose(lip_separations(deeper)[0], torch.tensor([-1.0, -1.0, 0.0]), atol=1e-5)
    # the lip gap counts crossed pairs as negative: a shut mouth, however far the points cross
    assert lip_gap(crossed[0].numpy().astype(np.float64)) < 0 < lip_gap(parted[0].numpy().astype(np.float64))


def test_no_interior_is_drawn_between_crossed_lips():
    """An unsigned gap took sadness's crossed lips for an opening and drew a band of teeth in the
    frown; crossed lips are shut, and the photo comes back unchanged."""
    from lgan_cli.faces.mouth_interior import paint_mouth_interior

    photo = np.full((128, 128, 3), 120, np.uint8)
    source = mouth_points((0.2, 0.2, 0.2))[0].numpy()
    target = mouth_points((-4.0, -5.0, -4.0))[0].numpy()
    assert paint_mouth_interior(photo, photo, source, target) is photo


def test_the_learned_flow_fades_where_it_would_magnify_the_photo():
    from lgan_cli.models.flow import STRETCH_GONE, area_ratio, limit_stretch

    size = 64
    prior = torch.zeros(1, size, size, 2)
    ys = torch.arange(size, dtype=torch.float32)[:, None].expand(size, size)
    # a local lift (the lids' region pulled up onto a few source rows): the photo magnified 5x
    bump = lambda slope: -slope * (ys - 32) * torch.exp(-(((ys - 32) / 6) ** 2))  # noqa: E731
    pulled = torch.zeros(1, size, size, 2)
    pulled[0, ..., 1] = bump(0.8)
    before = area_ratio(prior + pulled).min().item()
    limited = limit_stretch(pulled, prior, pool=8)
    after = area_ratio(prior + limited).min().item()
    assert before < 0.25 and after > STRETCH_GONE - 0.05
    # a gentle residual (the photo stretched by 10 %) is left exactly as it is
    gentle = torch.zeros(1, size, size, 2)
    gentle[0, ..., 1] = bump(0.1)
    assert torch.equal(limit_stretch(gentle, prior, pool=8), gentle)


def smiling_photo(basis):
    """A painted face with its mouth open on white teeth and dull grey eyes (a squint shows little
    white), its 68 points, and the same person's closed neutral mouth."""
    from lgan_cli.faces.mouth_interior import inner_lip_outline, polygon_mask

    source = exact_fit(basis, {"jawOpen": 0.35, "mouthSmile_L": 0.6, "mouthSmile_R": 0.6}).points
    photo = painted_photo(basis, source).astype(np.float32)
    for eye in (slice(36, 42), slice(42, 48)):
        alpha = polygon_mask(photo.shape[:2], source[eye])[..., None]
        photo = photo * (1 - alpha) + np.array((120, 110, 100), np.float32) * alpha
    alpha = polygon_mask(photo.shape[:2], inner_lip_outline(source))[..., None]
    photo = photo * (1 - alpha) + np.array(TEETH, np.float32) * alpha
    return np.round(photo).astype(np.uint8), source, exact_fit(basis, {}).points


def test_teeth_are_the_photos_own_when_it_shows_them(ict):  # noqa: F811
    from lgan_cli.faces.mouth_interior import FRONT_TEETH_LIGHT, sample_mouth_colours, to_linear

    basis, _ = ict
    photo, source, _ = smiling_photo(basis)
    seen = sample_mouth_colours(photo, source).teeth * FRONT_TEETH_LIGHT  # as the front teeth are lit
    assert np.allclose(seen, to_linear(np.array(TEETH)), atol=0.05)  # not the grey eyes'
    closed = exact_fit(basis, {}).points
    seen = sample_mouth_colours(painted_photo(basis, closed), closed).teeth * FRONT_TEETH_LIGHT
    assert np.all(seen < 0.9)  # the eyes', tinted


def test_teeth_drawn_from_squinting_eyes_are_as_bright_as_teeth_go(ict):  # noqa: F811
    """Eyes that show no white (grey lids and lashes) would give grey teeth: their luminance is
    raised to TEETH_OVER_SKIN times the cheeks', and their colour made as much whiter."""
    from lgan_cli.faces.mouth_interior import (
        FRONT_TEETH_LIGHT,
        LUMINANCE,
        TEETH_OVER_SKIN,
        polygon_mask,
        sample_mouth_colours,
        to_linear,
    )

    basis, _ = ict
    closed = exact_fit(basis, {}).points
    photo = painted_photo(basis, closed).astype(np.float32)
    for eye in (slice(36, 42), slice(42, 48)):
        alpha = polygon_mask(photo.shape[:2], closed[eye])[..., None]
        photo = photo * (1 - alpha) + np.array((150, 110, 100), np.float32) * alpha  # lids, no white
    teeth = sample_mouth_colours(np.round(photo).astype(np.uint8), closed).teeth * FRONT_TEETH_LIGHT  # as lit
    skin = float(to_linear(np.array([190, 140, 115])) @ LUMINANCE)
    assert float(teeth @ LUMINANCE) == pytest.approx(TEETH_OVER_SKIN * skin, rel=0.05)
    eyes = to_linear(np.array([150, 110, 100]))
    assert teeth[0] / teeth[2] < eyes[0] / eyes[2]  # less red than the lids they were read from


def test_a_closing_mouth_gets_the_photos_lips_not_its_teeth(ict):  # noqa: F811
    from lgan_cli.faces.lips import outline, pushed_out, redraw_amounts, redraw_lips
    from lgan_cli.faces.mouth_interior import MIN_OPENING, lip_gap, polygon_mask

    basis, _ = ict
    photo, source, target = smiling_photo(basis)
    # the warp has left the teeth where the target's lips should meet (the photo itself stands in)
    out = redraw_lips(photo, photo, source, target)
    width = np.linalg.norm(target[54] - target[48])
    lips = np.vstack(
        [outline(target, [48, 49, 50, 51, 52, 53, 54]), outline(target, [48, 59, 58, 57, 56, 55, 54])[::-1]]
    )
    inside = polygon_mask(photo.shape[:2], lips) >= 1
    luminance = lambda image: image.astype(np.float32) @ [0.299, 0.587, 0.114]  # noqa: E731
    teeth_before = (luminance(photo)[inside] > 230).mean()
    teeth_after = (luminance(out)[inside] > 230).mean()
    assert teeth_before > 0.2 and teeth_after < 0.01
    red = out[inside].astype(np.float32)
    assert np.median(red[:, 0] - red[:, 1]) > 50  # lip red, from the photo's lips
    ring = 0.08 * width + 2
    outer = np.vstack(
        [
            pushed_out(outline(target, [48, 49, 50, 51, 52, 53, 54]), ring, -1.0),
            pushed_out(outline(target, [48, 59, 58, 57, 56, 55, 54]), ring, 1.0)[::-1],
        ]
    )
    far = polygon_mask(photo.shape[:2], outer) == 0
    assert np.array_equal(out[far], photo[far])  # nothing beyond the lips and their skin band
    # nothing to close: a photo with its mouth closed, or a target that stays open
    assert np.array_equal(redraw_lips(photo, photo, target, target), photo)
    assert redraw_amounts(source, source)[0] == 0.0
    assert redraw_amounts(source, target) == (1.0, 1.0)  # redrawn, meeting at the seam
    # the redrawing fades in as the target's opening shrinks (no pop in an animation)
    gap_of = lambda t: lip_gap(t) / np.linalg.norm(t[54] - t[48])  # noqa: E731
    fraction = 0.3 * gap_of(source) / (gap_of(source) - gap_of(target))  # a target 70 % as open
    assert 0.2 < redraw_amounts(source, source + fraction * (target - source))[0] < 0.8
    assert MIN_OPENING < 0.7 * gap_of(source)


def test_a_narrowed_mouth_gets_the_photos_lips_and_a_drawn_interior(ict):  # noqa: F811
    """A broad smile made sad: the target's opening is a third of the photo's. Its lips are the
    photo's lips (no teeth bent into them) and the narrow opening shows the 3D model's interior."""
    from lgan_cli.faces.lips import redraw_amounts, redraw_lips
    from lgan_cli.faces.mouth_interior import inner_lip_outline, polygon_mask

    basis, _ = ict
    photo, source, _ = smiling_photo(basis)
    target = exact_fit(basis, {"jawOpen": 0.12, "mouthFrown_L": 0.5, "mouthFrown_R": 0.5}).points
    strength, closed = redraw_amounts(source, target)
    assert strength == 1.0 and closed == 0.0
    out = redraw_lips(photo, photo, source, target)
    opening = polygon_mask(photo.shape[:2], inner_lip_outline(target))
    lips = (polygon_mask(photo.shape[:2], target[48:60]) >= 1) & (opening == 0)
    lips &= cv2.dilate((opening > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0  # not the rim
    white = lambda image, where: (image[where].min(axis=1) > 230).mean()  # noqa: E731
    assert white(photo, lips) > 0.2 and white(out, lips) < 0.01
    inside = opening >= 1
    assert inside.sum() > 50 and (out[inside] != photo[inside]).any(axis=1).mean() > 0.9


def test_a_smiling_photo_made_neutral_closes_its_lips(tmp_path, example_photos, capsys, monkeypatch):
    """The bundled model on the example smiling photo: `--expr neutral` with the drawn mouth (the
    default) leaves no teeth between the lips; `--mouth learned` still shows the squeezed smile."""
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.mouth_interior import polygon_mask

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_030_smiling.jpg")
    bright = {}
    for mouth in ("face-model", "learned"):
        args = ["--model", "london-all-warp-128", "--expr", "neutral", "--mouth", mouth]
        out, target = edit_with_landmarks(photo, args, tmp_path, capsys, name=mouth)
        image = load_image(out)
        lips = polygon_mask(image.shape[:2], target[48:60]) >= 1
        pixels = image[lips].astype(np.float32)
        whiteness = pixels.min(axis=1)  # teeth: bright in every channel, unlike lips and skin
        bright[mouth] = float((whiteness > 170).mean())
    # the same person's real neutral photo: 0.027 (the gloss on her lips); the smiling input: 0.30
    assert bright["learned"] > 0.15 and bright["face-model"] < 0.05


def test_a_neutral_photo_made_sad_keeps_its_lips_shut(tmp_path, example_photos, capsys, monkeypatch):
    """The bundled model on an example neutral photo, `--expr sad`: the 3D model's chin raiser
    crosses the target's inner lips, and the output shows the photo's closed lips, no teeth."""
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.mouth_interior import polygon_mask
    from lgan_cli.models.warpable import lip_separations

    if not ICT_NPZ.is_file():
        pytest.skip(SKIP_ICT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    args = ["--model", "london-all-warp-128", "--expr", "sad", "--intensity", "4"]
    out, points = edit_with_landmarks(photo, args, tmp_path, capsys)
    target = torch.tensor(points, dtype=torch.float32)[None]
    assert float(lip_separations(target).min()) > -0.05  # no crossed pair left (saved to 0.01 px; the photo: none)
    image, before = load_image(out), load_image(photo)
    lips = polygon_mask(image.shape[:2], target[0, 48:60].numpy()) >= 1
    luminance = lambda picture: picture[lips].astype(np.float32) @ [0.299, 0.587, 0.114]  # noqa: E731
    pale = lambda picture: float((luminance(picture) > 1.5 * np.median(luminance(before))).mean())  # noqa: E731
    # the band of drawn teeth made 20 % of the target's lips pale; shut lips stay under 10 % (the lower
    # lip's sheen, pushed up by the chin raiser: 8 % with the fitted 3D model's sad points)
    assert pale(image) < pale(before) + 0.1


def test_the_stretch_measure_finds_a_magnified_eye_and_ignores_the_mouth():
    """`lgan eval --photos`' stretch: 1 / the least area ratio of the edit's flow over the face
    minus the mouth. Lids pulled onto a few source rows read as a 3.4x magnification; the same pull
    at the mouth (which may open and fold) does not count; no flow, no measure."""
    from test_compose import schematic_face

    from lgan_cli.eval.photos import warp_magnification

    points = schematic_face()[0].numpy()
    size = 128
    ys = np.arange(size, dtype=np.float32)[:, None].repeat(size, axis=1)
    xs = ys.T

    def pull_at(column: float, row: float) -> np.ndarray:  # a small patch pulled together vertically
        flow = np.zeros((size, size, 2), np.float32)
        flow[..., 1] = -0.75 * (ys - row) * np.exp(-(((ys - row) / 4) ** 2) - ((xs - column) / 4) ** 2)
        return flow

    assert warp_magnification(np.zeros((size, size, 2), np.float32), points, points) == pytest.approx(1.0)
    central_difference = 0.75 * np.exp(-1 / 16)  # the slope the measure's pixel differences see
    expected = 1 / (1 - central_difference)  # 3.4
    assert warp_magnification(pull_at(42.0, 55.0), points, points) == pytest.approx(expected, rel=0.02)  # the eyes
    assert warp_magnification(pull_at(64.0, 88.0), points, points) < 1.2  # the mouth is left out
    assert warp_magnification(None, points, points) is None
