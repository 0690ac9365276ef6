"""Landmark distance and the summary of per-pair scores, on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lgan_cli.eval.landmarks import landmark_distance


def test_landmark_distance_known_values():
    target = np.zeros((68, 2))
    shifted = target + [3.0, 4.0]  # every point 5 px away
    assert landmark_distance(shifted, target, size=256) == pytest.approx(5.0)
    # at 128 px the same displacement is twice as far in 256-px units
    assert landmark_distance(shifted, target, size=128) == pytest.approx(10.0)
    half = target.copy()
    half[:34] += [0.0, 2.0]
    assert landmark_distance(half, target, size=256) == pytest.approx(1.0)


def test_landmark_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        landmark_distance(np.zeros((68, 2)), np.zeros((51, 2)), 128)
