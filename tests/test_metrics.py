"""PSNR and SSIM: known answers, and agreement with scikit-image to within 1e-3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lgan_cli.eval.metrics import psnr, ssim


def random_pair(size: int, low: float, high: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform noise images and a noisier copy, both clipped to [low, high]."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, size, size, generator=generator) * (high - low) + low
    y = (x + 0.1 * (high - low) * torch.randn(x.shape, generator=generator)).clamp(low, high)
    return x, y


def smooth_pair(size: int, low: float, high: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth colour gradients and a slightly shifted, brightened version."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    phases = torch.arange(6, dtype=torch.float32).view(2, 3, 1, 1) + seed
    x = 0.5 + 0.45 * torch.sin(2 * math.pi * (xs + 0.7 * ys) + phases)
    y = (0.5 + 0.45 * torch.sin(2 * math.pi * (xs + 0.7 * ys) + phases + 0.3) + 0.02).clamp(0, 1)
    return x * (high - low) + low, y * (high - low) + low


CASES = [
    (make, size, low, high)
    for make in (random_pair, smooth_pair)
    for size in (64, 128)
    for low, high in ((0.0, 1.0), (-1.0, 1.0))
]


def test_psnr_identical_is_inf():
    x = torch.rand(2, 3, 32, 32)
    assert torch.isinf(psnr(x, x, data_range=1.0)).all()


def test_psnr_constant_offset():
    x = torch.full((1, 3, 16, 16), 0.3)
    assert psnr(x, x + 0.1, data_range=1.0).item() == pytest.approx(20.0, abs=1e-6)
    assert psnr(x, x + 0.1, data_range=2.0).item() == pytest.approx(20 * math.log10(20), abs=1e-6)


def test_ssim_identical_is_one():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(ssim(x, x, data_range=2.0), torch.ones(2, dtype=torch.float64))


def test_ssim_falls_with_noise():
    x, _ = smooth_pair(64, 0.0, 1.0, 0)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    values = [ssim(x, x + level * noise, data_range=1.0).mean().item() for level in (0.01, 0.05, 0.2)]
    assert values == sorted(values, reverse=True)


def test_shapes_and_errors():
    x = torch.rand(4, 3, 20, 24)
    assert psnr(x, x * 0.9, data_range=1.0).shape == (4,)
    assert ssim(x, x * 0.9, data_range=1.0).shape == (4,)
    with pytest.raises(ValueError):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), data_range=1.0)
    with pytest.raises(ValueError):
        psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9), data_range=1.0)


@pytest.mark.parametrize(("make", "size", "low", "high"), CASES)
def test_agrees_with_scikit_image(make, size, low, high):
    metrics = pytest.importorskip("skimage.metrics", reason="scikit-image (the test extra) is not installed")
    x, y = make(size, low, high, seed=size)
    data_range = high - low
    ours_ssim = ssim(x, y, data_range=data_range)
    ours_psnr = psnr(x, y, data_range=data_range)
    for i in range(x.shape[0]):
        a, b = x[i].numpy().astype(np.float64), y[i].numpy().astype(np.float64)
        want_ssim = metrics.structural_similarity(
            a, b, channel_axis=0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range
        )
        want_psnr = metrics.peak_signal_noise_ratio(a, b, data_range=data_range)
        assert abs(ours_ssim[i].item() - want_ssim) < 1e-3
        assert abs(ours_psnr[i].item() - want_psnr) < 1e-3
        assert 0.0 < want_ssim < 1.0  # a meaningful comparison, not two trivial values


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    x, y = random_pair(64, -1.0, 1.0, seed=5)
    torch.testing.assert_close(ssim(x.cuda(), y.cuda(), data_range=2.0).cpu(), ssim(x, y, data_range=2.0))
    torch.testing.assert_close(psnr(x.cuda(), y.cuda(), data_range=2.0).cpu(), psnr(x, y, data_range=2.0))
