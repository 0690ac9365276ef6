"""Applying a warp renderer's edit at the photo's resolution (lgan_cli.faces.compose).

Geometry is checked with Gaussian blobs: a known flow in crop pixels must move a blob in the
photo by the lifted displacement, to within half a photo pixel, through a rotated and scaled
alignment, and everything the edit does not reach stays bit for bit the input.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lgan_cli.faces.align import Alignment
from lgan_cli.faces.compose import compose_warp, lift_flow
from lgan_cli.models.flow import face_ellipse, face_window, pixel_grid, prior_flow

from conftest import blob_centroid, blob_image

PHOTO_SIZE = (900, 1200)  # (H, W)
CROP = 128


def rotated_alignment(scale: float = 0.11, degrees: float = 12.0, centre=(610.0, 430.0)) -> Alignment:
    """Photo -> crop similarity: `scale` crop px per photo px, rotated, centred on `centre`."""
    angle = np.radians(degrees)
    linear = scale * np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    shift = np.array([(CROP - 1) / 2, (CROP - 1) / 2]) - linear @ np.asarray(centre)
    return Alignment(np.hstack([linear, shift[:, None]]), CROP)


def smooth_bump(offset_crop: np.ndarray, centre_crop: np.ndarray, radius: float) -> np.ndarray:
    """(S, S, 2) flow: `offset_crop` near `centre_crop`, falling smoothly to 0 at `radius` crop px."""
    grid = pixel_grid(CROP).numpy()
    distance = np.linalg.norm(grid - centre_crop, axis=-1)
    weight = np.clip(1 - distance / radius, 0, 1) ** 2 * (3 - 2 * np.clip(1 - distance / radius, 0, 1))
    return (weight[..., None] * offset_crop).astype(np.float32)


@pytest.fixture()
def photo_and_blob():
    alignment = rotated_alignment()
    blob_photo = np.array([640.0, 455.0])
    grey = blob_image(PHOTO_SIZE, [blob_photo], sigma=4.0)
    photo = np.stack([grey, grey // 2 + 40, 255 - grey], axis=-1)
    return photo, alignment, blob_photo


def test_a_known_crop_flow_moves_the_photo_by_the_lifted_displacement(photo_and_blob):
    photo, alignment, blob_photo = photo_and_blob
    offset = np.array([1.5, -0.8], dtype=np.float32)  # crop pixels: the output takes the input from +offset
    expected = blob_photo - np.linalg.inv(alignment.matrix[:, :2]) @ offset  # content moves against the flow
    # the bump peaks (flat) where the blob lands: the pixel there takes the input at +offset
    flow = smooth_bump(offset, alignment.to_crop(expected[None])[0], radius=12.0)
    out = compose_warp(photo, alignment, flow, np.zeros((CROP, CROP), np.float32), np.zeros((CROP, CROP, 3), np.uint8))
    found = blob_centroid(out[..., 0], expected, window=14)
    assert np.linalg.norm(found - expected) < 0.5, (found, expected)
    assert np.linalg.norm(expected - blob_photo) > 10  # a real move: the offset is ~15 photo px


def test_lift_flow_is_the_inverse_linear_map_of_the_crop_flow():
    alignment = rotated_alignment(scale=0.2, degrees=-30)
    flow = np.zeros((CROP, CROP, 2), np.float32)
    flow[...] = (2.0, 1.0)
    box = (500, 350, 700, 500)
    lifted = lift_flow(flow, alignment, box)
    inside = lifted[lifted.shape[0] // 2, lifted.shape[1] // 2]
    np.testing.assert_allclose(inside, np.linalg.inv(alignment.matrix[:, :2]) @ (2.0, 1.0), rtol=1e-4)


def test_pixels_outside_the_edit_are_bit_identical(photo_and_blob):
    photo, alignment, blob_photo = photo_and_blob
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, photo.shape, dtype=np.uint8)  # noise: any resampling would show
    points = torch.from_numpy(rng.normal(CROP / 2, CROP / 9, size=(1, 68, 2)).astype(np.float32))
    moved = points.clone()
    moved[:, 48:68] += torch.tensor([0.0, 3.0])  # the mouth drops
    flow, window = prior_flow(points, moved, CROP)
    mask = np.zeros((CROP, CROP), np.float32)
    mask[60:70, 60:70] = 0.5 * window[0, 60:70, 60:70].numpy()
    out = compose_warp(photo, alignment, flow[0].numpy(), mask, np.full((CROP, CROP, 3), 200, np.uint8))
    support = (np.abs(flow[0].numpy()).max(axis=2) > 0) | (mask > 0)
    # photo pixels whose crop position is outside the support (with a pixel of interpolation reach)
    ys, xs = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    crop_xy = alignment.to_crop(np.stack([xs.ravel(), ys.ravel()], axis=1)).reshape(*photo.shape[:2], 2)
    inside_crop = (crop_xy >= -1).all(axis=-1) & (crop_xy <= CROP).all(axis=-1)
    cx, cy = np.clip(np.round(crop_xy).astype(int), 0, CROP - 1).transpose(2, 0, 1)
    grown = np.zeros_like(support)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            grown |= np.roll(np.roll(support, dy, 0), dx, 1)
    far = ~(inside_crop & grown[cy, cx])
    assert np.array_equal(out[far], photo[far])
    assert (out != photo).any()  # and the face did change
    assert out.shape == photo.shape and out.dtype == np.uint8


def test_moving_the_box_in_strips_gives_the_whole_box_result(photo_and_blob, monkeypatch):
    """The box is moved STRIP_ROWS photo rows at a time (memory); strips of 7 rows, cutting the
    flow and the painted square anywhere, give the same photo as one strip: the moved pixels bit
    for bit, the painted ones within a grey level (OpenCV rounds the colours' warp per strip)."""
    import lgan_cli.faces.compose as compose

    photo, alignment, _ = photo_and_blob
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, photo.shape, dtype=np.uint8)
    points = torch.from_numpy(rng.normal(CROP / 2, CROP / 9, size=(1, 68, 2)).astype(np.float32))
    moved = points.clone()
    moved[:, 48:68] += torch.tensor([1.5, 3.0])
    flow, window = prior_flow(points, moved, CROP)
    mask = np.zeros((CROP, CROP), np.float32)
    mask[58:71, 55:73] = 0.7 * window[0, 58:71, 55:73].numpy()
    colours = rng.integers(0, 256, (CROP, CROP, 3), dtype=np.uint8)
    for painted in (np.zeros_like(mask), mask):
        results = []
        for rows in (10**6, 7):
            monkeypatch.setattr(compose, "STRIP_ROWS", rows)
            results.append(compose_warp(photo, alignment, flow[0].numpy(), painted, colours).astype(int))
        assert (results[0] != photo).any()
        difference = np.abs(results[0] - results[1])
        if painted.any():
            assert difference.max() <= 1 and (difference > 0).any(axis=2).sum() < 0.001 * (results[0] != photo).sum()
        else:
            assert difference.max() == 0


