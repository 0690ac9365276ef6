"""Each loss of Eq. 3-9 against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from lgan_cli.train import losses


def test_landmark_loss_is_mean_euclidean_distance_in_pixels():
    target = torch.zeros(2, 68, 2)
    predicted = target.clone()
    predicted[0, :, 0] = 3.0
    predicted[0, :, 1] = 4.0  # sample 0: every point 5 px away
    predicted[1, :34, 0] = 1.0  # sample 1: half the points 1 px away
    assert losses.landmark_loss(predicted, target).item() == pytest.approx((5.0 + 0.5) / 2, abs=1e-5)


def test_l12_elementwise_is_the_papers_piecewise_function():
    d = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 0.999, 1.0, 2.5])
    expected = [2.5, 0.5, 0.125, 0.0, 0.125, 0.5 * 0.999**2, 0.5, 2.0]
    assert losses.l12_elementwise(d).tolist() == pytest.approx(expected)


def test_reconstruction_scale_is_grey_levels():
    """Eq. 7 is applied to 8-bit differences: 0.5 grey level is quadratic, 10 levels linear."""
    real = torch.zeros(1, 3, 4, 4)
    half_level = real + 0.5 / 127.5
    ten_levels = real + 10 / 127.5
    assert losses.reconstruction_loss(half_level, real, "l12").item() == pytest.approx(0.5 * 0.25 / 127.5, rel=1e-4)
    assert losses.reconstruction_loss(ten_levels, real, "l12").item() == pytest.approx(9.5 / 127.5, rel=1e-4)
    # for visible errors L1,2 is L1 minus half a grey level
    assert losses.reconstruction_loss(ten_levels, real, "l1").item() == pytest.approx(10 / 127.5, rel=1e-5)
    assert losses.reconstruction_loss(ten_levels, real, "l2").item() == pytest.approx((10 / 127.5) ** 2, rel=1e-5)
    with pytest.raises(ValueError):
        losses.reconstruction_loss(real, real, "huber")


def test_identity_loss_is_l1_between_descriptors():
    a = torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, -0.5]])
    assert losses.identity_loss(a, b).item() == pytest.approx((0.6 + 1.5) / 2)


def test_discriminator_loss_is_halved_bce_summed_over_dual_discriminators():
    real = [torch.full((1, 1, 2, 2), 2.0), torch.full((1, 1, 3, 3), 0.0)]
    fake = [torch.full((1, 1, 2, 2), -1.0), torch.full((1, 1, 3, 3), 1.0)]
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731  BCE-with-logits: real -> softplus(-z), fake -> softplus(z)
    expected = 0.5 * (softplus(-2.0) + softplus(-1.0)) + 0.5 * (softplus(0.0) + softplus(1.0))
    total = losses.discriminator_half_loss(real, real=True) + losses.discriminator_half_loss(fake, real=False)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    stats = losses.discriminator_stats(real, fake, "D_e")
    assert stats["D_e0_real_acc"] == 1.0 and stats["D_e1_fake_acc"] == 0.0


def test_generator_adversarial_loss_sums_non_saturating_terms():
    fake = [torch.zeros(1, 1, 2, 2), torch.full((1, 1, 1, 1), 3.0)]
    expected = math.log(2) + math.log1p(math.exp(-3.0))
    assert losses.generator_adversarial_loss(fake).item() == pytest.approx(expected, rel=1e-6)


def test_stage_losses_combine_with_the_paper_weights():
    logits = [torch.zeros(1, 1, 2, 2)]
    points, target = torch.zeros(1, 68, 2), torch.full((1, 68, 2), 1.0)  # sqrt(2) px each
    total, stats = losses.stage1_loss(logits, points, target, lambda1=2.0)
    assert total.item() == pytest.approx(math.log(2) + 2 * math.sqrt(2), rel=1e-5)
    no_landmark, _ = losses.stage1_loss(logits, points, target, use_landmark_loss=False)
    assert no_landmark.item() == pytest.approx(math.log(2), rel=1e-6)

    fake, real = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 20 / 127.5)
    ids_fake, ids_real = torch.zeros(1, 4), torch.full((1, 4), 0.25)
    total2, stats2 = losses.stage2_loss(logits, fake, real, ids_fake, ids_real, lambda2=100, lambda3=0.1)
    expected = math.log(2) + 100 * (19.5 / 127.5) + 0.1 * 1.0
    assert total2.item() == pytest.approx(expected, rel=1e-5)
    without_id, stats3 = losses.stage2_loss(logits, fake, real, None, None)
    assert "G_e_identity" not in stats3 and without_id.item() == pytest.approx(expected - 0.1, rel=1e-5)


def test_painted_reconstruction_is_the_l1_of_the_painted_pixels_only():
    from lgan_cli.train.losses import painted_reconstruction

    real = torch.zeros(2, 3, 16, 16)
    colours = torch.full((2, 3, 16, 16), 0.5)
    mask = torch.zeros(2, 16, 16)
    mask[0, 2:4, 2:4] = 1.0  # a small painted patch
    assert painted_reconstruction(mask, colours, real) == pytest.approx(0.5)
    mask[1] = 1.0  # a large one: the same per-pixel error gives the same loss
    assert painted_reconstruction(mask, colours, real) == pytest.approx(0.5)
    exact = real.clone()
    exact[:, :, 2:4, 2:4] = 0.5
    mask[1] = 0.0
    assert painted_reconstruction(mask, colours, exact) == pytest.approx(0.0)  # outside ignored
    assert painted_reconstruction(torch.zeros(2, 16, 16), colours, real) == 0  # nothing painted
