"""Alignment to an S x S crop and the inverse warp back onto the photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lgan_cli.faces.align import Alignment, align_face
from lgan_cli.faces.ibug68 import eye_centres

from conftest import blob_centroid, blob_image


@pytest.mark.parametrize("size", [64, 128, 256, 512])
def test_aligned_face_is_upright_centred_and_whole(example_face, size):
    _, face = example_face
    crop_points = align_face(face.points68, size).to_crop(face.points68)
    right_eye, left_eye = eye_centres(crop_points)
    assert abs(right_eye[1] - left_eye[1]) < 0.03 * size  # eyes level (the x axis blends in the mouth)
    assert right_eye[0] < size / 2 < left_eye[0]
    # the whole face, with a margin, is inside the crop
    assert crop_points.min() > 0.05 * size and crop_points.max() < 0.95 * size
    width = crop_points[:, 0].max() - crop_points[:, 0].min()
    assert 0.45 * size < width < 0.8 * size


def test_rotation_and_scale_are_undone():
    """A rotated, shrunk, shifted copy of a face gives the same crop coordinates."""
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 300, size=(68, 2))
    base[36:42] += [-60, -40]  # put plausible eyes and mouth in place
    base[42:48] += [60, -40]
    base[48], base[54] = [170, 300], [230, 300]
    angle, scale, shift = np.deg2rad(25), 0.6, np.array([40.0, -15.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = base @ rotation.T + shift
    a, b = align_face(base, 128), align_face(moved, 128)
    assert np.abs(a.to_crop(base) - b.to_crop(moved)).max() < 1e-3
    assert b.scale == pytest.approx(a.scale / scale, rel=1e-6)


def test_point_round_trip_is_exact(example_face):
    _, face = example_face
    alignment = align_face(face.points68, 256)
    back = alignment.to_photo(alignment.to_crop(face.points68))
    assert np.abs(back - face.points68).max() < 1e-3


@pytest.mark.parametrize("size", [128, 512])
def test_image_round_trip_is_subpixel(size):
    """Blobs warped into the crop and back land within 0.5 px of where they started."""
    photo_size = (900, 1000)
    centres = np.array([[420.3, 380.7], [560.6, 402.2], [495.1, 560.9], [430.4, 470.5]])
    photo = blob_image(photo_size, centres, sigma=4.0)
    # a face-like frame: eyes at the first two blobs, mouth corners around the third
    points = np.zeros((68, 2))
    points[36:42], points[42:48] = centres[0], centres[1]
    points[48], points[54] = centres[2] - [25, 0], centres[2] + [25, 0]
    alignment = align_face(points, size)
    crop = alignment.crop(np.dstack([photo] * 3))
    height, width = photo_size
    back = cv2.warpAffine(
        crop, alignment.inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    inside = np.ones((size, size), dtype=np.float32)
    coverage = cv2.warpAffine(inside, alignment.inverse, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    for centre in centres:
        found = blob_centroid(back[..., 0], centre, window=12)
        assert np.hypot(*(found - centre)) < 0.5, (size, centre, found)
        assert coverage[int(centre[1]), int(centre[0])] == pytest.approx(1.0)
    assert coverage[0, 0] == 0.0  # corners of the photo are outside the crop


def test_crop_shrinks_with_area_averaging_not_aliasing():
    """A fine stripe pattern shrunk ~8x averages to grey instead of aliasing into stripes."""
    stripes = np.zeros((1600, 1600, 3), dtype=np.uint8)
    stripes[:, ::2] = 255
    points = np.zeros((68, 2))
    points[36:42], points[42:48] = [700, 700], [900, 700]
    points[48], points[54] = [760, 920], [840, 920]
    crop = align_face(points, 128).crop(stripes)
    assert crop.std() < 12 and abs(crop.mean() - 127.5) < 8


def test_alignment_json_round_trip(example_face):
    _, face = example_face
    alignment = align_face(face.points68, 128, zoom=1.2)
    again = Alignment.from_json(alignment.to_json())
    assert again.size == 128
    assert np.abs(again.to_crop(face.points68) - alignment.to_crop(face.points68)).max() < 1e-3


def test_zoom_crops_tighter(example_face):
    _, face = example_face
    loose = align_face(face.points68, 128, zoom=1.0).to_crop(face.points68)
    tight = align_face(face.points68, 128, zoom=1.3).to_crop(face.points68)
    assert np.ptp(tight[:, 0]) == pytest.approx(1.3 * np.ptp(loose[:, 0]), rel=1e-4)


@pytest.mark.parametrize("size", [32, 600])
def test_crop_size_limits(size):
    with pytest.raises(ValueError):
        align_face(np.zeros((68, 2)) + np.arange(68)[:, None], size)