def test_no_flow_and_no_mask_returns_the_photo_itself(photo_and_blob):
    photo, alignment, _ = photo_and_blob
    out = compose_warp(
        photo,
        alignment,
        np.zeros((CROP, CROP, 2), np.float32),
        np.zeros((CROP, CROP), np.float32),
        np.zeros((CROP, CROP, 3), np.uint8),
    )
    assert np.array_equal(out, photo) and out is not photo


def test_the_mask_blends_in_the_synthesised_colours(photo_and_blob):
    photo, alignment, blob_photo = photo_and_blob
    mask = np.zeros((CROP, CROP), np.float32)
    centre = np.round(alignment.to_crop(blob_photo[None])[0]).astype(int)
    mask[centre[1] - 10 : centre[1] + 10, centre[0] - 10 : centre[0] + 10] = 1.0
    colours = np.zeros((CROP, CROP, 3), np.uint8)
    colours[..., 1] = 250
    out = compose_warp(photo, alignment, np.zeros((CROP, CROP, 2), np.float32), mask, colours)
    x, y = np.round(blob_photo).astype(int)
    assert out[y, x, 1] >= 245 and out[y, x, 0] <= 5  # painted green where m = 1


def test_the_face_window_is_one_on_the_face_and_zero_far_away():
    points = torch.from_numpy(np.random.default_rng(1).normal(64, 12, size=(1, 68, 2)).astype(np.float32))
    centre, whitening = face_ellipse(points)
    window = face_window(CROP, centre, whitening)[0]
    assert window[0].max() == 0 and window[-1].max() == 0  # zero at the crop border
    c = np.round(centre[0].numpy()).astype(int)
    assert window[c[1], c[0]] == 1


