"""LandmarkGAN's discriminators: D_l on landmark images, D_e on (image, input) pairs.

Each is a set of PatchGANs with different receptive fields (the paper's dual
discriminators, Sec. III-C: if one becomes far stronger than the generator, the other still
gives useful gradients); all their outputs feed the generator loss.
"""

from __future__ import annotations

import torch
from torch import nn

from lgan_cli.models.blocks import PatchDiscriminator, init_weights
from lgan_cli.models.config import ModelConfig


class MultiPatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, width: int, layers: tuple[int, ...]):
        super().__init__()
        self.discriminators = nn.ModuleList(PatchDiscriminator(in_channels, width, n) for n in layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [d(x) for d in self.discriminators]


class Discriminators(nn.Module):
    """D_l (3 channels: a landmark image) and D_e (6 channels: output or target, and the input)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.d_l = MultiPatchDiscriminator(3, config.discriminator_width, config.discriminator_layers)
        self.d_e = MultiPatchDiscriminator(6, config.discriminator_width, config.discriminator_layers)
