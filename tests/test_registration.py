"""Registering a pair's target crop onto its source (lgan_cli.data.registration)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from lgan_cli.data.registration import (
    STABLE_POINTS,
    apply_matrix,
    fit_similarity,
    register_pairs,
    registration_matrix,
)
from lgan_cli.train.data import PairData

from conftest import prepare_examples


def stable_residual(points_a: np.ndarray, points_b: np.ndarray) -> float:
    """Mean distance (px) between two shapes' stable points: what registration drives down."""
    stable = list(STABLE_POINTS)
    return float(np.linalg.norm(np.asarray(points_a)[stable] - np.asarray(points_b)[stable], axis=-1).mean())


def test_fit_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 128, size=(8, 2))
    angle, scale, shift = np.radians(7.0), 1.08, np.array([2.5, -1.25])
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ linear.T + shift
    matrix = fit_similarity(points, moved)
    np.testing.assert_allclose(matrix, np.hstack([linear, shift[:, None]]), atol=1e-9)


@pytest.fixture(scope="module")
def example_pairs(tmp_path_factory, example_photos):
    return prepare_examples(tmp_path_factory.mktemp("registration"), example_photos, test_ids=None, size=128)


def test_registration_halves_the_stable_point_residual_of_a_real_pair(example_pairs):
    """Person 030's neutral and smiling photos, aligned on their own: registration moves the
    smiling crop's eye corners and nose bridge onto the neutral one's."""
    pairs = example_pairs.pairs("train")
    source, target = next((s, t) for s, t in pairs if s.identity == "030" and s.expression == "neutral")
    before = stable_residual(source.points68, target.points68)
    registered = apply_matrix(registration_matrix(target.points68, source.points68), target.points68)
    after = stable_residual(source.points68, registered)
    assert before > 0.3 and after < 0.6 * before, (before, after)


def test_registered_crops_move_with_their_points(example_pairs):
    """The torch warp of the training data equals OpenCV's warp of the crop by the same matrix."""
    data = PairData(example_pairs, "train")
    index = 0
    batch = data.batch([index])
    source_item = data.source_index[index].item()
    target_item = data.target_index[index].item()
    matrix = registration_matrix(data.points[target_item].numpy(), data.points[source_item].numpy())
    crop = data.crops[target_item].permute(1, 2, 0).numpy()
    expected = cv2.warpAffine(
        crop, matrix, crop.shape[:2][::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    got = (batch["target"][0].permute(1, 2, 0).numpy() + 1) * 127.5
    assert np.abs(got - expected.astype(np.float32)).mean() < 0.5
    np.testing.assert_allclose(
        batch["target_points"][0].numpy(), apply_matrix(matrix, data.points[target_item].numpy()), atol=1e-4
    )
    unregistered = PairData(example_pairs, "train", register=False).batch([index])
    assert torch.equal(unregistered["target_points"][0], data.points[target_item])


def test_register_pairs_is_the_identity_for_a_pair_already_in_register(example_pairs):
    item = example_pairs.items[0]
    crop = torch.from_numpy(item.load_crop().copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    points = torch.from_numpy(item.points68)[None]
    moved, moved_points = register_pairs(crop, points, points.clone())
    assert (moved - crop).abs().max() < 1e-4 and (moved_points - points).abs().max() < 1e-4
    assert len(STABLE_POINTS) == 8
