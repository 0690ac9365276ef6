"""Generators and discriminators: the paper's architecture at 64/128/256 px, and the gradient path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lgan_cli.models.blocks import PatchDiscriminator, UNetDecoder, UNetEncoder, check_size
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.discriminators import Discriminators
from lgan_cli.models.generators import LandmarkGAN, encode_labels
from lgan_cli.models.pdm import fit_pdm

from conftest import pdm_coefficients

EXPRESSIONS = ("neutral", "happy", "surprised")


def small_config(size: int, **changes) -> ModelConfig:
    return ModelConfig(resolution=size, expressions=EXPRESSIONS, generator_width=8, discriminator_width=8, **changes)


def scattered_points(batch: int, size: int) -> torch.Tensor:
    """68 points scattered over the middle of an S x S crop (no face needed for shapes and gradients)."""
    return torch.randn(batch, 68, 2) * size / 8 + size / 2


@pytest.mark.parametrize("renderer", ["warp", "unet"])
@pytest.mark.parametrize("size", [64, 128, 256])
def test_shapes_and_output_range(size, renderer):
    torch.manual_seed(0)
    model = LandmarkGAN(small_config(size, renderer=renderer)).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    points, landmarks, face = model(x, model.encode_labels(["happy", "neutral"]), scattered_points(2, size))
    assert points.shape == (2, 68, 2) and landmarks.shape == face.shape == (2, 3, size, size)
    assert face.abs().max() <= 1.0  # Tanh
    assert landmarks.max() <= 1.0 + 1e-5  # white background
    d = Discriminators(small_config(size))
    logits = d.d_e(torch.cat([face, x], dim=1))
    assert len(logits) == 2 and all(t.shape[1] == 1 for t in logits)  # dual discriminators


def test_unet_follows_the_paper():
    encoder = UNetEncoder(3, 256, base=64)
    assert len(encoder.levels) == 8 and encoder.widths == [64, 128, 256, 512, 512, 512, 512, 512]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in encoder.levels[0].modules())  # no BN on the first layer
    assert all(any(isinstance(m, nn.BatchNorm2d) for m in level.modules()) for level in encoder.levels[1:-1])
    decoder = UNetDecoder(encoder.widths, 3)
    dropouts = [any(isinstance(m, nn.Dropout) for m in block.modules()) for block in decoder.blocks]
    assert dropouts[:3] == [True, True, True] and not any(dropouts[3:])
    assert all(isinstance(b[0], nn.ReLU) and type(b[0]) is nn.ReLU for b in decoder.blocks)  # not leaky
    assert isinstance(decoder.head[-1], nn.Tanh)
    features = encoder(torch.zeros(1, 3, 256, 256))
    assert features[-1].shape[-1] == 1  # down to 1 x 1


def receptive_field(discriminator: PatchDiscriminator) -> int:
    """The receptive field of one output logit, walked back through the discriminator's convolutions."""
    convolutions = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    field = 1
    for conv in reversed(convolutions):
        field = (field - 1) * conv.stride[0] + conv.kernel_size[0]
    return field


def test_patchgan_receptive_fields():
    assert receptive_field(PatchDiscriminator(6, 8, layers=3)) == 70  # the paper's 70 x 70 PatchGAN
    assert receptive_field(PatchDiscriminator(6, 8, layers=2)) == 34
    d = PatchDiscriminator(6, 8, layers=3)
    assert d(torch.zeros(1, 6, 256, 256)).shape == (1, 1, 30, 30)  # pix2pix's 30x30 patch grid at 256 px


def test_sizes_must_be_powers_of_two():
    for bad in (32, 96, 1024):
        with pytest.raises(ValueError):
            check_size(bad)


def test_labels_one_hot_with_intensity():
    config = small_config(64, intensity_levels=4)
    labels = encode_labels(config, ["happy", "neutral"], [3, None])
    assert labels.tolist() == [[0, 1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0, 0]]
    with pytest.raises(ValueError):
        encode_labels(config, ["happy"], [5])


def test_landmark_generator_starts_at_the_pdm_mean_and_uses_labels():
    torch.manual_seed(0)
    config = small_config(64)
    model = LandmarkGAN(config).eval()
    rng = np.random.default_rng(0)
    shapes = rng.normal(32, 5, size=(40, 68, 2))
    model.g_l.pdm.set_model(fit_pdm(shapes, config.pdm_components))
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    points = model.g_l(x, model.encode_labels(["happy"]))
    np.testing.assert_allclose(points[0].detach().numpy(), shapes.mean(0), atol=1e-4)  # zero-initialised head
    torch.nn.init.normal_(model.g_l.head[-1].weight, std=0.5)
    a = model.g_l(x, model.encode_labels(["happy"]))
    b = model.g_l(x, model.encode_labels(["surprised"]))
    assert (a - b).abs().max() > 1e-3  # the label changes the landmarks


