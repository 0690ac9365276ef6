"""The pix2pix building blocks the paper uses (Sec. III-C): U-Net encoder/decoder and PatchGAN.

U-Net: 4x4 convolutions with stride 2; BatchNorm everywhere except the first encoder layer;
LeakyReLU(0.2) in the encoder, ReLU in the decoder; dropout 0.5 in the first three decoder
blocks (the only source of noise, as in pix2pix); Tanh output. The encoder halves the size
down to 1 x 1, so an S x S input (S a power of two, 64..512) has log2(S) levels.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def check_size(size: int) -> int:
    """Levels of a U-Net for an S x S input; S must be a power of two in 64..512."""
    levels = int(round(math.log2(size))) if size > 0 else 0
    if 2**levels != size or not 64 <= size <= 512:
        raise ValueError(f"image size must be a power of two between 64 and 512, got {size}")
    return levels


def level_widths(levels: int, base: int, max_mult: int = 8) -> list[int]:
    """Channel widths per encoder level: base, 2*base, 4*base, 8*base, 8*base, ... (pix2pix)."""
    return [base * min(2**i, max_mult) for i in range(levels)]


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix initialisation: N(0, 0.02) for convolutions and linear layers, N(1, 0.02) for BatchNorm."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, gain)
            nn.init.zeros_(layer.bias)


class UNetEncoder(nn.Module):
    """Downsampling path; returns every level's activation (the skips), the last being 1 x 1."""

    def __init__(self, in_channels: int, size: int, base: int = 64, max_mult: int = 8):
        super().__init__()
        widths = level_widths(check_size(size), base, max_mult)
        self.widths = widths
        layers = []
        previous = in_channels
        for index, width in enumerate(widths):
            innermost = index == len(widths) - 1
            block = [nn.Conv2d(previous, width, 4, 2, 1, bias=index == 0 or innermost)]
            if 0 < index and not innermost:  # no norm on the first layer, nor on the 1 x 1 bottleneck
                block.append(nn.BatchNorm2d(width))
            layers.append(nn.Sequential(*block))
            previous = width
        self.levels = nn.ModuleList(layers)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for index, level in enumerate(self.levels):
            x = level(x if index == 0 else self.act(x))
            features.append(x)
        return features


class UNetDecoder(nn.Module):
    """Upsampling path with skip connections; dropout in the first three blocks; Tanh output."""

    def __init__(self, widths: list[int], out_channels: int, dropout_blocks: int = 3):
        super().__init__()
        blocks = []
        reversed_widths = widths[::-1]
        for index, width in enumerate(reversed_widths[:-1]):
            skip = 0 if index == 0 else reversed_widths[index]
            in_channels = width + skip
            out = reversed_widths[index + 1]
            block = [nn.ReLU(), nn.ConvTranspose2d(in_channels, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out)]
            if index < dropout_blocks:
                block.append(nn.Dropout(0.5))
            blocks.append(nn.Sequential(*block))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(widths[0] * 2, out_channels, 4, 2, 1), nn.Tanh())

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        skips = features[::-1]
        x = skips[0]
        for index, block in enumerate(self.blocks):
            x = block(x if index == 0 else torch.cat([x, skips[index]], dim=1))
        return self.head(torch.cat([x, skips[-1]], dim=1))


class PatchDiscriminator(nn.Module):
    """PatchGAN: a grid of real/fake logits, one per receptive-field patch.

    `layers=3` gives the paper's 70 x 70 receptive field; `layers=2` gives 34 x 34. The
    paper's final Sigmoid is folded into the loss (binary cross-entropy with logits), which
    is the same function but numerically stable, also under mixed precision.
    """

    def __init__(self, in_channels: int, base: int = 64, layers: int = 3):
        super().__init__()
        model = [nn.Conv2d(in_channels, base, 4, 2, 1), nn.LeakyReLU(0.2)]
        width = base
        for index in range(1, layers + 1):
            previous, width = width, base * min(2**index, 8)
            stride = 2 if index < layers else 1
            model += [nn.Conv2d(previous, width, 4, stride, 1, bias=False), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
        model.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
