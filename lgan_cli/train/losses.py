"""LandmarkGAN's losses (paper Eq. 3-9) as plain functions returning (loss, scalars).

Discriminators output logits; the paper's Sigmoid + BCE is computed as BCE-with-logits
(the same function, numerically stable, safe under mixed precision). With dual
discriminators every term is summed over both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lgan_cli.pixels import PIXEL_SCALE  # images are in [-1, 1]; Eq. 7 is applied to differences in 8-bit grey levels


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def discriminator_half_loss(logits: list[torch.Tensor], real: bool) -> torch.Tensor:
    """One half of L(D): 1/2 BCE(D(real), 1) or 1/2 BCE(D(fake), 0), summed over the discriminators."""
    return sum(0.5 * _bce(item, real) for item in logits)


def discriminator_stats(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor], name: str) -> dict:
    """Each discriminator's loss and how often it is right on real and on fake inputs."""
    stats = {}
    for index, (real, fake) in enumerate(zip(real_logits, fake_logits)):
        real, fake = real.detach(), fake.detach()
        stats[f"{name}{index}"] = 0.5 * (_bce(real, True) + _bce(fake, False))
        stats[f"{name}{index}_real_acc"] = (real > 0).float().mean()
        stats[f"{name}{index}_fake_acc"] = (fake < 0).float().mean()
    return stats


def generator_adversarial_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """The generator's side of Eq. 3 / 6 (non-saturating): BCE(D(fake), 1), summed over discriminators."""
    return sum(_bce(logits, True) for logits in fake_logits)


def landmark_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 4: mean over the 68 points (and the batch) of the Euclidean distance, in crop pixels."""
    return torch.sqrt(((predicted - target) ** 2).sum(dim=-1) + 1e-12).mean()


def l12_elementwise(difference: torch.Tensor) -> torch.Tensor:
    """Eq. 7 per element: 0.5 d^2 where |d| < 1, |d| - 0.5 elsewhere."""
    absolute = difference.abs()
    return torch.where(absolute < 1, 0.5 * difference**2, absolute - 0.5)


def reconstruction_loss(fake: torch.Tensor, real: torch.Tensor, kind: str = "l12") -> torch.Tensor:
    """Eq. 7 and its L1 / L2 alternatives (Table I), on images in [-1, 1].

    The difference is measured in 8-bit grey levels (d = 127.5 * (fake - real)), where
    "|d| < 1" means "less than one grey level", and the mean is divided by 127.5 so the
    loss is on the scale of an L1 loss on [-1, 1] images (pix2pix's, whose weight is 100).
    L1,2 is thus L1 for visible errors and quadratic only below one grey level.
    """
    difference = fake - real
    if kind == "l12":
        return l12_elementwise(difference * PIXEL_SCALE).mean() / PIXEL_SCALE
    if kind == "l1":
        return difference.abs().mean()
    if kind == "l2":
        return (difference**2).mean()
    raise ValueError(f"reconstruction loss must be l1, l2 or l12, not {kind!r}")


def identity_loss(fake_descriptors: torch.Tensor, real_descriptors: torch.Tensor) -> torch.Tensor:
    """Eq. 8: L1 distance ||F(y) - F(G(x))||_1 between identity descriptors, averaged over the batch."""
    return (fake_descriptors - real_descriptors).abs().sum(dim=1).mean()


def stage1_loss(
    fake_logits: list[torch.Tensor],
    predicted_points: torch.Tensor,
    target_points: torch.Tensor,
    lambda1: float = 2.0,
    use_landmark_loss: bool = True,
) -> tuple[torch.Tensor, dict]:
    """Eq. 5: L_1 = L_cGAN(G_l, D_l) + lambda1 * L_landmark(G_l)."""
    adversarial = generator_adversarial_loss(fake_logits)
    landmark = landmark_loss(predicted_points, target_points)
    total = adversarial + (lambda1 * landmark if use_landmark_loss else 0.0)
    return total, {"G_l_adv": adversarial.detach(), "G_l_landmark": landmark.detach(), "G_l": total.detach()}


def stage2_loss(
    fake_logits: list[torch.Tensor],
    fake: torch.Tensor,
    real: torch.Tensor,
    fake_descriptors: torch.Tensor | None,
    real_descriptors: torch.Tensor | None,
    lambda2: float = 100.0,
    lambda3: float = 0.1,
    reconstruction: str = "l12",
) -> tuple[torch.Tensor, dict]:
    """Eq. 9: L_2 = L_LGAN(G_e, D_e) + lambda2 * L_L1,2(G_e) + lambda3 * L_identity(G_e).

    Pass descriptors as None to train without the identity loss (ablation).
    """
    adversarial = generator_adversarial_loss(fake_logits)
    recon = reconstruction_loss(fake, real, reconstruction)
    total = adversarial + lambda2 * recon
    stats = {"G_e_adv": adversarial.detach(), "G_e_recon": recon.detach()}
    if fake_descriptors is not None and real_descriptors is not None:
        identity = identity_loss(fake_descriptors, real_descriptors)
        total = total + lambda3 * identity
        stats["G_e_identity"] = identity.detach()
    stats["G_e"] = total.detach()
    return total, stats


def total_variation(field: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of a (B, H, W[, C]) field."""
    if field.dim() == 3:
        field = field[..., None]
    return (field[:, 1:] - field[:, :-1]).abs().mean() + (field[:, :, 1:] - field[:, :, :-1]).abs().mean()


def warp_regularisers(
    rendering: dict[str, torch.Tensor], flow_smoothness: float, mask_sparsity: float, mask_smoothness: float
) -> tuple[torch.Tensor, dict]:
    """The warp renderer's priors (GANimation's attention losses, and a smooth flow):

    - flow smoothness: total variation of the learned residual flow (pixels), so it corrects
      the prior smoothly instead of tearing the photo;
    - mask sparsity: the mean of m, so pixels are synthesised only where moving the photo's
      own pixels cannot explain the target (unregularised masks saturate, GANimation's users
      report);
    - mask smoothness: total variation of m, so what is synthesised comes in whole regions.
    """
    flow_tv = total_variation(rendering["residual_flow"])
    mask_mean = rendering["mask"].mean()
    mask_tv = total_variation(rendering["mask"])
    total = flow_smoothness * flow_tv + mask_sparsity * mask_mean + mask_smoothness * mask_tv
    return total, {"flow_tv": flow_tv.detach(), "mask_mean": mask_mean.detach(), "mask_tv": mask_tv.detach()}


def painted_reconstruction(mask: torch.Tensor, colours: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 between the synthesised colours (B, 3, S, S) and the real target where `mask` (B, S, S)
    says paint, averaged over the painted area (not the crop): a small mouth weighs as much as a
    large one."""
    painted = mask.sum() * real.shape[1]
    return (mask[:, None] * (colours - real).abs()).sum() / painted.clamp_min(1.0)