def schematic_face() -> torch.Tensor:
    """(1, 68, 2) iBUG-ordered points of an upright face in a 128 px crop (brows at y = 45, chin at 110)."""
    angles = np.linspace(0.0, np.pi, 17)
    jaw = np.stack([64 - 40 * np.cos(angles), 60 + 50 * np.sin(angles)], axis=1)
    brow_x = np.r_[np.linspace(30, 56, 5), np.linspace(72, 98, 5)]
    brows = np.stack([brow_x, np.full(10, 45.0)], axis=1)
    bridge = np.stack([np.full(4, 64.0), np.linspace(55, 70, 4)], axis=1)
    nostrils = np.stack([np.linspace(56, 72, 5), np.full(5, 74.0)], axis=1)
    eye = np.array([[0, 0], [4, -2], [8, -2], [12, 0], [8, 2], [4, 2]], dtype=float)
    eyes = np.concatenate([eye + (36, 55), eye + (80, 55)])
    ring = np.linspace(0, 2 * np.pi, 13)[:-1]
    outer_lips = np.stack([64 - 16 * np.cos(ring), 88 + 5 * np.sin(ring)], axis=1)
    inner_lips = np.stack([64 - 9 * np.cos(np.linspace(0, 2 * np.pi, 9)[:-1]), np.full(8, 88.0)], axis=1)
    points = np.concatenate([jaw, brows, bridge, nostrils, eyes, outer_lips, inner_lips])
    assert points.shape == (68, 2)
    return torch.from_numpy(points.astype(np.float32))[None]


def test_lowered_brows_leave_the_hairline_and_the_skull_where_they_were():
    """The spline's motion of the brows dies out across the forehead: the hairline anchors
    (above the brows, about the hairline) and the top of the head do not move."""
    from lgan_cli.models.flow import hairline_anchors

    points = schematic_face()
    lowered = points.clone()
    lowered[:, 17:27, 1] += 4.0  # both brows 4 crop px down (AU4)
    flow = prior_flow(points, lowered, CROP)[0][0].numpy()

    def at(x: float, y: float) -> np.ndarray:
        return flow[int(round(y)), int(round(x))]

    brow = lowered[0, 19].numpy()
    np.testing.assert_allclose(at(*brow), (0.0, -4.0), atol=0.3)  # the brow takes the pixel 4 px above
    for anchor in hairline_anchors(points)[0].numpy():
        assert np.abs(at(*anchor)).max() < 0.2, (anchor, at(*anchor))
    skull = flow[:16, 30:99]  # from the lower anchor line up (brows at y = 45, chin at 110)
    assert np.abs(skull).max() < 0.5, np.abs(skull).max()  # without the anchors: 9 px


def test_a_dropping_upper_lip_stretches_the_skin_above_it_not_the_nostrils(monkeypatch):
    """A smile made neutral: the raised upper lip comes down 8 crop px. The nostril guards keep
    the skin just under the nose moving with the nose; the stretch goes next to the lip. Without
    them the spline spread it up to the nostrils, drawing their shadows down as stripes."""
    import lgan_cli.models.flow as flow_module
    from lgan_cli.models.flow import area_ratio

    points = schematic_face()
    points[:, 48:60, 1] = 176.0 - points[:, 48:60, 1]  # iBUG's outer-lip order: 49-53 the upper lip (y 83-86)
    dropped = points.clone()
    dropped[:, 48:68, 1] += 8.0  # the mouth, and with it the upper lip under the nose (49-53)
    under_nose = (slice(75, 77), slice(58, 71))  # the rows just below the nose base (y = 74), across it

    def stretch_under_nose() -> float:
        flow = prior_flow(points, dropped, CROP)[0]
        return float(area_ratio(flow)[0][under_nose].min())

    guarded = stretch_under_nose()
    monkeypatch.setattr(flow_module, "NOSTRIL_GUARD", 0.0)
    unguarded = stretch_under_nose()
    assert guarded > 0.9 and unguarded < guarded - 0.1, (guarded, unguarded)
    # a rising lip brings the guards closer to the nose, never past the lip: no fold anywhere
    raised = points.clone()
    raised[:, 48:68, 1] -= 6.0
    monkeypatch.setattr(flow_module, "NOSTRIL_GUARD", 0.3)
    assert float(area_ratio(prior_flow(points, raised, CROP)[0]).min()) > 0
