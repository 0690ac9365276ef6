"""Pasting an edited face crop back into the full-resolution photo (lgan_cli.faces.paste).

Real geometry: the 68 points of examples/london_001_neutral.jpg (1350 x 1350), detected once.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lgan_cli.faces.align import Alignment, align_face
from lgan_cli.faces.decode import load_image
from lgan_cli.faces.paste import colour_ring, face_mask, match_colours, paste_back, paste_faces, unchanged_mask

from conftest import EXAMPLES

IDENTITY_MEAN_DIFF = {128: 5.0, 256: 3.5}
"""Bounds on the mean abs difference (grey levels) of an unedited paste inside the face:
measured 3.4 at 128 px and 2.2 at 256 px (resampling blur of the down-and-up warp)."""


@pytest.fixture(scope="module")
def scene(detector) -> tuple[np.ndarray, np.ndarray]:
    """(photo, points68) of the first London example."""
    photo = load_image(EXAMPLES / "london_001_neutral.jpg")
    faces = detector.detect(photo)
    assert len(faces) == 1
    return photo, faces[0].points68


def setup(photo: np.ndarray, points: np.ndarray, size: int) -> tuple[Alignment, np.ndarray, np.ndarray, np.ndarray]:
    """(alignment, crop points, aligned crop, face mask) at `size` px."""
    alignment = align_face(points, size)
    crop_points = alignment.to_crop(points)
    return alignment, crop_points, alignment.crop(photo), face_mask(crop_points, size)


def warped_mask(alignment: Alignment, mask: np.ndarray, photo_shape: tuple[int, ...]) -> np.ndarray:
    """The crop mask in photo coordinates, warped over the whole photo (the reference for the box logic)."""
    height, width = photo_shape[:2]
    return cv2.warpAffine(
        mask, alignment.inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def at(image: np.ndarray, point: np.ndarray) -> np.ndarray:
    x, y = np.round(point).astype(int)
    return image[y, x]


# --------------------------------------------------------------------------- the mask


@pytest.mark.parametrize("size", [64, 128, 256])
def test_mask_is_zero_at_the_border_one_on_the_face_and_feathered(scene, size):
    photo, points = scene
    _, crop_points, _, mask = setup(photo, points, size)
    assert mask.shape == (size, size) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    assert border.max() == 0.0
    assert at(mask, crop_points[30]) == pytest.approx(1.0)  # nose tip
    assert at(mask, crop_points[8]) == pytest.approx(1.0)  # chin: the jaw line is inside the region
    assert ((mask > 0.01) & (mask < 0.99)).sum() > 4 * size  # a real feather, all round the face
    # the forehead above the brows is in the face
    brow_mid = (crop_points[19] + crop_points[24]) / 2
    assert at(mask, brow_mid - [0, 0.1 * size]) == pytest.approx(1.0)


def test_mask_falls_monotonically_away_from_the_face(scene):
    photo, points = scene
    _, crop_points, _, mask = setup(photo, points, 256)
    nose = crop_points[30]
    for angle in np.deg2rad(np.arange(0, 360, 30)):
        ray = nose + np.outer(np.arange(0, 180), [np.cos(angle), np.sin(angle)])
        ray = ray[(ray >= 0).all(axis=1) & (ray <= 255).all(axis=1)]
        values = np.array([at(mask, p) for p in ray])
        assert values[0] == pytest.approx(1.0) and values[-1] == 0.0
        assert np.diff(values).max() <= 1e-6  # never rises again on the way out


def test_mask_unites_source_and_target_points(scene):
    """A generated target with a lowered chin widens the region beyond the source face."""
    photo, points = scene
    _, crop_points, _, source_mask = setup(photo, points, 256)
    target = crop_points.copy()
    target[5:12, 1] += 15  # open the mouth / drop the chin
    target_mask = face_mask(target, 256)
    union = face_mask(np.stack([crop_points, target]), 256)
    assert (union >= np.maximum(source_mask, target_mask) - 1e-6).all()
    assert at(source_mask, target[8]) < 0.5 < at(union, target[8]) == pytest.approx(1.0)


# --------------------------------------------------------------------------- colours


def test_colour_matching_undoes_a_brightness_drift(scene):
    photo, points = scene
    _, _, crop, mask = setup(photo, points, 256)
    brighter = np.clip(crop.astype(np.int16) + 30, 0, 255).astype(np.uint8)
    matched = match_colours(brighter, crop, mask)
    ring = colour_ring(mask)
    assert ring.sum() > 1000 and not ring[mask == 0].any()
    residual = np.abs(matched[ring].mean(axis=0) - crop[ring].mean(axis=0))
    assert residual.max() < 1.0  # measured 0.12 grey levels (from 30)
    assert matched.dtype == np.uint8 and matched.shape == crop.shape
    # matching a crop to itself changes nothing but Lab rounding
    assert np.abs(match_colours(crop, crop, mask).astype(int) - crop).max() <= 1


def test_colour_matching_is_robust_to_a_flat_crop(scene):
    """A constant crop has no contrast to scale: the clamp keeps it flat, only its mean moves."""
    photo, points = scene
    _, _, crop, mask = setup(photo, points, 128)
    flat = np.full_like(crop, 40)
    matched = match_colours(flat, crop, mask)
    ring = colour_ring(mask)
    assert matched.std(axis=(0, 1)).max() <= 1.0
    # it takes the ring's mean colour; means are taken in Lab, hence a few levels off the RGB mean
    assert np.abs(matched[ring].mean(axis=0) - crop[ring].mean(axis=0)).max() < 8.0  # measured 5.4


# --------------------------------------------------------------------------- pasting


@pytest.mark.parametrize("size", [128, 256])
def test_pixels_outside_the_mask_are_unchanged(scene, size):
    photo, points = scene
    alignment, _, crop, mask = setup(photo, points, size)
    edited = 255 - crop  # the most visible edit: every crop pixel changes
    out = paste_back(photo, edited, alignment, mask, colour_reference_crop=crop)

    assert out.shape == photo.shape and out.dtype == np.uint8
    warped = warped_mask(alignment, mask, photo.shape)
    diff = np.abs(out.astype(np.int16) - photo).max(axis=2)
    assert diff[warped == 0].max() <= 2
    assert diff[warped > 0.5].mean() > 20  # the edit did land

    ys, xs = np.nonzero(warped > 0)
    margin = 4
    outside = np.ones(photo.shape[:2], dtype=bool)
    top, left = max(0, ys.min() - margin), max(0, xs.min() - margin)
    outside[top : ys.max() + margin + 1, left : xs.max() + margin + 1] = False
    assert np.array_equal(out[outside], photo[outside])


def test_paste_returns_a_new_photo_of_the_same_size(scene):
    photo, points = scene
    before = photo.copy()
    alignment, _, crop, mask = setup(photo, points, 128)
    out = paste_back(photo, 255 - crop, alignment, mask)
    assert out is not photo and out.shape == photo.shape and out.dtype == photo.dtype
    assert np.array_equal(photo, before)  # the input is left alone


@pytest.mark.parametrize("size", [128, 256])
def test_pasting_the_unedited_crop_barely_changes_the_face(scene, size):
    photo, points = scene
    alignment, _, crop, mask = setup(photo, points, size)
    out = paste_back(photo, crop, alignment, mask, colour_reference_crop=crop)
    inside = warped_mask(alignment, mask, photo.shape) > 0.5
    mean_diff = np.abs(out.astype(np.int16) - photo)[inside].mean()
    assert mean_diff < IDENTITY_MEAN_DIFF[size]


def test_identity_paste_through_a_shrunk_crop(scene):
    """A 512 px crop of a small photo face (shrunk ~2.7x going back) pastes cleanly too."""
    photo, points = scene
    small = cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA)
    factor = 300 / photo.shape[1]
    small_points = (points + 0.5) * factor - 0.5
    alignment, _, crop, mask = setup(small, small_points, 512)
    assert alignment.scale > 2
    out = paste_back(small, crop, alignment, mask, colour_reference_crop=crop)
    warped = warped_mask(alignment, mask, small.shape)
    diff = np.abs(out.astype(np.int16) - small)
    assert diff[warped > 0.5].mean() < 2.0
    assert diff.max(axis=2)[warped == 0].max() <= 2


def test_the_edit_shows_where_the_mask_is_one(scene):
    photo, points = scene
    alignment, crop_points, crop, mask = setup(photo, points, 128)
    red = crop.copy()
    red[mask > 0.99] = (255, 0, 0)
    out = paste_back(photo, red, alignment, mask)  # no colour reference: keep the red
    x, y = np.round(points[30]).astype(int)
    patch = out[y - 10 : y + 11, x - 10 : x + 11].reshape(-1, 3).astype(int)
    assert (patch[:, 0] >= 245).all() and (patch[:, 1:] <= 10).all()


def test_paste_faces_applies_every_edit_in_order(scene):
    photo, points = scene
    alignment, _, crop, mask = setup(photo, points, 128)
    second = align_face(points, 256)
    second_crop = second.crop(photo)
    second_mask = face_mask(second.to_crop(points), 256)
    edits = [(255 - crop, alignment, mask, None), (np.full_like(second_crop, 90), second, second_mask, None)]
    out = paste_faces(photo, edits)
    expected = paste_back(paste_back(photo, *edits[0][:3]), *edits[1][:3])
    assert np.array_equal(out, expected)
    unchanged = paste_faces(photo, [])
    assert unchanged is not photo and np.array_equal(unchanged, photo)


def test_an_empty_mask_changes_nothing(scene):
    photo, points = scene
    alignment, _, crop, mask = setup(photo, points, 64)
    out = paste_back(photo, 255 - crop, alignment, np.zeros_like(mask))
    assert np.array_equal(out, photo)


def test_mismatched_sizes_are_refused(scene):
    photo, points = scene
    alignment, _, crop, mask = setup(photo, points, 128)
    with pytest.raises(ValueError):
        paste_back(photo, crop[:64, :64], alignment, mask)
    with pytest.raises(ValueError):
        paste_back(photo, crop, alignment, mask[:64, :64])


# --------------------------------------------------------------------------- the photo's own detail


def test_unchanged_mask_keeps_untouched_areas_and_drops_edited_ones_with_a_margin(scene):
    photo, points = scene
    _, crop_points, crop, _ = setup(photo, points, 128)
    soft = cv2.GaussianBlur(crop, (0, 0), 1.0)  # a generator's softness is not a change
    assert unchanged_mask(crop, soft).min() > 0.95
    edited = soft.copy()
    x, y = np.round(crop_points[66]).astype(int)  # the inner lower lip: a new mouth of 16 x 10 px
    edited[y - 5 : y + 5, x - 8 : x + 8] = (250, 250, 250)
    keep = unchanged_mask(crop, edited)
    assert keep.shape == (128, 128) and keep.dtype == np.float32
    assert keep[y - 6 : y + 6, x - 9 : x + 9].max() < 0.05  # the new mouth and its edge
    assert keep[:40].min() > 0.95  # the forehead and eyes, far from it


@pytest.mark.parametrize("size", [128, 256])
def test_keep_detail_restores_the_photos_sharpness_where_the_face_is_unedited(scene, size):
    """A soft crop (as the generator renders) pasted with keep_detail comes back close to the photo."""
    photo, points = scene
    alignment, _, crop, mask = setup(photo, points, size)
    soft = cv2.GaussianBlur(crop, (0, 0), 1.0)
    plain = paste_back(photo, soft, alignment, mask, colour_reference_crop=crop)
    detailed = paste_back(photo, soft, alignment, mask, colour_reference_crop=crop, keep_detail=True)
    inside = warped_mask(alignment, mask, photo.shape) > 0.99
    error = lambda out: np.abs(out.astype(np.int16) - photo)[inside].mean()  # noqa: E731
    assert error(detailed) < 0.6 * error(plain), (error(detailed), error(plain))
    sharpness = lambda image: np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_32F))[inside].mean()  # noqa: E731
    assert sharpness(detailed) > 1.5 * sharpness(plain)
    warped = warped_mask(alignment, mask, photo.shape)
    assert np.abs(detailed.astype(np.int16) - photo).max(axis=2)[warped == 0].max() <= 2


def test_keep_detail_adds_no_old_detail_where_the_edit_changed_the_face(scene):
    photo, points = scene
    alignment, crop_points, crop, mask = setup(photo, points, 128)
    flat = crop.copy()
    x, y = np.round(crop_points[62]).astype(int)
    flat[y - 12 : y + 12, x - 20 : x + 20] = (20, 20, 20)  # repaint the mouth area: a flat dark opening
    detailed = paste_back(photo, flat, alignment, mask, colour_reference_crop=crop, keep_detail=True)
    plain = paste_back(photo, flat, alignment, mask, colour_reference_crop=crop)
    px, py = np.round(points[62]).astype(int)
    reach = int(6 / alignment.scale)  # 6 crop px into the repainted area, in photo px
    window = (slice(py - reach, py + reach), slice(px - reach, px + reach))
    assert np.abs(detailed[window].astype(np.int16) - plain[window]).max() <= 2


def test_keep_detail_is_a_no_op_when_the_crop_is_as_fine_as_the_photo(scene):
    photo, points = scene
    small = cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA)
    small_points = (points + 0.5) * 300 / photo.shape[1] - 0.5
    alignment, _, crop, mask = setup(small, small_points, 256)
    soft = cv2.GaussianBlur(crop, (0, 0), 1.0)
    assert 1 / alignment.scale < 1.5
    assert np.array_equal(
        paste_back(small, soft, alignment, mask, crop, keep_detail=True), paste_back(small, soft, alignment, mask, crop)
    )
