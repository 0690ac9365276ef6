"""Landmark images: the paper's hard discs, the differentiable soft version, the black-dot ablation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lgan_cli.faces.landmark_image import (
    landmark_radius,
    render_landmark_image,
    sample_colours,
    sample_colours_torch,
    soft_landmark_image,
)

POINTS = np.array([[10.3, 20.7], [40.2, 39.6], [62.6, 5.35], [30.45, 50.8]], dtype=np.float32)
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 120, 40]], dtype=np.float32)


def test_radius_scales_with_size():
    assert landmark_radius(256) == 4.0
    assert landmark_radius(128) == 2.0
    assert landmark_radius(512) == 8.0


@pytest.mark.parametrize("size", [64, 128, 256])
def test_hard_discs_have_the_paper_radius_and_colour(size):
    scale = size / 64
    points = POINTS * scale
    image = render_landmark_image(points, size, COLOURS)
    radius = landmark_radius(size)
    ys, xs = np.mgrid[0:size, 0:size]
    for point, colour in zip(points, COLOURS):
        inside = (xs - point[0]) ** 2 + (ys - point[1]) ** 2 <= radius**2
        assert (image[inside] == colour.astype(np.uint8)).all()
        ring = ((xs - point[0]) ** 2 + (ys - point[1]) ** 2 > (radius + 1) ** 2) & (
            (xs - point[0]) ** 2 + (ys - point[1]) ** 2 < (radius + 3) ** 2
        )
        assert (image[ring] == 255).all()  # white just outside
    covered = (image != 255).any(axis=-1).sum()
    assert covered == pytest.approx(len(points) * np.pi * radius**2, rel=0.35)


def test_black_dots_variant():
    image = render_landmark_image(POINTS, 64, colours=None)
    values = np.unique(image.reshape(-1, 3), axis=0)
    assert {tuple(v) for v in values} == {(0, 0, 0), (255, 255, 255)}


def test_colours_are_sampled_from_the_image():
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[:, 32:] = [10, 200, 30]
    image[:, :32] = [250, 20, 90]
    colours = sample_colours(image, np.array([[5.0, 5.0], [50.0, 60.0], [31.5, 10.0]]))
    np.testing.assert_allclose(colours[0], [250, 20, 90])
    np.testing.assert_allclose(colours[1], [10, 200, 30])
    np.testing.assert_allclose(colours[2], [130, 110, 60])  # halfway between the two


def test_torch_colour_sampling_matches_numpy():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, size=(40, 50, 3)).astype(np.float32)
    points = rng.uniform(0, 39, size=(68, 2)).astype(np.float32)
    expected = sample_colours(image, points)
    got = sample_colours_torch(torch.from_numpy(image).permute(2, 0, 1)[None], torch.from_numpy(points)[None])[0]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-3)


@pytest.mark.parametrize("size", [64, 256])
def test_soft_image_converges_to_the_hard_one(size):
    points = POINTS * size / 64
    hard = render_landmark_image(points, size, COLOURS).astype(np.float32)
    soft = soft_landmark_image(
        torch.from_numpy(points)[None], size, torch.from_numpy(COLOURS / 127.5 - 1)[None], softness=0.02
    )
    soft = (soft[0].permute(1, 2, 0).numpy() + 1) * 127.5
    # pixels whose centre is within 0.2 px of a disc edge may differ; all others agree
    ys, xs = np.mgrid[0:size, 0:size]
    distances = np.stack([np.hypot(xs - p[0], ys - p[1]) for p in points])
    near_edge = (np.abs(distances - landmark_radius(size)) < 0.2).any(axis=0)
    assert np.abs(soft - hard)[~near_edge].max() < 1.0
    assert near_edge.sum() < 0.02 * size * size


def test_soft_image_gradient_reaches_coordinates_and_colours():
    """Moving a point must change the image: the path stage-II losses take into G_l."""
    points = torch.tensor(POINTS)[None].requires_grad_()
    colours = torch.tensor(COLOURS / 127.5 - 1)[None].requires_grad_()
    image = soft_landmark_image(points, 64, colours)
    # a target with every disc shifted right by one pixel pulls the points right
    target = soft_landmark_image(torch.tensor(POINTS + [1.0, 0.0])[None], 64, colours.detach())
    loss = (image - target).abs().mean()
    loss.backward()
    assert torch.isfinite(points.grad).all() and torch.isfinite(colours.grad).all()
    assert (points.grad[0, :, 0] < 0).all()  # descending the loss moves every point towards +x
    assert colours.grad.abs().sum() > 0


def test_soft_image_background_and_batch():
    points = torch.tensor(np.stack([POINTS, POINTS[::-1].copy()]))
    image = soft_landmark_image(points, 64, None, background=1.0)
    assert image.shape == (2, 3, 64, 64)
    assert image.min() >= -1.0 - 1e-5 and image.max() <= 1.0 + 1e-5
    assert torch.allclose(image[0], image[1], atol=1e-5)  # black discs: point order does not matter
    assert image[0, :, 63, 0].eq(1.0).all()  # far from every point: white


def test_points_outside_the_canvas_are_harmless():
    points = torch.tensor([[[-20.0, 10.0], [70.0, 80.0], [32.0, 32.0]]], requires_grad=True)
    image = soft_landmark_image(points, 64, None)
    image.sum().backward()
    assert torch.isfinite(points.grad).all()
    assert (image < 0).sum() > 0  # the one inside is drawn
