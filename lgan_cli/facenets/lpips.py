"""LPIPS v0.1 with the AlexNet trunk (Zhang et al. 2018), in plain torch without torchvision.

This reproduces `lpips.LPIPS(net='alex', version='0.1')(x, y)` of the official package:
shift/scale the [-1, 1] input to ImageNet statistics, take AlexNet's relu1..relu5
activations for both images, unit-normalise every spatial feature vector over channels,
square the difference, weight the channels with the learned 1x1 heads (no bias), average
over space and sum over the five layers. Weights: `weights/lpips_alex.safetensors`, built
by `scripts/convert_lpips.py` (the official heads bit for bit, plus torchvision's ImageNet
AlexNet conv layers).

The network is frozen (no parameter needs a gradient) but differentiable with respect to
its inputs, so it can serve both as a metric and as a perceptual loss.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from lgan_cli.assets import local_file

WEIGHTS_NAME = "lpips_alex.safetensors"
WEIGHTS_SHA256 = "af39c3747b34145fb65dc243fd843f9152dd404cd7d1ba2ebb416876ba6d6fab"
FETCH_HINT = "python scripts/convert_lpips.py"

# The official ScalingLayer: maps [-1, 1] RGB to roughly ImageNet-normalised values.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
CHANNELS = (64, 192, 384, 256, 256)
MIN_SIZE = 32  # smaller inputs leave nothing for AlexNet's second max-pool


class AlexNetFeatures(nn.Module):
    """torchvision's AlexNet `features` up to relu5 (no final max-pool, no classifier)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2)
        self.conv2 = nn.Conv2d(64, 192, kernel_size=5, padding=2)
        self.conv3 = nn.Conv2d(192, 384, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(384, 256, kernel_size=3, padding=1)
        self.conv5 = nn.Conv2d(256, 256, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        relu1 = F.relu(self.conv1(x))
        relu2 = F.relu(self.conv2(F.max_pool2d(relu1, kernel_size=3, stride=2)))
        relu3 = F.relu(self.conv3(F.max_pool2d(relu2, kernel_size=3, stride=2)))
        relu4 = F.relu(self.conv4(relu3))
        relu5 = F.relu(self.conv5(relu4))
        return [relu1, relu2, relu3, relu4, relu5]


def normalize_channels(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Unit length over channels at every position, with the official eps outside the sqrt."""
    norm = torch.sqrt(torch.sum(features**2, dim=1, keepdim=True))
    return features / (norm + eps)


class LPIPS(nn.Module):
    """Learned perceptual distance; forward(x, y) on (B, 3, H, W) in [-1, 1] returns (B,)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.features = AlexNetFeatures()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in CHANNELS)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"LPIPS needs two (B, 3, H, W) batches of one shape, got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if min(x.shape[-2:]) < MIN_SIZE:
            raise ValueError(f"LPIPS needs images of at least {MIN_SIZE}x{MIN_SIZE}, got {tuple(x.shape[-2:])}")
        # one pass over both images: half the kernel launches, same numbers
        features = self.features((torch.cat([x, y]) - self.shift) / self.scale)
        total = x.new_zeros(x.shape[0])
        for lin, layer in zip(self.lins, features):
            fx, fy = normalize_channels(layer).chunk(2)
            total = total + lin((fx - fy) ** 2).mean(dim=(1, 2, 3))
        return total


def lpips_weights_path() -> Path:
    """The sha256-checked file (no download fallback: it is our own conversion, built by FETCH_HINT)."""
    return local_file(WEIGHTS_NAME, WEIGHTS_SHA256, FETCH_HINT)


def load_lpips(device: torch.device | str = "cpu", path: str | os.PathLike[str] | None = None) -> LPIPS:
    """A frozen LPIPS (AlexNet, v0.1) on `device`, in eval mode, gradients off for its weights."""
    model = LPIPS()
    state = load_file(str(path if path is not None else lpips_weights_path()))
    model.load_state_dict(state, strict=True)
    model.requires_grad_(False)
    return model.eval().to(device)
