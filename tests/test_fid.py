"""FID: the Fréchet distance against closed forms and scipy, and the Inception wrapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lgan_cli.errors import LganError
from lgan_cli.eval.fid import (
    FEATURE_DIM,
    INPUT_SIZE,
    InceptionFeatures,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    inception_path,
    to_inception_input,
)


def test_identical_feature_sets_give_zero():
    features = np.random.default_rng(0).normal(size=(300, 64))
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-8)
    assert fid_from_features(torch.from_numpy(features), features) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_gaussians_closed_form():
    # For diagonal covariances FID = |mu_a - mu_b|^2 + sum_i (sqrt(s_a,i) - sqrt(s_b,i))^2.
    rng = np.random.default_rng(1)
    mu_a, mu_b = rng.normal(size=16), rng.normal(size=16)
    var_a, var_b = rng.uniform(0.1, 3.0, size=16), rng.uniform(0.1, 3.0, size=16)
    want = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet_distance(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(want, rel=1e-10)


def test_sampled_gaussians_approach_closed_form():
    rng = np.random.default_rng(2)
    a = rng.normal(0.0, 1.0, size=(20000, 4))
    b = rng.normal(0.5, 2.0, size=(20000, 4))
    want = 4 * 0.5**2 + 4 * (1.0 - 2.0) ** 2  # 5.0
    assert fid_from_features(a, b) == pytest.approx(want, rel=0.03)


def test_full_covariance_agrees_with_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg", reason="scipy (the eval extra) is not installed")
    rng = np.random.default_rng(3)
    mu_a, sigma_a = feature_statistics(rng.normal(size=(200, 32)) @ rng.normal(size=(32, 32)))
    mu_b, sigma_b = feature_statistics(rng.normal(size=(200, 32)) @ rng.normal(size=(32, 32)) + 0.3)
    root = linalg.sqrtm(sigma_a @ sigma_b).real
    want = np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a + sigma_b - 2 * root)
    assert frechet_distance(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(want, rel=1e-8)


def test_rank_deficient_covariances_are_fine():
    # fewer samples than dimensions, as when scoring a few hundred images in 2048-D
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 256)), rng.normal(size=(60, 256)) + 0.1
    value = fid_from_features(a, b)
    assert np.isfinite(value) and value > 0


def test_statistics_need_two_samples():
    with pytest.raises(ValueError):
        feature_statistics(np.zeros((1, 8)))


def test_preprocessing_matches_tensorflow_convention():
    levels = torch.arange(256, dtype=torch.uint8).repeat(3, INPUT_SIZE * INPUT_SIZE // 256 + 1)
    images = levels[:, : INPUT_SIZE * INPUT_SIZE].reshape(1, 3, INPUT_SIZE, INPUT_SIZE)
    # uint8 v -> v / 128 - 1, and float [-1, 1] input is first rounded to the same 8-bit levels
    torch.testing.assert_close(to_inception_input(images), images.float() / 128 - 1)
    torch.testing.assert_close(to_inception_input(images.float() / 127.5 - 1), images.float() / 128 - 1)
    assert to_inception_input(torch.zeros(2, 3, 64, 48)).shape == (2, 3, INPUT_SIZE, INPUT_SIZE)


def test_missing_network_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LGAN_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("LGAN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(LganError, match="fetch_fid_inception.py"):
        InceptionFeatures()


def _inception_available() -> bool:
    try:
        inception_path()
    except LganError:
        return False
    return True


@pytest.mark.skipif(
    not _inception_available(), reason="FID Inception not fetched; run python scripts/fetch_fid_inception.py"
)
def test_inception_features_shape_and_determinism():
    net = InceptionFeatures(batch_size=2)
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    features = net(images)
    assert features.shape == (3, FEATURE_DIM) and features.dtype == torch.float32
    assert torch.isfinite(features).all() and (features >= 0).all()  # pool3 follows a ReLU
    # uint8 input at the same 8-bit levels gives the same features
    as_uint8 = ((images + 1) * 127.5).round().to(torch.uint8)
    torch.testing.assert_close(net(as_uint8), features)