def test_pdm_round_trip():
    rng = np.random.default_rng(1)
    shapes = rng.normal(0, 1, size=(100, 68, 2)).cumsum(axis=1)
    fitted = fit_pdm(shapes, 136)
    from lgan_cli.models.pdm import PDMDecoder

    decoder = PDMDecoder(136)
    decoder.set_model(fitted)
    some = torch.tensor(shapes[:3], dtype=torch.float32)
    assert torch.allclose(decoder(pdm_coefficients(decoder, some)), some, atol=1e-2)


@pytest.mark.parametrize("renderer", ["warp", "unet"])
def test_stage_two_losses_reach_the_landmark_generator(renderer):
    """End to end: a loss on G_e's output alone gives G_l's weights a gradient (for the warp
    renderer also through the prior flow, a function of the generated points)."""
    torch.manual_seed(0)
    config = small_config(64, renderer=renderer)
    model = LandmarkGAN(config)
    model.g_l.pdm.set_model(fit_pdm(np.random.default_rng(0).normal(32, 6, size=(40, 68, 2)), config.pdm_components))
    torch.nn.init.normal_(model.g_l.head[-1].weight, std=0.1)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    _, _, face = model(x, model.encode_labels(["happy", "surprised"]), scattered_points(2, 64))
    (face - x).abs().mean().backward()
    grad = model.g_l.head[-1].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.g_l.encoder.levels[0][0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("renderer,image_channels", [("unet", 6), ("warp", 9)])
@pytest.mark.parametrize("labels,gl,ge", [("gl", True, False), ("ge", False, True), ("both", True, True)])
def test_label_routing_ablation(labels, gl, ge, renderer, image_channels):
    model = LandmarkGAN(small_config(64, labels=labels, renderer=renderer))
    assert model.g_l.uses_labels is gl and model.g_e.uses_labels is ge
    expected_in = image_channels + (len(EXPRESSIONS) if ge else 0)
    assert model.g_e.encoder.levels[0][0].in_channels == expected_in


def test_black_dot_ablation_ignores_image_colours():
    model = LandmarkGAN(small_config(64, soft_crops=False))
    points = torch.full((1, 68, 2), 32.0) + torch.randn(1, 68, 2) * 8
    red = torch.zeros(1, 3, 64, 64)
    red[:, 0] = 1
    a = model.landmark_image(red, points)
    b = model.landmark_image(-red, points)
    assert torch.equal(a, b) and a.min() < -0.9


def test_warp_renderer_changes_nothing_when_no_landmark_moves():
    """The residual flow is gated by the prior's motion: target points = source points and no
    synthesis give back the input crop exactly (up to float rounding), whatever G_e's weights."""
    torch.manual_seed(0)
    model = LandmarkGAN(small_config(64, synthesis=False)).eval()
    torch.nn.init.normal_(model.g_e.decoder.head[1].weight, std=0.5)  # a G_e that would move things
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    points = scattered_points(2, 64)
    with torch.no_grad():
        _, still = model.render(x, points, model.encode_labels(["happy", "neutral"]), points)
        moved = points.clone()
        moved[:, 48:68, 1] += 3.0
        _, edited = model.render(x, moved, model.encode_labels(["happy", "neutral"]), points)
    assert (still["image"] - x).abs().max() < 1e-4
    assert still["residual_flow"].abs().max() == 0
    assert edited["residual_flow"].abs().max() > 0.1  # where the landmarks move, the learned flow acts


def test_without_opposition_removes_only_the_part_against_the_prior():
    from lgan_cli.models.flow import without_opposition

    prior = torch.tensor([[[[2.0, 0.0], [0.0, -1.0], [0.0, 0.0]]]])  # (1, 1, 3, 2)
    residual = torch.tensor([[[[-1.5, 0.7], [0.3, 0.4], [0.2, -0.1]]]])
    kept = without_opposition(residual, prior)
    assert torch.allclose(kept[0, 0, 0], torch.tensor([0.0, 0.7]))  # pulled back: only the sideways part stays
    assert torch.allclose(kept[0, 0, 1], torch.tensor([0.3, 0.0]))  # against a downward prior: removed
    assert torch.allclose(kept[0, 0, 2], residual[0, 0, 2])  # no prior: nothing to oppose
    assert torch.equal(without_opposition(prior, prior), prior)  # along the prior: kept


@pytest.mark.parametrize("keeps_motion", [False, True])
def test_a_residual_that_keeps_motion_never_shortens_the_prior(keeps_motion):
    """With `residual_keeps_motion`, flow . prior >= |prior|^2 everywhere: the learned flow can
    move pixels further or sideways but never less far than the landmarks ask."""
    torch.manual_seed(0)
    model = LandmarkGAN(small_config(64, synthesis=False, residual_keeps_motion=keeps_motion)).eval()
    torch.nn.init.normal_(model.g_e.decoder.head[1].weight, std=0.5)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    points = scattered_points(2, 64)
    moved = points.clone()
    moved[:, 17:27, 1] -= 3.0
    moved[:, 48:68, 1] += 3.0
    with torch.no_grad():
        _, out = model.render(x, moved, model.encode_labels(["happy", "neutral"]), points)
    prior = out["flow"] - out["residual_flow"]
    shortfall = ((out["flow"] * prior).sum(-1) - (prior * prior).sum(-1)).min()
    assert bool(shortfall >= -1e-4) is keeps_motion


def test_a_face_residual_region_keeps_the_learned_flow_inside_the_face_outline():
    """`residual_region="face"`: the learned flow is exactly zero wherever the face's outline
    window is zero (hair, ears, neck), where the "window" setting moves them, and is the same
    flow inside the face."""
    from lgan_cli.models.flow import synthesis_window

    torch.manual_seed(0)
    everywhere = LandmarkGAN(small_config(64, synthesis=False)).eval()
    torch.nn.init.normal_(everywhere.g_e.decoder.head[1].weight, std=0.5)
    inside = LandmarkGAN(small_config(64, synthesis=False, residual_region="face")).eval()
    inside.load_state_dict(everywhere.state_dict())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    points = scattered_points(2, 64)
    moved = points.clone()
    moved[:, 0:17, 0] += 2.0  # the jaw line moves: the prior reaches past the outline
    moved[:, 48:68, 1] += 3.0
    labels = everywhere.encode_labels(["happy", "neutral"])
    with torch.no_grad():
        _, a = everywhere.render(x, moved, labels, points)
        _, b = inside.render(x, moved, labels, points)
    face = synthesis_window(points, moved, 64)
    outside = face == 0
    assert a["residual_flow"].norm(dim=-1)[outside].max() > 0.1
    assert b["residual_flow"].norm(dim=-1)[outside].max() == 0
    core = face == 1
    same = (a["residual_flow"] - b["residual_flow"]).norm(dim=-1) < 1e-5
    assert same[core].float().mean() > 0.8  # the stretch guard's blocks by the outline may differ
    strength = [r["residual_flow"].norm(dim=-1)[core].mean() for r in (a, b)]
    assert abs(strength[1] / strength[0] - 1) < 0.05
    with pytest.raises(ValueError, match="residual_region"):
        small_config(64, residual_region="hair")


def test_gaussian_blur_keeps_flat_colours_and_removes_pixel_noise():
    from lgan_cli.models.warp_renderer import gaussian_blur

    torch.manual_seed(0)
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(flat, 1.0), flat, atol=1e-6)
    noisy = flat + 0.2 * torch.randn(1, 3, 16, 16)
    assert gaussian_blur(noisy, 1.0).std() < 0.5 * noisy.std()
    assert torch.equal(gaussian_blur(noisy, 0.0), noisy)
    step = torch.zeros(1, 1, 16, 16)
    step[..., 8:] = 1.0
    blurred = gaussian_blur(step, 1.0)
    assert blurred[..., 0].max() < 1e-3 and blurred[..., 15].min() > 1 - 1e-3  # an edge stays an edge


def test_colour_smoothing_blurs_only_the_synthesised_colours():
    torch.manual_seed(0)
    sharp = LandmarkGAN(small_config(64)).eval()
    smooth = LandmarkGAN(small_config(64, colour_smoothing=1.0)).eval()
    smooth.load_state_dict(sharp.state_dict())
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    points = scattered_points(1, 64)
    moved = points.clone()
    moved[:, 48:68, 1] += 2.0
    labels = sharp.encode_labels(["happy"])
    with torch.no_grad():
        _, a = sharp.render(x, moved, labels, points)
        _, b = smooth.render(x, moved, labels, points)
    assert torch.equal(a["flow"], b["flow"]) and torch.equal(a["mask"], b["mask"])
    assert b["colours"].diff(dim=-1).abs().mean() < a["colours"].diff(dim=-1).abs().mean()
    with pytest.raises(ValueError, match="colour_smoothing must be a blur of 0..4 crop pixels"):
        small_config(64, colour_smoothing=-1.0)
